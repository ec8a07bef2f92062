"""The whole book as one PDF, printed by the Chromium that the browser tests use.

    python scripts/book_pdf.py                    # _build/html/large-models-book.pdf
    python scripts/book_pdf.py --language zh_CN   # _build/html/zh/large-models-book.pdf

Run by ``make pdf``, for each edition after its single-page build: the English book
as one HTML page by ``jupyter-book build . --builder singlehtml`` (``_build/singlehtml``),
the Chinese by ``scripts/translations.py singlehtml`` (``_build/singlehtml-zh``). This
serves that page on localhost, waits until MathJax has typeset every formula, and
prints it with the website's print stylesheet (book/_ext/static/lmbook.css: code wraps
at the margin, every chapter starts on a new page) into the edition's website, which
links to it. Before printing it fails if a code block would still be cut at the margin;
after, it gives the PDF's bookmarks the headings' text (:func:`retitle_outline`) and
checks the PDF (:func:`check_pdf`): enough pages, every font embedded, and Chinese text
(the glossary's terms; in the Chinese edition, chapter titles too) present as text,
which needs a CJK font on the machine (Debian: ``apt-get install fonts-wqy-microhei``;
macOS and Windows have one). Chromium embeds the part of it that the book uses.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import page_weight  # scripts/

ROOT = Path(__file__).resolve().parents[1]
SINGLE = ROOT / "_build" / "singlehtml"
PDF = ROOT / "_build" / "html" / "large-models-book.pdf"
MIN_PAGES = 300
CHINESE_TERMS = ("循环神经网络", "注意力机制", "词元")  # the glossary's, for RNN, attention, token
PAGE_STYLE = '<span style="font-size: 8px; width: 100%; text-align: center;">{}</span>'
# Every heading's text, in document order, without its "#" link.
HEADINGS = """() => [...document.querySelectorAll("h1, h2, h3, h4, h5, h6")].map((h) => {
  const copy = h.cloneNode(true);
  copy.querySelectorAll(".headerlink").forEach((link) => link.remove());
  return copy.textContent.replace(/\\s+/g, " ").trim();
})"""
# Code blocks that print wider than the page (the print stylesheet wraps them).
OVERFULL_CODE = """() => [...document.querySelectorAll("pre")]
  .filter((block) => block.scrollWidth > block.clientWidth + 1)
  .map((block) => block.textContent.slice(0, 60))"""


@dataclass(frozen=True)
class Edition:
    """Where an edition's single-page book is and its PDF goes, and what the PDF must hold."""

    single: Path  # the single-page build
    pdf: Path
    terms: tuple[str, ...]  # present as text somewhere in the PDF
    min_pages: int
    build: str  # the command that writes ``single``


EDITIONS = {
    "en": Edition(
        SINGLE, PDF, CHINESE_TERMS, MIN_PAGES, "jupyter-book build . --builder singlehtml"
    ),
    "zh_CN": Edition(
        ROOT / "_build" / "singlehtml-zh",
        ROOT / "_build" / "html" / "zh" / PDF.name,
        # Chapter titles as translated in locales/zh_CN/LC_MESSAGES/notebooks/, and the terms.
        ("大模型的兴起", "循环神经网络", "注意力机制与 Transformer", "大规模训练", "挑战与未来")
        + CHINESE_TERMS,
        MIN_PAGES,
        "python scripts/translations.py singlehtml",
    ),
}


def whole_book_page(single: Path = SINGLE, build: str = EDITIONS["en"].build) -> Path:
    """The one page of the single-page build, at the root its links are relative to.

    Jupyter Book writes it under the root document's name (book/intro.html) but with
    links relative to the build's root, so a copy at the root is the page to open.
    """
    page = single / "book" / "intro.html"
    if not page.is_file():
        raise FileNotFoundError(f"no single-page book at {page}: run `{build}`")
    copy = single / "whole-book.html"
    shutil.copyfile(page, copy)
    return copy


def print_book(page: Path, out: Path = PDF) -> dict:
    """Print ``page`` to ``out``; return what was seen on the way."""
    with page_weight.serve(page.parent) as base, page_weight.chromium() as browser:
        context = browser.new_context(viewport={"width": 1000, "height": 1400})
        tab = context.new_page()
        tab.goto(base + page.name, wait_until="networkidle")
        typeset = tab.evaluate(page_weight.TYPESET_SCRIPT, 180_000)
        if typeset != "done":
            raise RuntimeError(f"MathJax did not finish typesetting the book: {typeset}")
        untypeset = tab.evaluate(
            "document.querySelectorAll('.math:not(:has(mjx-container))').length"
        )
        tab.emulate_media(media="print")
        headings = tab.evaluate(HEADINGS)
        overfull = tab.evaluate(OVERFULL_CODE)
        if overfull:
            raise RuntimeError(f"{len(overfull)} code blocks print wider than the page: {overfull}")
        out.parent.mkdir(parents=True, exist_ok=True)
        tab.pdf(
            path=out,
            format="A4",
            print_background=True,
            margin={"top": "16mm", "bottom": "16mm", "left": "15mm", "right": "15mm"},
            display_header_footer=True,
            header_template=PAGE_STYLE.format('<span class="title"></span>'),
            footer_template=PAGE_STYLE.format('<span class="pageNumber"></span>'),
            outline=True,
            tagged=True,
        )
        context.close()
    retitle_outline(out, headings)
    return {"untypeset": untypeset}


def _squeezed(text: str) -> str:
    return re.sub(r"\s+", "", text)


def _printed_as(title: str, heading: str) -> bool:
    """Whether ``title`` is ``heading`` with a stretch of it printed twice (and spaces lost).

    Chromium repeats a fragment of a heading that breaks over lines: "A B" comes out as
    "AB", "AAB", "ABB" or "ABAB"; each is heading[:k] + heading[m:] with m <= k.
    """
    title, heading = _squeezed(title), _squeezed(heading)
    if not heading or not len(heading) <= len(title) <= 2 * len(heading):
        return False
    return any(
        title[:k] == heading[:k] and heading.endswith(title[k:]) for k in range(len(heading) + 1)
    )


def retitle_outline(path: Path, headings: list[str]) -> int:
    """Give the PDF's bookmarks the headings' own text; return how many were retitled.

    Chromium makes a bookmark for every heading, at the right page, but titles it with
    the text of the heading's printed lines: a line break loses its space, and a heading
    printed in two fragments comes out twice ("Training at scale8. Training at scale").
    Bookmarks and headings are in the same order, so each bookmark takes the text of
    the next heading that its title was printed from (:func:`_printed_as`).
    """
    from pypdf import PdfReader, PdfWriter

    reader = PdfReader(path)
    writer = PdfWriter(clone_from=reader)
    del writer.root_object["/Outlines"]
    pages = {page.indirect_reference.idnum: n for n, page in enumerate(reader.pages)}
    queue = list(headings)
    retitled = 0

    def copy(items: list, parent=None) -> None:
        nonlocal retitled
        last = None
        for item in items:
            if isinstance(item, list):
                copy(item, last)
                continue
            title = item.title
            for index, heading in enumerate(queue):
                if _printed_as(item.title, heading):
                    title = heading
                    retitled += title != item.title
                    del queue[: index + 1]
                    break
            page = pages[item.page.idnum] if hasattr(item.page, "idnum") else item.page
            last = writer.add_outline_item(title=title, page_number=page, parent=parent)

    copy(reader.outline)
    writer.write(path)
    return retitled


def check_pdf(
    path: Path = PDF, terms: tuple[str, ...] = CHINESE_TERMS, min_pages: int = MIN_PAGES
) -> dict:
    """Pages, fonts and Chinese text (``terms``) of the printed book; raises on a problem."""
    from pypdf import PdfReader

    reader = PdfReader(path)
    pages = len(reader.pages)
    if pages < min_pages:
        raise RuntimeError(f"the book printed to {pages} pages; expected at least {min_pages}")
    fonts, not_embedded = set(), set()
    for page in reader.pages:
        resources = page.get("/Resources") or {}
        for font in (resources.get("/Font") or {}).values():
            font = font.get_object()
            name = str(font.get("/BaseFont", font.get("/Subtype")))
            fonts.add(name)
            if font.get("/Subtype") == "/Type3":
                continue  # drawn by the PDF's own procedures: nothing to embed
            descriptor = font
            if font.get("/Subtype") == "/Type0":
                descriptor = font["/DescendantFonts"][0].get_object()
            descriptor = descriptor.get("/FontDescriptor")
            files = ("/FontFile", "/FontFile2", "/FontFile3")
            if descriptor is None or not any(k in descriptor.get_object() for k in files):
                not_embedded.add(name)
    if not_embedded:
        raise RuntimeError(f"fonts not embedded in the PDF: {sorted(not_embedded)}")
    missing = set(terms)
    for page in reversed(reader.pages):  # the glossary is an appendix
        text = _squeezed(page.extract_text() or "")  # a title may break over lines
        missing -= {term for term in missing if _squeezed(term) in text}
        if not missing:
            break
    if missing:
        raise RuntimeError(
            f"the Chinese text {sorted(missing)} is not in the PDF's text: install a CJK "
            "font (Debian: apt-get install fonts-wqy-microhei) and run `make pdf` again"
        )
    return {"pages": pages, "fonts": len(fonts), "bytes": path.stat().st_size}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("--language", choices=sorted(EDITIONS), default="en")
    edition = EDITIONS[parser.parse_args(argv).language]
    started = time.perf_counter()
    seen = print_book(whole_book_page(edition.single, edition.build), edition.pdf)
    if seen["untypeset"]:
        print(f"{seen['untypeset']} formulas were not typeset", file=sys.stderr)
        return 1
    report = check_pdf(edition.pdf, edition.terms, edition.min_pages)
    print(
        f"{edition.pdf.relative_to(ROOT)}: {report['pages']} pages, "
        f"{report['bytes'] / 1e6:.1f} MB, "
        f"{report['fonts']} fonts, all embedded; printed in "
        f"{time.perf_counter() - started:.0f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
