"""scripts/slides.py and the deck sources in slides/: what can be checked without a browser
(tests/site/test_slides.py opens the built decks)."""

import json
import re

import pytest
from conftest import ROOT, chapter_paths

import slides

DECKS = slides.deck_sources()
MINUTES = re.compile(r"\((\d+(?:\.\d+)?) min\)")
INCLUDE = re.compile(r"```\{include\} _figures/(fig-[\w-]+)\.md")


def outside_code(text: str) -> str:
    """The deck without its code blocks: a code comment ("# the gradient") is no title."""
    kept, fenced, code = [], False, False
    for line in text.splitlines():
        if not fenced and line.startswith("```"):
            fenced, code = True, not line.startswith("```{")
        elif fenced and line.strip() == "```":
            fenced = False
        elif not (fenced and code):
            kept.append(line)
    return "\n".join(kept)


def chapter_of(deck) -> str:
    """ch06b -> 06b, the prefix of its notebook's name."""
    return deck.stem.removeprefix("ch")


def test_one_deck_per_chapter_notebook():
    notebooks = sorted(path.name.split("_")[0] for path in chapter_paths())
    assert sorted(chapter_of(deck) for deck in DECKS) == notebooks


@pytest.mark.parametrize("deck", DECKS, ids=lambda p: p.stem)
def test_deck_fills_a_lecture(deck):
    text = deck.read_text(encoding="utf-8")
    prose = outside_code(text)
    slide_titles = re.findall(r"^# (.+)$", prose, re.MULTILINE)
    assert 18 <= len(slide_titles) <= 26, f"{len(slide_titles)} slides"
    assert not re.search(r"^##+ ", prose, re.MULTILINE), "a slide is a level-1 heading"
    notes = text.count("```{revealjs-notes}")
    assert notes == len(slide_titles), "speaker notes on every slide"
    minutes = sum(float(m) for m in MINUTES.findall(text))
    assert 45 <= minutes <= 60, f"the notes' minutes add up to {minutes}"
    assert any(title.startswith("Live:") for title in slide_titles), "a live-code slide"
    assert "$" in text, "the chapter's equations"


@pytest.mark.parametrize("deck", DECKS, ids=lambda p: p.stem)
def test_deck_shows_its_own_chapters_figures(deck):
    included = INCLUDE.findall(deck.read_text(encoding="utf-8"))
    assert included, "at least one of the chapter's figures"
    notebook = next(p for p in chapter_paths() if p.name.startswith(chapter_of(deck) + "_"))
    assert set(included) <= set(slides.figures(notebook)), "figures of this chapter only"


def test_every_named_figure_is_extracted_with_its_alt_text(tmp_path, monkeypatch):
    monkeypatch.setattr(slides, "FIGURES", tmp_path)
    count = slides.write_figures()
    named = sum(
        1
        for path in chapter_paths()
        for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]
        if cell.get("metadata", {}).get("mystnb", {}).get("figure", {}).get("name")
    )
    assert count == named > 60
    snippet = (tmp_path / "fig-02-1.md").read_text(encoding="utf-8")
    assert snippet.startswith("```{image} /_figures/fig-02-1.png\n:alt: Two panels")
    assert (tmp_path / "fig-02-1.png").read_bytes().startswith(b"\x89PNG")


def test_a_figure_without_an_image_is_an_error(tmp_path):
    notebook = tmp_path / "x.ipynb"
    cell = {"cell_type": "code", "metadata": {"mystnb": {"figure": {"name": "fig-x"}}}}
    notebook.write_text(json.dumps({"cells": [{**cell, "outputs": []}]}), encoding="utf-8")
    with pytest.raises(RuntimeError, match="fig-x has no image output"):
        slides.figures(notebook)


def test_slides_config_fetches_nothing_from_a_cdn():
    conf = (ROOT / "slides" / "conf.py").read_text(encoding="utf-8")
    assert "://" not in conf, "every asset of the decks is local"


def test_the_slides_page_links_every_deck_and_its_pdf():
    page = (ROOT / "book" / "slides.md").read_text(encoding="utf-8")
    for deck in DECKS:
        for suffix in ("html", "pdf"):
            assert f'href="../slides/{deck.stem}.{suffix}"' in page, f"{deck.stem}.{suffix}"
