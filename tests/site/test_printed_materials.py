"""Printed material. The instructor's: the sample exams and a chapter's quiz and key print
to PDF in Chromium, with their maths typeset (scripts/teaching.py; make exams, make
quizzes); the HTML is checked without a browser in tests/tools/test_teaching.py. The
Chinese edition's book PDF (make pdf: scripts/book_pdf.py --language zh_CN), with its
fonts, text and bookmarks in Chinese; the English one is checked in test_site.py."""

import json
import re

import book_pdf  # scripts/, on the path through conftest
import pytest
import teaching  # scripts/, on the path through conftest
from babel.messages.pofile import read_po
from conftest import ROOT, chapter_paths
from pypdf import PdfReader

LOCALE = ROOT / "locales" / "zh_CN" / "LC_MESSAGES"
# The fonts with Chinese characters that the CSS names for the Chinese edition (lmbook.css).
CJK_FONT = re.compile(r"CJK|SourceHanSans|PingFang|YaHei|WenQuanYi", re.IGNORECASE)


@pytest.fixture(scope="module")
def printed(tmp_path_factory):
    out = tmp_path_factory.mktemp("instructor")
    pages = teaching.write_exams(out, seed=7, pdf=True)
    bank = teaching.load(teaching.bank_files()[0])
    for key, suffix in ((False, "quiz"), (True, "key")):
        page = out / f"{bank['chapter']}-{suffix}.html"
        page.write_text(teaching.quiz_page(bank, 7, key), encoding="utf-8")
        pages.append(page)
    teaching.typeset_and_print(out, pages[-2:], pdf=True)
    return {page.stem: page.with_suffix(".pdf") for page in pages}


def text_of(pdf) -> str:
    return " ".join(" ".join(page.extract_text() for page in PdfReader(pdf).pages).split())


def test_every_exam_and_its_solutions_print(printed):
    for name in ("midterm", "final"):
        paper, solutions = text_of(printed[name]), text_of(printed[f"{name}-solutions"])
        assert re.search(r"\d+ minutes · \d+ points", paper), name
        assert "Rubric" not in paper and "Model answer" not in paper
        assert solutions.count("Rubric.") >= 3 and "Marking" in solutions
        assert (
            len(PdfReader(printed[f"{name}-solutions"]).pages)
            > len(PdfReader(printed[name]).pages) - 1
        )


def test_a_quiz_and_its_key_print_with_typeset_maths(printed):
    quiz, key = printed["ch01-quiz"], printed["ch01-key"]
    assert "Answer: (" in text_of(key) and "Answer: (" not in text_of(quiz)
    html = key.with_suffix(".html").read_text(encoding="utf-8")
    assert "<mjx-container" in html and "\\(" not in html


# The Chinese edition's book PDF, _build/html/zh/large-models-book.pdf --------------------


def english_title(notebook) -> str:
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    first = next(cell for cell in cells if cell["cell_type"] == "markdown")
    return "".join(first["source"]).splitlines()[0].lstrip("# ").strip()


def chinese_titles() -> dict[str, str]:
    """Each chapter's English title and its translation in the chapter's catalogue, as
    printed ("1\\. 大模型的兴起" is Markdown for "1. 大模型的兴起")."""
    titles = {}
    for notebook in chapter_paths():
        with (LOCALE / "notebooks" / f"{notebook.stem}.po").open("rb") as handle:
            message = read_po(handle).get(english_title(notebook))
        assert message and message.string and not message.fuzzy, notebook.name
        titles[english_title(notebook)] = message.string.replace("\\.", ".")
    return titles


def squeezed(text: str) -> str:
    return re.sub(r"\s+", "", text)


@pytest.fixture(scope="module")
def chinese_pdf(html_root):
    pdf = html_root / "zh" / book_pdf.PDF.name
    assert pdf.is_file(), "no Chinese PDF: run `make pdf` after the site build"
    return PdfReader(pdf)


def test_the_chinese_book_pdf_embeds_its_fonts_a_chinese_one_among_them(html_root, chinese_pdf):
    edition = book_pdf.EDITIONS["zh_CN"]
    assert edition.pdf == html_root / "zh" / book_pdf.PDF.name
    # Every font embedded, enough pages, chapter titles and glossary terms as text.
    report = book_pdf.check_pdf(edition.pdf, edition.terms, edition.min_pages)
    english = len(PdfReader(html_root / book_pdf.PDF.name).pages)
    assert 0.6 * english <= report["pages"] <= 1.4 * english, (report["pages"], english)
    fonts = {
        str(font.get_object().get("/BaseFont"))
        for page in chinese_pdf.pages
        for font in ((page.get("/Resources") or {}).get("/Font") or {}).values()
    }
    assert any(CJK_FONT.search(name) for name in fonts), f"no Chinese font in {sorted(fonts)}"
    assert chinese_pdf.metadata.title == "大模型：从神经元到商业"


def test_every_chapter_of_the_chinese_pdf_has_its_chinese_title_as_bookmark_and_text(
    chinese_pdf,
):
    def bookmarks(outline):
        for item in outline:
            yield from bookmarks(item) if isinstance(item, list) else [item]

    pages = {
        item.title: chinese_pdf.get_destination_page_number(item)
        for item in bookmarks(chinese_pdf.outline)
    }
    for english, chinese in chinese_titles().items():
        assert english not in pages, f"{english!r} is a bookmark of the Chinese PDF"
        assert chinese in pages, f"{chinese!r} is not a bookmark of the Chinese PDF"
        text = chinese_pdf.pages[pages[chinese]].extract_text()
        assert squeezed(chinese) in squeezed(text), f"{chinese!r} is not text on its page"


def test_the_chinese_pages_link_to_the_chinese_pdf(html_root):
    pdf = (html_root / "zh" / book_pdf.PDF.name).resolve()
    assert pdf.is_file()
    pages = ["book/intro.html", *(f"notebooks/{n.stem}.html" for n in chapter_paths())]
    for name in pages:
        page = html_root / "zh" / name
        links = re.findall(r'href="([^"]*large-models-book\.pdf)"', page.read_text("utf-8"))
        assert links, f"zh/{name} does not link to the book's PDF"
        for link in links:
            assert (page.parent / link).resolve() == pdf, f"zh/{name} links to {link}"
