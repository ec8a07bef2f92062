"""The lecture slides as a class sees them: every deck in headless Chromium, offline.

make slides (scripts/slides.py) builds them into _build/html/slides/ after the website.
"""

import os
from pathlib import Path

import page_weight  # scripts/, on the path through conftest
import pytest
from conftest import chapter_paths
from pypdf import PdfReader

import slides

CHAPTERS = chapter_paths()
MIN_SLIDES = 15


def deck_names() -> list[str]:
    return [path.stem for path in slides.deck_sources()]


@pytest.fixture(scope="module")
def decks(html_root):
    folder = html_root / "slides"
    if not folder.is_dir():
        pytest.fail("the slides are not built: run `make slides` (make book and make test do)")
    return folder


@pytest.fixture(scope="module")
def browser():
    if not Path(page_weight.CHROMIUM).is_file():
        if os.environ.get("LMBOOK_SKIP_BROWSER") == "1":
            pytest.skip("LMBOOK_SKIP_BROWSER=1: browser tests skipped")
        pytest.fail(f"no Chromium at {page_weight.CHROMIUM}: install it or set CHROMIUM")
    with page_weight.chromium() as chromium:
        yield chromium


@pytest.fixture(scope="module")
def seen(browser, decks):
    """Each deck opened once: its load record, slide count, maths and overflowing slides."""
    found = {}
    with page_weight.serve(decks) as base:
        for name in deck_names():
            load, page = page_weight.visit(browser, f"{base}{name}.html", keep_open=True)
            page.wait_for_function("window.Reveal && Reveal.isReady()")
            found[name] = {
                "load": load,
                "slides": page.evaluate("Reveal.getTotalSlides()"),
                "maths": page.evaluate("document.querySelectorAll('mjx-container').length"),
                "raw_tex": page.evaluate(
                    "[...document.querySelectorAll('.reveal .slides section')]"
                    ".filter(s => /\\\\\\(|\\\\\\[/.test(s.innerText)).length"
                ),
                "overflowing": slides.overflowing(page),
            }
            page.context.close()
    return found


def test_there_is_a_deck_for_every_chapter():
    decks = {name.removeprefix("ch") for name in deck_names()}
    chapters = {path.name.split("_")[0].lstrip("0") for path in CHAPTERS}
    assert {d.lstrip("0") for d in decks} == chapters


def test_every_deck_loads_from_localhost_only(seen):
    for name, deck in seen.items():
        load = deck["load"]
        assert load.status == 200, name
        assert not load.offsite, f"{name} asked the internet for {load.offsite}"
        assert not load.failed and not load.console_errors, (name, load.failed)


def test_every_deck_has_enough_slides(seen):
    counts = {name: deck["slides"] for name, deck in seen.items()}
    assert all(count >= MIN_SLIDES for count in counts.values()), counts


def test_the_maths_of_every_deck_is_typeset(seen):
    for name, deck in seen.items():
        assert deck["maths"] > 0, f"{name} shows no typeset formula"
        assert deck["raw_tex"] == 0, f"{name}: {deck['raw_tex']} slides show raw TeX"


def test_no_slide_overflows(seen):
    overflowing = {name: deck["overflowing"] for name, deck in seen.items() if deck["overflowing"]}
    assert not overflowing, overflowing


def test_every_deck_is_a_pdf_with_a_page_per_slide(seen, decks):
    for name, deck in seen.items():
        pdf = decks / f"{name}.pdf"
        assert pdf.is_file(), f"{pdf.name} was not printed"
        assert len(PdfReader(pdf).pages) == deck["slides"], name
