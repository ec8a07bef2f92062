"""The Chinese notebooks, notebooks/zh/*.ipynb, from the English ones and the catalogues.

    python scripts/zh_notebooks.py            # write notebooks/zh/ (make execute does too)
    python scripts/zh_notebooks.py --check    # exit 1 if a committed one is out of date

The website's Chinese pages are built from the English notebooks and
``locales/zh_CN/LC_MESSAGES/notebooks/*.po``. Colab and a classroom need notebooks, so
this writes the same translation into a notebook per chapter:

- Every Markdown cell is cut into the blocks that the website's build makes messages of
  (headings, paragraphs, list items, table cells, a solution's summary and body, a
  figure's caption), with the markdown-it parser that myst-parser builds from
  ``_config.yml``. Each block's message is computed as the build computes it
  (``plain_notebooks.to_myst``: citations become roles, links to other chapters
  relative paths, links to the book's pages ``{ref}``), looked up in the catalogue, and
  its translation turned back into the notebooks' plain Markdown (:func:`from_myst`),
  with links to chapters and pages pointing into the Chinese edition: a chapter's Colab
  address opens ``notebooks/zh/``, a page is the Chinese website's.
- Code cells are the English notebook's, but for one line: the cell that imports
  ``lmbook.checks`` also calls ``checks.set_language("zh_CN")``, so that the exercise
  checkers answer in Chinese (:mod:`lmbook.checks.messages`). Image alt texts are
  translated.
- Outputs are the Chinese notebook's own, from executing it top to bottom with the
  project's command (``make execute`` and ``make execute-all`` run
  scripts/execute_notebook.py on ``notebooks/zh/`` after this script). This script keeps
  a committed Chinese notebook's outputs while its code is unchanged, since Markdown
  does not change what a cell prints; when the code changed, it writes the notebook
  without outputs, to be executed. tests/tools/test_zh_notebooks.py checks that every
  cell was executed in order, that the checkers confirmed in Chinese, and that every
  other output matches the English notebook's within nbval's tolerances.

:func:`chinese_notebook` with an identity catalogue gives back the English notebook cell
for cell (tests/tools/test_zh_notebooks.py checks it for every chapter): the round trip
through the website's messages loses nothing.
"""

from __future__ import annotations

import argparse
import ast
import copy
import json
import posixpath
import re
import sys
from collections.abc import Callable
from functools import cache
from pathlib import Path

import yaml
from babel.messages.pofile import read_po
from markdown_it import MarkdownIt
from markdown_it.renderer import RendererHTML
from myst_parser.config.main import MdParserConfig
from myst_parser.parsers.mdit import create_md_parser

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "book" / "_ext"))
import plain_notebooks  # noqa: E402  book/_ext/

NOTEBOOKS = ROOT / "notebooks"
OUT = NOTEBOOKS / "zh"
CATALOGUES = ROOT / "locales" / "zh_CN" / "LC_MESSAGES"
CAPTION = "**图**："
LANGUAGE_LINE = 'checks.set_language("zh_CN")  # 练习检查器的提示和信息用中文'
IMPORTS_CHECKS = re.compile(r"^from lmbook import [^\n]*\bchecks\b[^\n]*$", re.M)
CALLS_CHECKS = re.compile(r"\bchecks\.\w+\(")
TARGET = re.compile(r"\]\((?P<target>[^()\s]+)\)")
CITE = re.compile(r"\{cite:(?P<role>p|alp|t)\}`(?P<keys>[^`]+)`")
REF = re.compile(r"\{ref\}`(?P<text>[^`<]+?) <(?P<label>[^>]+)>`")

Translate = Callable[[str], str]


@cache
def settings() -> tuple[str, str, MarkdownIt]:
    """The Colab address of the repository's root, the website's and the Markdown parser,
    all from ``_config.yml``."""
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    repository = config["repository"]
    parts = [
        repository["url"].removeprefix("https://github.com/").rstrip("/"),
        "blob",
        repository.get("branch") or "main",
        (repository.get("path_to_book") or "").strip("/"),
    ]
    colab = plain_notebooks.COLAB + "/".join(part for part in parts if part) + "/"
    baseurl = config["html"]["baseurl"].rstrip("/") + "/"
    extensions = set(config["parse"]["myst_enable_extensions"])
    anchors = config["sphinx"]["config"]["myst_heading_anchors"]
    parser = create_md_parser(
        MdParserConfig(enable_extensions=extensions, heading_anchors=anchors), RendererHTML
    )
    return colab, baseurl, parser


@cache
def labels() -> dict[str, str]:
    """The book's MyST targets, ``(label)=``, and the page of each."""
    found = {}
    for page in sorted((ROOT / "book").glob("*.md")):
        for label in re.findall(r"^\((\S+)\)=\s*$", page.read_text(encoding="utf-8"), re.M):
            found[label] = f"book/{page.stem}"
    return found


def message(inline: str, docname: str) -> str:
    """The website's message for one block's inline source, as the build makes it."""
    colab, baseurl, _parser = settings()
    return plain_notebooks.to_myst(inline, docname, colab, [], baseurl).replace("\n", " ").strip()


def from_myst(text: str, docname: str, chinese: bool) -> str:
    """One message back in the notebooks' plain Markdown, linking into the Chinese
    edition if ``chinese``: the inverse of ``plain_notebooks.to_myst``."""
    colab, baseurl, _parser = settings()
    site, folder = baseurl + ("zh/" if chinese else ""), "notebooks/" + ("zh/" if chinese else "")

    def cite(match: re.Match) -> str:
        keys = match["keys"].split(",")
        if match["role"] == "t":
            return ", ".join(plain_notebooks.cite_markdown([key], "t") for key in keys)
        return plain_notebooks.cite_markdown(keys, match["role"])

    def ref(match: re.Match) -> str:
        page = labels()[match["label"]]
        return f"[{match['text']}]({site}{page}.html#{match['label']})"

    def link(match: re.Match) -> str:
        target = match["target"]
        if re.match(r"^(?:[a-z]+:|#)", target):
            return match.group(0)
        path, _hash, anchor = target.partition("#")
        anchor = "#" + anchor if anchor else ""
        path = posixpath.normpath(posixpath.join(posixpath.dirname(docname), path))
        if path.endswith(".ipynb"):
            return f"]({colab}{folder}{posixpath.basename(path)}{anchor})"
        if path.endswith(".md"):
            return f"]({site}{path[:-3]}.html{anchor})"
        return match.group(0)

    text = TARGET.sub(link, REF.sub(ref, CITE.sub(cite, text)))
    if chinese:  # the chapter's own "Open in Colab" link, which to_myst keeps as it is
        text = re.sub(re.escape(colab + "notebooks/") + r"(?!zh/)", colab + folder, text)
    return text


def translate_blocks(
    text: str, translate: Translate, docname: str, chinese: bool, rewrap: bool = False
) -> str:
    """A Markdown cell with each block's text replaced by its translation, on one line.

    A block without a translation keeps its lines, unless ``rewrap`` (a test of the
    round trip of whole blocks)."""
    details = plain_notebooks.DETAILS.match(text)
    if details:
        body = translate_blocks(details["body"], translate, docname, chinese, rewrap)
        return f"<details>\n<summary>{translate('Solution')}</summary>\n\n{body}\n\n</details>"
    lines = text.split("\n")
    blocks: dict[int, tuple[int, str]] = {}  # first line: (line after the block, new text)
    cells: dict[int, list[tuple[str, str]]] = {}  # a table row's line: its cells' texts
    tokens = settings()[2].parse(text)
    for index, token in enumerate(tokens):
        if token.type in ("math_block", "amsmath") and token.map:
            # Display maths is its own message, its TeX as is: a translation changes
            # only the words of its \text{...}.
            translated = translate(token.content)
            if translated != token.content:
                start, end = token.map
                indent = lines[start][: len(lines[start]) - len(lines[start].lstrip())]
                fence = token.markup if token.type == "math_block" else ""
                new = (fence + translated + fence).split("\n")
                blocks[start] = (end, "\n".join(indent + line for line in new))
            continue
        if token.type != "inline" or not token.map:
            continue
        parent = tokens[index - 1].type
        msgid = message(token.content, docname)
        translated = translate(msgid)
        if parent in ("th_open", "td_open"):
            new = from_myst(translated, docname, chinese)
            cells.setdefault(token.map[0], []).append((token.content, new))
            continue
        if parent not in ("heading_open", "paragraph_open"):
            continue
        start, end = token.map
        if translated == msgid and not rewrap:  # untranslated: keep the lines, retarget their links
            colab, baseurl, _parser = settings()
            for number in range(start, end):
                myst = plain_notebooks.to_myst(lines[number], docname, colab, [], baseurl)
                lines[number] = from_myst(myst, docname, chinese)
            continue
        first = lines[start]
        prefix = first[: first.index(token.content.split("\n")[0])]
        blocks[start] = (end, prefix + from_myst(translated, docname, chinese))
    for number, row in cells.items():
        for old, new in row:
            if old != new:
                lines[number] = lines[number].replace(old, new, 1)
    out, number = [], 0
    while number < len(lines):
        end, new = blocks.get(number, (None, None))
        if end is None:
            out.append(lines[number])
            number += 1
        else:
            out.append(new)
            number = end
    return "\n".join(out)


def source(cell: dict) -> str:
    return cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])


def with_language_line(code: str) -> str:
    """The set-up cell's ``code`` with :data:`LANGUAGE_LINE` after its imports."""
    imports = [
        node for node in ast.parse(code).body if isinstance(node, ast.Import | ast.ImportFrom)
    ]
    lines = code.split("\n")
    end = imports[-1].end_lineno
    return "\n".join([*lines[:end], "", LANGUAGE_LINE, *lines[end:]])


def chinese_notebook(
    notebook: dict,
    docname: str,
    translate: Translate,
    chinese: bool = True,
    rewrap: bool = False,
) -> dict:
    """``notebook`` with its text translated by ``translate`` (a message to its
    translation, itself if it has none). With ``chinese`` false, links and code stay the
    English edition's: an identity ``translate`` then gives back ``notebook`` (with
    ``rewrap``, its paragraphs each on one line)."""
    notebook = copy.deepcopy(notebook)
    cells = notebook["cells"]
    language_set = not chinese
    for index, cell in enumerate(cells):
        text = source(cell)
        if cell["cell_type"] == "code":
            image = cell.get("metadata", {}).get("mystnb", {}).get("image", {})
            if image.get("alt"):
                image["alt"] = translate(image["alt"])
            if not language_set and IMPORTS_CHECKS.search(text):
                text, language_set = with_language_line(text), True
        elif cell["cell_type"] == "markdown":
            caption = plain_notebooks.figure_caption(cells, index - 1) if index else None
            if caption is not None:
                translated = translate(message(caption, docname))
                if chinese:
                    text = CAPTION + from_myst(translated, docname, chinese)
                elif translated != message(caption, docname):
                    text = plain_notebooks.CAPTION_PREFIX + from_myst(translated, docname, False)
            else:
                text = translate_blocks(text, translate, docname, chinese, rewrap)
        cell["source"] = text.splitlines(keepends=True)
    return notebook


def translations(docname: str) -> dict[str, str]:
    """The page's current translations (fuzzy ones are out of date: left out)."""
    path = CATALOGUES / f"{docname}.po"
    if not path.exists():
        return {}
    with path.open("rb") as handle:
        catalogue = read_po(handle)
    return {m.id: m.string for m in catalogue if m.id and m.string and not m.fuzzy}


def write(notebook: dict) -> str:
    return json.dumps(notebook, ensure_ascii=False, indent=1) + "\n"


def code_cells(notebook: dict) -> list[dict]:
    return [cell for cell in notebook["cells"] if cell["cell_type"] == "code"]


def with_outputs(notebook: dict, executed: dict | None) -> tuple[dict, bool]:
    """``notebook`` with the outputs of ``executed``, the committed Chinese notebook, if
    its code cells are the same; otherwise without outputs. Also whether it has them."""
    cells = code_cells(notebook)
    old = code_cells(executed) if executed else []
    same = len(old) == len(cells) and all(
        source(a) == source(b) for a, b in zip(old, cells, strict=False)
    )
    for index, cell in enumerate(cells):
        cell["outputs"] = old[index]["outputs"] if same else []
        cell["execution_count"] = old[index]["execution_count"] if same else None
    return notebook, same


def generated(path: Path) -> tuple[str, bool]:
    """The text of the Chinese notebook of the English notebook at ``path``, and whether
    it carries outputs of an execution (otherwise it needs one)."""
    docname = f"notebooks/{path.stem}"
    table = translations(docname)
    notebook = json.loads(path.read_text(encoding="utf-8"))
    chinese = chinese_notebook(notebook, docname, lambda msgid: table.get(msgid, msgid))
    target = OUT / path.name
    executed = json.loads(target.read_text(encoding="utf-8")) if target.exists() else None
    chinese, has_outputs = with_outputs(chinese, executed)
    return write(chinese), has_outputs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("--check", action="store_true", help="fail if one is out of date")
    args = parser.parse_args(argv)
    stale, unexecuted = [], []
    if not args.check:
        OUT.mkdir(exist_ok=True)
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        (text, has_outputs), target = generated(path), OUT / path.name
        if not has_outputs:
            unexecuted.append(target.relative_to(ROOT))
        if target.exists() and target.read_text(encoding="utf-8") == text:
            continue
        stale.append(target.relative_to(ROOT))
        if not args.check:
            target.write_text(text, encoding="utf-8")
    if args.check and stale:
        print("out of date (python scripts/zh_notebooks.py):", *stale, sep="\n  ")
        return 1
    print(f"{len(stale)} Chinese notebooks {'stale' if args.check else 'written'}")
    if unexecuted:
        print(
            "without outputs, since their code changed: make execute-all (or make execute NB=...)",
            *unexecuted,
            sep="\n  ",
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
