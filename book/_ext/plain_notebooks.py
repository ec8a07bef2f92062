"""Notebooks in plain Markdown for Jupyter and Colab, MyST on the website.

A chapter notebook is read in three places: the website, Jupyter and Colab. Jupyter and
Colab know no MyST, so the notebooks' Markdown cells use plain Markdown only, in three
conventions that this extension turns back into MyST for the website on Sphinx's
``source-read`` event (the notebook's file, and so its ``.ipynb`` download, is unchanged):

- **Citations** are links to the work, with the author-year text computed from
  ``book/references.bib`` (:func:`citation`): ``([Vaswani et al., 2017](URL))``, several
  as ``([A et al., 2017](URL1); [B and C, 2019](URL2))``, inside parentheses without
  them (``(weight tying; [Press and Wolf, 2017](URL))``), and in the text as
  ``[Jain and Wallace (2019)](URL)``. The URL is the entry's ``url``, else its ``doi``,
  else its arXiv ``eprint`` (:func:`entry_link`). On the website a citation link whose
  URL belongs to exactly one entry becomes ``{cite:p}``, ``{cite:alp}`` or ``{cite:t}``,
  so that it links to the references page; a link that looks like a citation but does
  not match its entry (another text, an unknown URL) is a build warning, so an error.
- **Solutions** written in Markdown are an HTML ``<details>`` block, which Jupyter,
  Colab and GitHub show folded: ``<details>``, ``<summary>Solution</summary>``, a blank
  line, the Markdown, a blank line, ``</details>``. On the website it becomes the
  folded ``{admonition}`` with ``:class: dropdown`` that the theme styles (and that a
  printed page or a PDF shows as an admonition). A code cell tagged ``solution`` folds
  under the same "Solution" title (MyST-NB's ``code_prompt_show``), not "Show code cell
  source".
- **Links to other chapters** are their Colab addresses (Colab cannot follow a relative
  link in a notebook that was uploaded or opened alone), which on the website become
  links to the chapter's page. A notebook's link to its own Colab address ("Open in
  Colab") stays as it is.
- **Links to the book's other pages** (the errata, the glossary) are their addresses on
  the published website (``html.baseurl``), which Colab can follow too; on the website
  they become links to the page, and one with an anchor a ``{ref}`` to that label (a
  MyST target such as ``(erratum-004-14)=``, so that a wrong anchor fails the build).

- **Figure captions** are the Markdown cell right after the figure's cell, written
  ``**Figure.** What to see in it.``, so that Jupyter and Colab show them under the
  figure. On the website the caption moves into the figure (MyST-NB's
  ``mystnb.figure.caption`` of the figure's cell, numbered beside the figure's
  ``name``) and the cell goes. The alt text is the figure cell's ``mystnb.image.alt``.

``tests/project/test_layout.py`` checks every notebook against these conventions.
"""

import codecs
import json
import posixpath
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import latexcodec  # noqa: F401  (registers the "ulatex" codec)
from pybtex.database import Entry, parse_file
from sphinx.application import Sphinx
from sphinx.util import logging
from sphinxcontrib.bibtex.plugin import register_plugin
from sphinxcontrib.bibtex.style.referencing import BracketStyle
from sphinxcontrib.bibtex.style.referencing.author_year import AuthorYearReferenceStyle

BIB = Path(__file__).resolve().parents[1] / "references.bib"
COLAB = "https://colab.research.google.com/github/"

# A Markdown link (its URL without parentheses: entry_link percent-encodes them), and the
# text of a citation link: "Name, 2017" (in parentheses) or "Name (2017)" (in the text).
LINK = r"\[(?P<{0}text>[^\[\]]+?)\]\((?P<{0}url>[^()\s]+)\)"
CITATION_TEXT = re.compile(
    r"^(?P<authors>.+?)(?:, (?P<year>\d{4}[a-z]?)| \((?P<tyear>\d{4}[a-z]?)\))$"
)
GROUP = re.compile(
    r"\((?P<group>" + LINK.format("first") + r"(?:; " + LINK.format("next") + r")*)\)"
)
ONE_LINK = re.compile(LINK.format(""))
DETAILS = re.compile(
    r"^<details>\n<summary>Solution</summary>\n\n(?P<body>.*?)\n\n</details>$",
    re.MULTILINE | re.DOTALL,
)
FENCE = re.compile(r"^(?P<fence>```+|~~~+).*?^(?P=fence)[ \t]*$", re.MULTILINE | re.DOTALL)

logger = logging.getLogger(__name__)


@cache
def bibliography(path: Path = BIB) -> dict[str, Entry]:
    """The entries of the book's BibTeX file, by key."""
    return dict(parse_file(str(path), bib_format="bibtex").entries)


def plain(latex: str) -> str:
    """BibTeX text without LaTeX: accents decoded, braces dropped."""
    return codecs.decode(latex, "ulatex").replace("{", "").replace("}", "").strip()


def bib_field(entry: Entry, name: str) -> str | None:
    for key, value in entry.fields.items():
        if key.lower() == name:
            return value
    return None


def authors(entry: Entry) -> str:
    """The author part of an author-year citation, by the usual rule.

    One author: ``Name``; two: ``A and B``; more (``and others`` counts as more):
    ``A et al.``. A name is its last name with its von part (``van Merriënboer``).
    """
    persons = entry.persons.get("author") or entry.persons.get("editor") or []
    names = [
        plain(" ".join(person.prelast_names + person.last_names))
        for person in persons
        if str(person) != "others"
    ]
    if not names:
        organization = bib_field(entry, "organization")
        if not organization:
            raise ValueError(f"{entry.key}: no author, editor or organization")
        return plain(organization)
    if len(persons) == 1:
        return names[0]
    if len(persons) == 2 and len(names) == 2:
        return f"{names[0]} and {names[1]}"
    return f"{names[0]} et al."


def year(entry: Entry) -> str:
    return plain(bib_field(entry, "year") or "")


def citation(entry: Entry, textual: bool = False) -> str:
    """``Vaswani et al., 2017``, or in the text ``Vaswani et al. (2017)``."""
    return f"{authors(entry)} ({year(entry)})" if textual else f"{authors(entry)}, {year(entry)}"


def entry_links(entry: Entry) -> list[str]:
    """Every address that identifies the entry: its url, its DOI, its arXiv record."""
    links = []
    if url := bib_field(entry, "url"):
        links.append(url)
    if doi := bib_field(entry, "doi"):
        # Parentheses (a 1964 DOI has them) would end a Markdown link: percent-encode.
        links.append("https://doi.org/" + doi.replace("(", "%28").replace(")", "%29"))
    eprint = bib_field(entry, "eprint")
    if eprint and (bib_field(entry, "archiveprefix") or "").lower() == "arxiv":
        links.append(f"https://arxiv.org/abs/{eprint}")
    return links


def entry_link(entry: Entry) -> str:
    """The address a citation links to: the url, else the DOI, else the arXiv record."""
    links = entry_links(entry)
    if not links:
        raise ValueError(f"{entry.key} has no url, doi or arXiv eprint to link to")
    return links[0]


@cache
def owners(path: Path = BIB) -> dict[str, tuple[str, ...]]:
    """Each address of :func:`entry_links` and the keys of the entries it belongs to."""
    found: dict[str, list[str]] = {}
    for key, entry in bibliography(path).items():
        for link in dict.fromkeys(entry_links(entry)):
            found.setdefault(link, []).append(key)
    return {link: tuple(keys) for link, keys in found.items()}


def cite_markdown(keys: list[str], form: str = "p", path: Path = BIB) -> str:
    """The plain-Markdown citation of ``keys``: form ``p`` (in parentheses), ``alp``
    (inside parentheses already) or ``t`` (in the text, one work each)."""
    entries = bibliography(path)
    links = [f"[{citation(entries[k], form == 't')}]({entry_link(entries[k])})" for k in keys]
    if form == "p":
        return "(" + "; ".join(links) + ")"
    return (", " if form == "t" else "; ").join(links)


def citation_links(text: str) -> list[tuple[str, str, bool]]:
    """(link text, URL, textual) of every citation-shaped link in Markdown ``text``."""
    found = []
    for match in ONE_LINK.finditer(without_code(text)):
        shape = CITATION_TEXT.match(match["text"])
        if shape and not match["url"].startswith(COLAB):
            found.append((match["text"], match["url"], shape["tyear"] is not None))
    return found


def check_citation(text: str, url: str, path: Path = BIB) -> str:
    """The key of the entry that a citation link names; a ValueError says why none, or
    how its text differs from what the entry says."""
    keys = owners(path).get(url, ())
    if len(keys) != 1:
        where = "no entry" if not keys else f"{len(keys)} entries ({', '.join(keys)})"
        raise ValueError(f"citation [{text}]({url}): its address belongs to {where}")
    entry = bibliography(path)[keys[0]]
    textual = CITATION_TEXT.match(text)["tyear"] is not None
    expected = citation(entry, textual)
    if text != expected:
        raise ValueError(f"citation [{text}]({url}) of {keys[0]}: references.bib says {expected!r}")
    return keys[0]


def without_code(text: str) -> str:
    """``text`` with its fenced code blocks blanked (same length, same line numbers)."""
    return FENCE.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), text)


def outside_code(text: str, convert) -> str:
    """Apply ``convert`` to the parts of ``text`` outside fenced code blocks."""
    parts, last = [], 0
    for match in FENCE.finditer(text):
        parts += [convert(text[last : match.start()]), match.group(0)]
        last = match.end()
    return "".join(parts + [convert(text[last:])])


def to_myst(
    text: str,
    docname: str,
    colab_prefix: str | None,
    problems: list[str],
    baseurl: str | None = None,
) -> str:
    """The MyST for the website of one Markdown cell of document ``docname``.

    ``colab_prefix`` is ``https://colab.research.google.com/github/OWNER/REPO/blob/BRANCH/``
    (the book's root in the repository); ``problems`` collects citation links that do
    not match their entry; ``baseurl`` is the published website's address, ending in "/".
    """

    def cite(keys: list[str], role: str) -> str:
        return f"{{cite:{role}}}`{','.join(keys)}`"

    def key_of(link_text: str, url: str) -> str | None:
        try:
            return check_citation(link_text, url)
        except ValueError as error:
            problems.append(str(error))
            return None

    def group(match: re.Match) -> str:
        links = ONE_LINK.findall(match["group"])
        shapes = [CITATION_TEXT.match(text) for text, _ in links]
        if not all(shape and not shape["tyear"] for shape in shapes):
            return match.group(0)
        keys = [key_of(t, u) for t, u in links]
        return cite(keys, "p") if None not in keys else match.group(0)

    def single(match: re.Match) -> str:
        shape = CITATION_TEXT.match(match["text"])
        if not shape or match["url"].startswith(COLAB):
            return match.group(0)
        key = key_of(match["text"], match["url"])
        if key is None:
            return match.group(0)
        return cite([key], "t" if shape["tyear"] else "alp")

    def chapter(match: re.Match) -> str:
        target = match["path"]
        if posixpath.splitext(target)[0] == docname:
            return match.group(0)  # "Open in Colab": this notebook on Colab
        relative = posixpath.relpath(target, posixpath.dirname(docname) or ".")
        return f"]({relative}{match['anchor'] or ''})"

    def page(match: re.Match) -> str:
        if match["anchor"]:
            return f"{{ref}}`{match['text']} <{match['anchor']}>`"
        relative = posixpath.relpath(match["page"], posixpath.dirname(docname) or ".")
        return f"[{match['text']}]({relative}.md)"

    def convert(part: str) -> str:
        if baseurl:
            pattern = (
                r"\[(?P<text>[^\[\]`<>]+)\]\("
                + re.escape(baseurl)
                + r"(?P<page>[^)#\s]+)\.html(?:#(?P<anchor>[^)\s]+))?\)"
            )
            part = re.sub(pattern, page, part)
        part = GROUP.sub(group, part)
        part = ONE_LINK.sub(single, part)
        if colab_prefix:
            pattern = re.escape(colab_prefix) + r"(?P<path>[^)#\s]+\.ipynb)(?P<anchor>#[^)\s]*)?\)"
            part = re.sub(r"\]\(" + pattern, chapter, part)
        return part

    text = outside_code(text, convert)
    fence = ":::"
    while fence in text:
        fence += ":"
    return DETAILS.sub(
        lambda m: f"{fence}{{admonition}} Solution\n:class: dropdown\n\n{m['body']}\n{fence}", text
    )


def colab_prefix(app: Sphinx) -> str | None:
    """The Colab address of the book's root folder in the repository, from _config.yml."""
    options = app.config.html_theme_options or {}
    url = (options.get("repository_url") or "").rstrip("/")
    if not url.startswith("https://github.com/"):
        return None
    parts = [
        url.removeprefix("https://github.com/"),
        "blob",
        options.get("repository_branch") or "main",
        (options.get("path_to_docs") or "").strip("/"),
    ]
    return COLAB + "/".join(part for part in parts if part) + "/"


def notebook_to_myst(app: Sphinx, docname: str, source: list[str]) -> None:
    """``source-read``: a chapter notebook's Markdown cells in MyST for the website."""
    if not str(app.env.doc2path(docname)).endswith(".ipynb"):
        return
    notebook = json.loads(source[0])
    prefix = colab_prefix(app)
    baseurl = app.config.html_baseurl.rstrip("/") + "/" if app.config.html_baseurl else None
    notebook["cells"] = captions_into_figures(notebook.get("cells", []))
    for cell in notebook["cells"]:
        if "solution" in cell.get("metadata", {}).get("tags", []) and cell["cell_type"] == "code":
            # A code solution folds under the same "Solution" title as a written one.
            prompts = {"code_prompt_show": "Solution", "code_prompt_hide": "Solution"}
            cell["metadata"].setdefault("mystnb", {}).update(prompts)
        if cell.get("cell_type") != "markdown":
            continue
        text = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
        problems: list[str] = []
        cell["source"] = to_myst(text, docname, prefix, problems, baseurl)
        for problem in problems:
            logger.warning(problem, location=docname)
    source[0] = json.dumps(notebook, ensure_ascii=False)


CAPTION_PREFIX = "**Figure.** "


def figure_caption(cells: list[dict], index: int) -> str | None:
    """The caption of the figure in ``cells[index]``: the text of the next cell, when
    that is a Markdown cell starting with ``**Figure.** ``."""
    if index + 1 >= len(cells) or cells[index + 1].get("cell_type") != "markdown":
        return None
    text = cells[index + 1]["source"]
    text = text if isinstance(text, str) else "".join(text)
    return text.removeprefix(CAPTION_PREFIX).strip() if text.startswith(CAPTION_PREFIX) else None


def captions_into_figures(cells: list[dict]) -> list[dict]:
    """The cells with each caption cell moved into the figure cell before it."""
    kept = []
    for index, cell in enumerate(cells):
        if index and figure_caption(cells, index - 1) is not None:
            continue  # the caption of the cell before, which took it
        caption = figure_caption(cells, index)
        if caption is not None:
            options = cell.setdefault("metadata", {}).setdefault("mystnb", {})
            options.setdefault("figure", {})["caption"] = caption
        kept.append(cell)
    return kept


def _round_brackets() -> BracketStyle:
    return BracketStyle(left="(", right=")", sep="; ")


@dataclass
class RoundAuthorYearStyle(AuthorYearReferenceStyle):
    """sphinxcontrib-bibtex's author-year citations with the notebooks' punctuation:
    ``(Vaswani et al., 2017)``, ``(A et al., 2017; B and C, 2019)``, ``Jain and Wallace
    (2019)`` (its own ``author_year`` style writes ``[A et al., 2017, B and C, 2019]``)."""

    bracket_parenthetical: BracketStyle = field(default_factory=_round_brackets)
    bracket_textual: BracketStyle = field(default_factory=_round_brackets)


REFERENCE_STYLE = "author_year_round"  # bibtex_reference_style in _config.yml


def setup(app: Sphinx) -> dict:
    register_plugin("sphinxcontrib.bibtex.style.referencing", REFERENCE_STYLE, RoundAuthorYearStyle)
    app.connect("source-read", notebook_to_myst)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
