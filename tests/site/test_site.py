"""Checks of the built website in _build/html (static; the browser tests are separate)."""

import html
import json
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import plain_notebooks  # book/_ext, on the path through conftest
import pytest
import teaching  # scripts/, on the path through conftest
from conftest import ROOT, chapter_paths, colab_url

CHAPTERS = chapter_paths()


class Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links = []
        self.ids = set()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.add(attrs["id"])
        for name in ("href", "src"):
            if attrs.get(name):
                self.links.append((tag, attrs[name]))


def parse(path: Path) -> Links:
    parser = Links()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def page_of(html_root, notebook):
    return html_root / notebook.relative_to(ROOT).with_suffix(".html")


def test_every_toc_page_is_built(html_root, toc):
    pages = [toc["root"]] + [c["file"] for part in toc["parts"] for c in part["chapters"]]
    for page in pages:
        assert (html_root / f"{page}.html").is_file(), f"{page}.html missing"


def test_internal_links_resolve(html_root):
    broken = []
    for page in html_root.rglob("*.html"):
        if "_static" in page.parts:
            continue
        for _, link in parse(page).links:
            parts = urlsplit(link)
            if parts.scheme or link.startswith(("//", "mailto:", "#", "javascript:")):
                continue
            target = (page.parent / unquote(parts.path)).resolve()
            if parts.path and not target.exists():
                broken.append(f"{page.relative_to(html_root)} -> {link}")
    assert not broken, "broken links:\n" + "\n".join(broken[:20])


@pytest.mark.parametrize("notebook", CHAPTERS, ids=lambda p: p.name)
def test_chapter_has_colab_button_and_download(html_root, config, notebook):
    page = page_of(html_root, notebook)
    links = [link for _, link in parse(page).links]
    assert colab_url(config, notebook) in links, "no Colab launch button for this chapter"
    download = html_root / "_sources" / notebook.relative_to(ROOT)
    assert download.is_file(), "the .ipynb download is missing"
    assert any(link.endswith(f"_sources/notebooks/{notebook.name}") for link in links)


@pytest.mark.parametrize("notebook", CHAPTERS, ids=lambda p: p.name)
def test_chapter_page_shows_outputs_and_citations(html_root, notebook):
    text = page_of(html_root, notebook).read_text(encoding="utf-8")
    assert "<img" in text, "figures from the committed outputs are missing"
    assert "{cite" not in text, "a citation role was not rendered"
    assert 'class="cell_output' in text
    # The notebook's citation links became citations of the references page
    # (book/_ext/plain_notebooks.py): none is left as a plain link to the work.
    assert 'class="bibtex-citation"' in text and "references.html#" in text
    owners = plain_notebooks.owners()
    plain = [link for _, link in parse(page_of(html_root, notebook)).links if link in owners]
    assert not plain, f"citations left as plain links: {plain[:3]}"
    assert "<details>" not in text and "&lt;summary&gt;" not in text


def test_references_page_lists_cited_works(html_root):
    text = (html_root / "book" / "references.html").read_text(encoding="utf-8").lower()
    assert "scaling laws for neural language models" in text
    assert "training compute-optimal large language models" in text


def reference_labels(html_root: Path) -> dict[str, str]:
    """The references page's entries: their id and the label shown, ``Vaswani et al., 2017``."""
    page = (html_root / "book" / "references.html").read_text(encoding="utf-8")
    found = re.findall(
        r'<div class="citation" id="(id\d+)" role="doc-biblioentry">\s*<span class="label">'
        r'<span class="fn-bracket">\[</span>(.*?)<span class="fn-bracket">\]',
        page,
    )
    return {
        anchor: html.unescape(re.sub(r"<[^>]+>", "", label)).replace("\xa0", " ")
        for anchor, label in found
    }


def test_references_are_labelled_and_sorted_as_they_are_cited(html_root):
    labels = reference_labels(html_root)
    assert len(labels) >= 100, "the references page lists too few works"
    shown = list(labels.values())
    assert len(set(shown)) == len(shown), "two works with the same label"
    assert all(re.fullmatch(r"\S.*, \d{4}[a-z]?", label) for label in shown), shown[:5]
    names = [label.rsplit(", ", 1)[0].casefold() for label in shown]
    assert names == sorted(names), "not sorted by name (organisations included)"
    page = (html_root / "book" / "references.html").read_text(encoding="utf-8")
    assert "\\$" not in page, "a BibTeX escape is shown as is"


def test_every_citation_reads_as_the_label_it_links_to(html_root):
    labels = reference_labels(html_root)
    checked = 0
    for page in sorted((html_root / "notebooks").glob("*.html")):
        text = page.read_text(encoding="utf-8")
        for anchor, shown in re.findall(
            r'<a class="reference internal" href="\.\./book/references\.html#(id\d+)"[^>]*>'
            r"(.*?)</a>",
            text,
        ):
            shown = html.unescape(re.sub(r"<[^>]+>", "", shown)).replace("\xa0", " ")
            if re.fullmatch(r"\d{4}[a-z]?", shown):  # "Vaswani et al. (2017)" links its year
                assert labels[anchor].endswith(f", {shown}"), f"{page.name}: {shown!r}"
            else:
                assert labels[anchor] == shown, f"{page.name}: {shown!r} is {labels[anchor]!r}"
            checked += 1
    assert checked >= 150, f"only {checked} citations found"


def test_no_instructor_material_reaches_the_website(html_root):
    """instructor/ (the rubrics) stays out of the site: no page, and no rubric's text."""
    assert not list(html_root.rglob("*rubric*")), "a rubrics file was published"
    rubrics = "\n".join(
        (ROOT / "instructor" / name).read_text(encoding="utf-8")
        for name in ("rubrics.md", "project-rubric.md")
    )
    criteria = [
        line.partition(": ")[2].strip()
        for line in rubrics.splitlines()
        if re.match(r"- \d+ points?: ", line)
    ]
    assert len(criteria) > 40
    pages = "\n".join(
        html.unescape(page.read_text(encoding="utf-8")) for page in html_root.rglob("*.html")
    )
    # Whole criteria: a short one ("Higher.") or a phrase of a model answer may recur.
    leaked = [criterion for criterion in criteria if len(criterion) > 40 and criterion in pages]
    assert not leaked, f"rubric criteria on the website: {leaked[:3]}"


def test_no_answer_key_reaches_the_website(html_root):
    """The question bank's answers (make quizzes, make exams) stay in _instructor/: no key,
    exam solution or seed file is published, and no explanation, model answer or rubric
    criterion of the bank appears in any page, slides included."""
    for pattern in ("*-key.*", "*solutions*", "*seed*", "*.gift", "*-qti.zip", "*.yaml"):
        assert not list(html_root.rglob(pattern)), f"{pattern} was published"
    pages = " ".join(
        " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page.read_text(encoding="utf-8"))).split())
        for page in html_root.rglob("*.html")
    )
    leaked = [
        (question["id"], text)
        for path in teaching.bank_files()
        for question in teaching.load(path)["questions"]
        for text in teaching.answer_fingerprints(question)
        if text in pages
    ]
    assert not leaked, f"answers of the question bank on the website: {leaked[:3]}"


class Prose(HTMLParser):
    """The text of a page outside code, typeset maths, scripts and cell outputs."""

    SKIPPED_TAGS = {"script", "style", "pre", "code", "kbd", "samp", "textarea", "math"}
    SKIPPED_CLASSES = {"math", "highlight", "cell_output", "output"}
    VOID = {"br", "img", "meta", "link", "input", "hr", "wbr", "source", "area", "col"}

    def __init__(self):
        super().__init__()
        self.stack: list[bool] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in self.VOID:
            return
        classes = set((dict(attrs).get("class") or "").split())
        self.stack.append(tag in self.SKIPPED_TAGS or bool(classes & self.SKIPPED_CLASSES))

    def handle_endtag(self, tag):
        if tag not in self.VOID and self.stack:
            self.stack.pop()

    def handle_data(self, data):
        if not any(self.stack):
            self.text.append(data)


# TeX that MathJax never saw: a sub- or superscript in braces, a command, or $...$ that
# is no dollar amount ("$2 to $4" is one).
RAW_TEX = re.compile(
    r"[\w)\]]_\{|\^\{|\\(?:frac|mathrm|mathbf|text|sum|prod|cdot|times|infty|partial|sqrt|"
    r"alpha|beta|gamma|delta|theta|lambda|sigma|log|exp|tanh|le|ge|approx|odot)(?![a-z])|"
    r"\$(?![\d\s.,])[^$\n]{1,80}(?<!\s)\$"
)


def raw_tex(markup: str) -> list[str]:
    prose = Prose()
    prose.feed(markup)
    text = " ".join("".join(prose.text).split())
    return [text[max(0, m.start() - 30) : m.end() + 30] for m in RAW_TEX.finditer(text)]


def test_raw_tex_finder_catches_what_mathjax_missed():
    assert raw_tex("<p>h_{t-1} and e^{−∞}</p>") and raw_tex(r"<p>the \frac{a}{b} ratio</p>")
    assert raw_tex("<p>then $x + y$ holds</p>")
    assert not raw_tex(
        '<p>From $2 to $4.916 per hour, <span class="math">\\(h_{t-1}\\)</span>.</p>'
        "<pre>x_{i} = 1</pre><code>a^{2}</code>"
    )


def test_no_raw_tex_in_the_prose_of_any_page(html_root):
    found = {}
    for page in sorted(html_root.rglob("*.html")):
        if not {"_static", "_sources"} & set(page.relative_to(html_root).parts):
            if hits := raw_tex(page.read_text(encoding="utf-8")):
                found[page.relative_to(html_root).as_posix()] = hits[:3]
    assert not found, f"TeX outside maths: {found}"


def test_the_whole_book_is_one_pdf_with_every_chapter(html_root, toc):
    import book_pdf  # scripts/, on the path through conftest
    from pypdf import PdfReader

    pdf = html_root / book_pdf.PDF.name
    assert pdf.is_file(), "no book PDF: run `make pdf` after the site build"
    report = book_pdf.check_pdf(pdf)  # pages, embedded fonts, the glossary's Chinese
    assert report["pages"] >= book_pdf.MIN_PAGES

    def titles(outline):
        for item in outline:
            yield from titles(item) if isinstance(item, list) else [item.title]

    bookmarks = list(titles(PdfReader(pdf).outline))
    for notebook in CHAPTERS:
        heading = next(
            "".join(cell["source"]).splitlines()[0].lstrip("# ").strip()
            for cell in json.loads(notebook.read_text(encoding="utf-8"))["cells"]
            if cell["cell_type"] == "markdown"
        )
        assert heading in bookmarks, f"{heading!r} is not a bookmark of the PDF"
    for page in ("book/intro.html", *(page_of(html_root, n) for n in CHAPTERS)):
        text = Path(html_root / page).read_text(encoding="utf-8")
        assert book_pdf.PDF.name in text, f"{page} does not link to the book's PDF"


def test_every_reference_links_to_the_work(html_root):
    page = (html_root / "book" / "references.html").read_text(encoding="utf-8")
    entries = [entry.split("</p>")[0] for entry in page.split('<div class="citation" ')[1:]]
    assert len(entries) == len(plain_notebooks.bibliography())
    unlinked = [re.sub(r"<[^>]+>", "", e)[-120:] for e in entries if 'href="http' not in e]
    assert not unlinked, f"references without a link (URL, DOI or arXiv): {unlinked}"


@pytest.mark.parametrize("notebook", CHAPTERS, ids=lambda p: p.name)
def test_every_figure_has_alt_text_and_a_numbered_caption(html_root, notebook):
    page = page_of(html_root, notebook).read_text(encoding="utf-8")
    images = re.findall(r"<img\b[^>]*>", page)
    assert images
    outputs = [tag for tag in images if "_images/" in tag]  # the notebook's figures
    for tag in images:
        alt = html.unescape((re.search(r'\balt="([^"]*)"', tag) or [None, ""])[1])
        src = re.search(r'\bsrc="([^"]*)"', tag)[1]
        assert alt and alt != src and "_images/" not in alt, f"no alt text for {src}"
    figures = re.findall(r'<figure class="[^"]*"[^>]*>.*?</figure>', page, re.DOTALL)
    assert len(figures) == len(outputs), "every figure of a cell has a caption"
    assert all("caption-number" in figure for figure in figures), "figures are numbered"


# The Chinese edition (scripts/translations.py html, into _build/html/zh) ----------------


def content_pages(root: Path) -> list[Path]:
    return [
        page
        for page in sorted(root.rglob("*.html"))
        if not {"_static", "_sources", "zh", "slides"} & set(page.relative_to(root).parts[:-1])
        and page.name not in ("genindex.html", "search.html")
    ]


def test_the_chinese_edition_has_every_page(html_root, toc):
    pages = [toc["root"]] + [c["file"] for part in toc["parts"] for c in part["chapters"]]
    for page in pages:
        assert (html_root / "zh" / f"{page}.html").is_file(), f"zh/{page}.html missing"


def test_every_page_links_to_itself_in_the_other_edition(html_root):
    """Each page's switch leads to the same path in the other edition, and back."""
    checked = 0
    for root, other in ((html_root, html_root / "zh"), (html_root / "zh", html_root)):
        for page in content_pages(root):
            if page.name == "index.html" and page.parent == root:
                continue  # jupyter-book's redirect to the landing page
            text = page.read_text(encoding="utf-8")
            found = re.search(r'class="btn btn-sm lmbook-language-switch" href="([^"]+)"', text)
            assert found, f"{page.relative_to(html_root)} has no language switch"
            target = (page.parent / found[1]).resolve()
            assert target == (other / page.relative_to(root)).resolve(), found[1]
            checked += 1
    assert checked > 40


def test_chinese_pages_are_chinese(html_root):
    """Declared zh-CN, titled in Chinese, each chapter's heading translated."""
    for notebook in CHAPTERS:
        page = html_root / "zh" / notebook.relative_to(ROOT).with_suffix(".html")
        text = page.read_text(encoding="utf-8")
        assert '<html lang="zh-CN"' in text
        heading = re.search(r"<h1>([^<]*)", text)[1]
        assert re.search(r"[\u4e00-\u9fff]", heading), f"{page.name}: {heading}"
        assert "大模型：从神经元到商业" in re.search(r"<title>([^<]*)", text)[1]


def test_chinese_search_indexes_words(html_root):
    """Sphinx's Chinese search segments with jieba; without it no Chinese word is indexed."""
    text = (html_root / "zh" / "searchindex.js").read_text(encoding="utf-8")
    terms = json.loads(text[text.index("(") + 1 : text.rindex(")")])["terms"]
    for word in ("参数", "词元", "注意力", "神经网络", "微调", "量化"):
        assert word in terms, f"{word} is not in the Chinese search index"


def test_the_chinese_sidebar_names_its_parts_in_chinese(html_root):
    """The table of contents' captions (Foundations, ...) come from book/intro.po."""
    for page in (html_root / "zh" / "book" / "intro.html", html_root / "zh" / "book" / "faq.html"):
        captions = re.findall(r'caption-text">([^<]*)', page.read_text(encoding="utf-8"))
        assert captions and all(re.search(r"[\u4e00-\u9fff]", c) for c in captions), captions


@pytest.mark.parametrize("notebook", CHAPTERS, ids=lambda p: p.name)
def test_a_chinese_chapter_opens_its_chinese_notebook_on_colab(html_root, config, notebook):
    """The Colab button and every Colab link of a Chinese page open notebooks/zh/."""
    page = html_root / "zh" / notebook.relative_to(ROOT).with_suffix(".html")
    links = [link.split("#")[0] for _, link in parse(page).links]
    chinese = colab_url(config, notebook.parent / "zh" / notebook.name)
    assert chinese in links, "no Colab button for the Chinese notebook"
    english = [link for link in links if "colab.research" in link and "/notebooks/zh/" not in link]
    assert not english, f"links open English notebooks: {english[:3]}"
    assert colab_url(config, notebook) in [
        link.split("#")[0] for _, link in parse(page_of(html_root, notebook)).links
    ], "the English page opens the English notebook"


def test_chinese_display_maths_has_its_words_in_chinese(html_root):
    """A display equation's \\text{...} is translated (book/_ext/i18n.py), and typeset:
    Sphinx's own translation of a literal would have left a paragraph "::" instead."""
    page = html_root / "zh" / "notebooks" / "04_recurrent_networks.html"
    text = page.read_text(encoding="utf-8")
    typeset = "".join(re.findall(r"<mjx-utext[^>]*>([^<]*)</mjx-utext>", text))
    assert "输入门" in typeset and "遗忘门" in typeset, typeset[:80]
    assert "<p>::</p>" not in text
