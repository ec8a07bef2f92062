"""The Chinese catalogues: extract the English messages, report and update translations.

    python scripts/translations.py extract            # _build/gettext/<page>.pot, ~20 s
    python scripts/translations.py status [--min 95]  # extract, then per page: done, stale, new
    python scripts/translations.py update             # extract, then merge into the .po files
    python scripts/translations.py lint               # markup kept in every translation
    python scripts/translations.py html               # the Chinese site, _build/html/zh
    python scripts/translations.py singlehtml         # the Chinese book as one page, for its PDF
    python scripts/translations.py checks             # the checkers' messages, merged

Sphinx's gettext builder cuts every page (book/*.md) and every notebook's Markdown into
messages: a paragraph, a heading, a list item, a table cell, a figure's caption or alt
text, each one line of MyST. The translations live in ``locales/zh_CN/LC_MESSAGES/``, one
catalogue per page, as gettext ``.po`` files (``msgid`` English, ``msgstr`` Chinese).
The instructor's rubrics (:data:`INSTRUCTOR_PAGES`), which are not pages of the website,
are cut the same way and kept alongside (``instructor/*.po``): ``make assignments-zh``
writes them in Chinese.

``status`` compares freshly extracted templates with the committed catalogues in memory,
with the fuzzy matching of ``update`` (babel's ``Catalog.update``, what sphinx-intl uses):
a message is *done* if it has a translation of its current English, *stale* if it has
one of an earlier English (the paragraph changed since), *new* if it has none. Messages
without a word outside maths, roles and URLs (display maths, numbers, § references) are
*exempt*: English is their translation. A page is up to date by the share of done and
exempt messages; ``--min`` makes ``status`` fail below a percentage. ``update`` writes
the merged catalogues, stale messages marked fuzzy with their previous English beside
them, for a translator to revise. ``lint`` checks that every translation keeps what the
English's markup needs verbatim (see :func:`problems`). ``html`` builds the Chinese
website into ``_build/html/zh/`` from the same sources and ``_config.yml``, after the
English one (``book/_ext/i18n.py`` explains what that takes); ``singlehtml`` builds the
Chinese book as one page into ``_build/singlehtml-zh/``, which ``scripts/book_pdf.py
--language zh_CN`` prints to the Chinese site's PDF (``make pdf`` runs both). ``checks``
extracts the message templates of the exercise checkers (every ``_(...)`` and ``N_(...)``
of ``src/lmbook/checks/``, see :mod:`lmbook.checks.messages`) and merges them into the
package's catalogues, ``src/lmbook/checks/locale/zh_CN/<module>.po``, the same way.
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parents[1]
LOCALE = ROOT / "locales" / "zh_CN" / "LC_MESSAGES"
TEMPLATES = ROOT / "_build" / "gettext"
CHECKERS = ROOT / "src" / "lmbook" / "checks"
CHECKER_LOCALE = CHECKERS / "locale" / "zh_CN"
PROJECT = "Large Models: From Neurons to Business"
TITLE = "大模型：从神经元到商业"
WORD = re.compile(r"[A-Za-z]{2,}")
MATH = re.compile(r"(?<![\\$])\$(?!\$)(?:[^$\\]|\\.)+?\$")
ROLE = re.compile(r"\{(cite(?::[a-z]+)?|ref|doc|numref|term|eq)\}`([^`]*)`")
CODE = re.compile(r"(?<![}`])`([^`]+)`")
LINK = re.compile(r"\]\(([^)\s]+)\)")
TEXT = re.compile(r"\\text\{[^{}]*\}")
NUMBERED_TITLE = re.compile(r"^\d+\. ")
BLOCK_START = re.compile(r"^(?:[-+*>#|] |\d+[.)] )")
# Instructor-only Markdown that make assignments-zh writes in Chinese: translated like a page.
INSTRUCTOR_PAGES = ("instructor/rubrics.md", "instructor/project-rubric.md")
NOT_WORDS = re.compile(r"\$\$.*?\$\$|\$[^$]*\$|\{[a-z:]+\}`[^`]*`|https?://\S+", re.S)


def exempt(msgid: str) -> bool:
    """A message with no word to translate: display maths, numbers, roles, URLs."""
    return msgid.startswith("\n") or not WORD.search(NOT_WORDS.sub("", msgid))


def _roles(text: str) -> Counter:
    """Each role's name and target; a {ref}'s text may be translated, its <label> not."""
    found = Counter()
    for name, body in ROLE.findall(text):
        label = re.search(r"<([^>]+)>\s*$", body) if name == "ref" else None
        found[name, label.group(1) if label else body] += 1
    return found


def problems(msgid: str, msgstr: str) -> list[str]:
    """What a translation breaks of the English's markup; empty if nothing.

    Inline maths, code, roles and link targets must come through verbatim (a role or a
    link may move within the sentence); a title "N. ..." must be written "N\\. ...",
    which Markdown does not read as a list (Sphinx would keep the English, silently);
    a translation may not start a list, quote or heading the English does not start;
    and no ``**`` may survive rendering, as it does when bold ends in Chinese punctuation
    (“**…**”, not **“…”**). Display maths (a message of TeX alone) may change only the
    words of its ``\\text{...}``.
    """
    from markdown_it import MarkdownIt

    if not msgstr:
        return []
    found = []
    if exempt(msgid) and "\\" in msgid and TEXT.sub("", msgid) != TEXT.sub("", msgstr):
        found.append("display maths changed outside its \\text{...}")
    if Counter(MATH.findall(msgid)) != Counter(MATH.findall(msgstr)):
        found.append("inline maths differ from the English")
    if _roles(msgid) != _roles(msgstr):
        found.append("roles ({cite}, {ref} labels) differ from the English")

    def codes(text: str) -> Counter:
        return Counter(CODE.findall(ROLE.sub("", MATH.sub("", text))))

    if codes(msgid) != codes(msgstr):
        found.append("code spans differ from the English")
    if Counter(LINK.findall(msgid)) != Counter(LINK.findall(msgstr)):
        found.append("link targets differ from the English")
    if NUMBERED_TITLE.match(msgid) and not re.match(r"^\d+\\\. ", msgstr):
        found.append("a numbered title must be written 'N\\. ...'")
    if BLOCK_START.match(msgstr) and not BLOCK_START.match(msgid):
        found.append("the translation starts a list, quote or heading")
    rendered = MarkdownIt("commonmark").renderInline(MATH.sub("M", ROLE.sub("R", msgstr)))
    if "**" in re.sub(r"<code>.*?</code>", "", rendered):
        found.append("** left after rendering")
    return found


def build(builder: str, out: Path, doctrees: Path, **overrides) -> Path:
    """Build the book with ``builder`` into ``out``, as ``jupyter-book build`` does (its
    CLI has no way to set Sphinx's ``language``; its ``build_sphinx`` has)."""
    from jupyter_book.sphinx import build_sphinx

    result = build_sphinx(
        ROOT,
        out,
        noconfig=True,
        path_config=str(ROOT / "_config.yml"),
        confoverrides={"latex_individualpages": False, **overrides},
        doctreedir=doctrees,
        builder=builder,
        warningiserror=True,
        keep_going=True,
    )
    if result not in (0, None):
        raise RuntimeError(f"the {builder} build failed ({result})")
    return out


def extract(out: Path = TEMPLATES, doctrees: Path | None = None) -> Path:
    """Run Sphinx's gettext builder over the book: one ``.pot`` per page in ``out``; then
    the same for the instructor's rubrics, which are not pages of the website."""
    build("gettext", out, doctrees or ROOT / "_build" / ".doctrees-gettext")
    for page in INSTRUCTOR_PAGES:
        path = (out / page).with_suffix(".pot")
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as handle:
            write_po(handle, markdown_template(page), width=None)
    return out


def markdown_template(page: str) -> Catalog:
    """The messages of a Markdown file outside the website, ``page`` (relative to the
    repository), cut into blocks as the build cuts a page: scripts/zh_notebooks.py's
    :func:`~zh_notebooks.translate_blocks`, which also writes its translation."""
    import zh_notebooks  # scripts/, beside this file; it does not import this module

    template = Catalog(project=PROJECT, version="")

    def record(msgid: str) -> str:
        template.add(msgid, locations=[(page, None)])
        return msgid

    text = (ROOT / page).read_text(encoding="utf-8")
    zh_notebooks.translate_blocks(text, record, page.removesuffix(".md"), chinese=False)
    return template


def html(out: Path = ROOT / "_build" / "html" / "zh") -> Path:
    """The Chinese website, in a folder of the English one so that each page's switch
    links to the same page of the other edition by a relative path."""
    return build(
        "html",
        out,
        ROOT / "_build" / ".doctrees-zh",
        language="zh_CN",
        html_title=TITLE,
    )


def singlehtml(out: Path = ROOT / "_build" / "singlehtml-zh") -> Path:
    """The Chinese book as one page, which ``scripts/book_pdf.py --language zh_CN`` prints."""
    return build(
        "singlehtml",
        out,
        ROOT / "_build" / ".doctrees-zh",  # the Chinese website's: not read again
        language="zh_CN",
        html_title=TITLE,
    )


def read(path: Path) -> Catalog:
    """A catalogue, without translator comments: these catalogues have none, and babel
    reads the wrapped lines of a fuzzy message's previous English (``#|``) back as such
    comments, which a later write would keep."""
    with path.open("rb") as handle:
        catalogue = read_po(handle)
    for message in catalogue:
        message.user_comments = []
    return catalogue


def merged(template: Path, templates: Path = TEMPLATES, locale: Path = LOCALE) -> Catalog:
    """The page's catalogue updated to ``template``, in memory."""
    page = template.relative_to(templates).with_suffix(".po")
    if not (locale / page).exists():
        return read(template)
    catalogue = read(locale / page)
    catalogue.update(read(template))
    return catalogue


@dataclass
class PageStatus:
    page: str
    done: int = 0
    stale: int = 0
    new: int = 0
    exempt: int = 0

    @property
    def messages(self) -> int:
        return self.done + self.stale + self.new + self.exempt

    @property
    def share(self) -> float:
        """Percentage of messages whose translation is current (or not needed)."""
        return 100.0 * (self.done + self.exempt) / self.messages if self.messages else 100.0


def status(templates: Path = TEMPLATES, locale: Path = LOCALE) -> list[PageStatus]:
    rows = []
    for template in sorted(templates.rglob("*.pot")):
        row = PageStatus(str(template.relative_to(templates).with_suffix("")))
        for message in merged(template, templates, locale):
            if not message.id:
                continue
            if exempt(message.id):
                row.exempt += 1
            elif message.string and not message.fuzzy:
                row.done += 1
            elif message.string:
                row.stale += 1
            else:
                row.new += 1
        rows.append(row)
    return rows


def without_stale_comments(catalogue: Catalog) -> Catalog:
    """``catalogue`` without what babel reads back as comments from the previous English
    it wrote beside a fuzzy message (``#| msgid`` over several lines), which would
    otherwise pile up as ``# |`` comments each time the catalogue is rewritten."""
    for message in catalogue:
        message.user_comments = [c for c in message.user_comments if not c.startswith("|")]
        if not message.fuzzy:
            message.previous_id = []
    return catalogue


def write(catalogue: Catalog, path: Path, what: str, command: str) -> None:
    """Write ``catalogue`` to ``path`` with the course's header, saying it holds ``what``
    and is made by ``translations.py{command}``."""
    catalogue.locale = "zh_CN"
    catalogue.fuzzy = False  # the header: the catalogue as a whole is in use
    catalogue.project, catalogue.version = PROJECT, ""
    catalogue.last_translator = catalogue.language_team = "the course's translators"
    catalogue.header_comment = (
        f"# {PROJECT}: {what}.\n"
        f"# Made with scripts/translations.py{command} (README, 'The Chinese edition').\n#"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    written = path.with_suffix(".po.new")
    with written.open("wb") as handle:
        # One line per message: readable diffs, and babel wraps previous ids badly.
        write_po(handle, catalogue, width=None, include_previous=True)
    written.replace(path)  # only a complete catalogue replaces the old one


def update(templates: Path = TEMPLATES, locale: Path = LOCALE) -> None:
    for template in sorted(templates.rglob("*.pot")):
        path = locale / template.relative_to(templates).with_suffix(".po")
        catalogue = without_stale_comments(merged(template, templates, locale))
        write(catalogue, path, f"the Chinese translation of {template.stem}", "")


def checker_templates(module: Path) -> Catalog:
    """The message templates of one checker module: the string literal that every
    call of ``_`` or ``N_`` in it starts with.
    """
    template = Catalog(project=PROJECT, version="")
    calls = sorted(
        (node for node in ast.walk(ast.parse(module.read_text(encoding="utf-8")))),
        key=lambda node: getattr(node, "lineno", 0),
    )
    for node in calls:
        if not (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ("_", "N_")
        ):
            continue
        first = node.args[0] if node.args else None
        if isinstance(first, ast.JoinedStr) or (node.func.id == "N_" and first is None):
            raise ValueError(
                f"{module.name}:{node.lineno}: {node.func.id}() takes a template with "
                "{placeholders} and the values as keywords, not an f-string"
            )
        if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
            continue  # _(hint.concept): a template marked with N_ where it is defined
        template.add(first.value, locations=[(module.name, None)])
    return template


def update_checkers(modules: Path = CHECKERS, locale: Path = CHECKER_LOCALE) -> list[Path]:
    """Merge every checker module's templates into its catalogue; the paths written."""
    written = []
    for module in sorted(modules.glob("*.py")):
        template = checker_templates(module)
        path = locale / module.with_suffix(".po").name
        if not len(template):
            path.unlink(missing_ok=True)
            continue
        catalogue = read(path) if path.exists() else Catalog(locale="zh_CN")
        created = catalogue.creation_date if path.exists() else template.creation_date
        catalogue.update(template)
        without_stale_comments(catalogue)
        catalogue.creation_date = created  # no change where no message changed
        write(catalogue, path, f"the Chinese messages of lmbook.checks.{module.stem}", " checks")
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument(
        "command", choices=["extract", "status", "update", "lint", "html", "singlehtml", "checks"]
    )
    parser.add_argument("--min", type=float, default=0.0, help="fail below this percentage")
    args = parser.parse_args(argv)
    if args.command == "extract":
        print(f"templates in {extract()}")
        return 0
    if args.command == "html":
        print(f"the Chinese website is in {html()}")
        return 0
    if args.command == "singlehtml":
        print(f"the Chinese book as one page is in {singlehtml()}")
        return 0
    if args.command == "checks":
        for path in update_checkers():
            print(f"updated {path.relative_to(ROOT)}")
        return 0
    if args.command == "lint":
        count = 0
        for path in sorted(LOCALE.rglob("*.po")):
            for message in read(path):
                if not message.id or message.fuzzy:
                    continue
                for problem in problems(message.id, message.string):
                    count += 1
                    print(f"{path.relative_to(LOCALE)}:{message.lineno}: {problem}")
        print(f"{count} problems")
        return 1 if count else 0
    extract()  # the English as it is now, so that a changed paragraph counts as stale
    if args.command == "update":
        update()
        print(f"catalogues updated in {LOCALE}")
        return 0
    rows = status()
    print(f"{'page':48} {'msgs':>5} {'done':>5} {'stale':>5} {'new':>5} {'exempt':>6} {'%':>6}")
    for row in [*rows, PageStatus("TOTAL")]:
        if row.page == "TOTAL":
            for name in ("done", "stale", "new", "exempt"):
                setattr(row, name, sum(getattr(r, name) for r in rows))
        print(
            f"{row.page:48} {row.messages:5} {row.done:5} {row.stale:5} {row.new:5} "
            f"{row.exempt:6} {row.share:5.1f}%"
        )
    below = [row.page for row in rows if row.share < args.min]
    if below:
        print(f"below {args.min:g}%: {', '.join(below)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
