"""The built website in a real browser: headless Chromium over _build/html on localhost.

Chromium is Debian's (``apt-get install chromium``; ``.ci/run`` installs it), driven by
Playwright; ``CHROMIUM`` names another binary. Every request to a host other than
localhost is recorded and aborted, so a page that needs the internet fails here.
"""

import contextlib
import json
import os
from pathlib import Path
from urllib.parse import urljoin

import page_weight  # scripts/, on the path through conftest
import pytest
from conftest import ROOT, chapter_paths, colab_url
from playwright.sync_api import TimeoutError as PlaywrightTimeout

CHAPTERS = chapter_paths()
MATH_CHAPTER = "notebooks/02_neural_network_math.html"
SEARCH_TERM, SEARCH_HIT = "backpropagation", "notebooks/02_neural_network_math.html"


def chapter_page(notebook: Path) -> str:
    return notebook.relative_to(ROOT).with_suffix(".html").as_posix()


@pytest.fixture(scope="module")
def browser():
    if not Path(page_weight.CHROMIUM).is_file():
        if os.environ.get("LMBOOK_SKIP_BROWSER") == "1":
            pytest.skip("LMBOOK_SKIP_BROWSER=1: browser tests skipped")
        pytest.fail(
            f"no Chromium at {page_weight.CHROMIUM}: install it (Debian: apt-get install "
            "chromium), set CHROMIUM to its path, or set LMBOOK_SKIP_BROWSER=1 to skip"
        )
    with page_weight.chromium() as chromium:
        yield chromium


@pytest.fixture(scope="module")
def site(html_root):
    with page_weight.serve(html_root) as base:
        yield base


@pytest.fixture(scope="module")
def loads(browser, site, html_root):
    """Every page loaded once; the weights also go to _build/page-weights.csv."""
    records = {
        page: page_weight.visit(browser, site + page)[0]
        for page in page_weight.site_pages(html_root)
    }
    page_weight.write_report(records, html_root.parent / "page-weights.csv")
    return records


@pytest.fixture
def open_page(browser, site):
    pages = []

    def open_(path: str):
        load, page = page_weight.visit(browser, site + path, keep_open=True)
        pages.append(page)
        return load, page

    yield open_
    for page in pages:
        page.context.close()


def test_the_recorder_catches_offsite_requests(browser, tmp_path):
    (tmp_path / "index.html").write_text(
        '<img src="https://cdn.example.com/logo.png"><script src="http://example.org/a.js">'
        "</script><p>offline?</p>",
        encoding="utf-8",
    )
    with page_weight.serve(tmp_path) as base:
        load, _ = page_weight.visit(browser, base + "index.html")
    assert load.status == 200
    assert sorted(load.offsite) == ["http://example.org/a.js", "https://cdn.example.com/logo.png"]


def test_every_page_loads_from_localhost_only(loads):
    assert len(loads) >= len(CHAPTERS) + 5
    problems = {
        page: {
            k: v
            for k, v in vars(load).items()
            if k in {"status", "console_errors", "failed", "offsite"}
        }
        for page, load in loads.items()
        if load.status != 200 or load.console_errors or load.failed or load.offsite
    }
    assert not problems, json.dumps(problems, indent=1)[:3000]


def test_chapter_pages_weigh_under_the_limit(loads):
    chapters = {page: load for page, load in loads.items() if page_weight.is_chapter(page)}
    assert len(chapters) == len(CHAPTERS)
    heavy = {p: x.weight for p, x in chapters.items() if x.weight > page_weight.CHAPTER_LIMIT_BYTES}
    assert not heavy, f"over {page_weight.CHAPTER_LIMIT_BYTES:,} bytes: {heavy}"
    limit = page_weight.CHAPTER_GZIPPED_LIMIT_BYTES
    gzipped = {p: x.compressed_weight for p, x in chapters.items()}
    assert not {p: w for p, w in gzipped.items() if w > limit}, f"over {limit:,} bytes gzipped"
    assert all(0 < gzipped[p] < chapters[p].weight for p in chapters)


def test_every_page_with_maths_has_its_typesetting_time_recorded(loads, html_root):
    report = (html_root.parent / "page-weights.csv").read_text(encoding="utf-8").splitlines()
    assert report[0] == "page,bytes,gzipped_bytes,files,maths_typeset_ms"
    timed = {line.split(",")[0]: line.split(",")[-1] for line in report[1:]}
    for page, load in loads.items():
        uses_maths = "<mjx-container" in (html_root / page).read_text(encoding="utf-8")
        assert (load.typeset_ms is not None) == uses_maths, page
        assert timed[page] == ("" if load.typeset_ms is None else str(round(load.typeset_ms)))


def test_pages_load_only_the_scripts_they_need(loads, html_root):
    for page, load in loads.items():
        text = (html_root / page).read_text(encoding="utf-8")
        assert "_static/mathjax/startup.js" not in text, (
            f"{page} typesets its maths in the browser: install Node.js, which the build "
            "uses to typeset it (book/_ext/lean_pages.py)"
        )
        scripts = [url for url in load.bytes_by_url if url.split("?")[0].endswith(".js")]
        assert not any("/_static/mathjax/" in url for url in scripts), page
        assert not any("fontawesome.js" in url or "thebe" in url for url in scripts), page
        assert len(scripts) <= 14, f"{page} loads {len(scripts)} scripts"
        fonts = [url for url in load.bytes_by_url if "/_static/mathjax/" in url]
        assert not fonts or "<mjx-container" in text, f"{page} loads maths fonts it never uses"
    assert not any("/_static/mathjax/" in url for url in loads["book/intro.html"].bytes_by_url)


def test_fonts_and_stylesheets_are_cut_to_what_the_site_uses(loads):
    """Font Awesome's 2,000 icons (274 kB of fonts), Bootstrap's unused rules and the
    glyphs no formula draws are left out (book/_ext/lean_pages.py)."""
    for page, load in loads.items():
        for url, size in load.bytes_by_url.items():
            path = url.split("?")[0]
            if "/fontawesome/" in path:
                assert path.endswith(".subset.woff") and size < 10_000, (page, url, size)
            if path.endswith("pydata-sphinx-theme.css"):
                assert size < 150_000, (page, url, size)
            if "/_static/mathjax/" in path:
                assert path.endswith(".woff") and size < 30_000, (page, url, size)


def lay_out_every_block(page) -> None:
    """Lay out the whole page, as a reader scrolling through it sees it: lmbook.css skips
    the layout of blocks off screen, whose sizes and visibility would then be unknown."""
    page.add_style_tag(content="* { content-visibility: visible !important; }")


def test_math_is_typeset(open_page):
    load, page = open_page(MATH_CHAPTER)
    lay_out_every_block(page)
    assert not load.console_errors, load.console_errors
    rendered = page.locator("mjx-container").count()
    sources = page.locator(".math").count()
    untypeset = page.locator(".math:not(:has(mjx-container))").count()
    assert rendered >= 20 and sources >= 20, (rendered, sources)
    assert untypeset == 0, f"{untypeset} of {sources} formulas were not typeset"
    prose = page.locator("article p, article li").all_inner_texts()
    assert not [text for text in prose if "$$" in text or "\\(" in text or "\\[" in text]
    # Drawn in MathJax's fonts (subset by the build), not in a fallback font.
    loaded = page.evaluate(
        "document.fonts.ready.then(() => [...document.fonts]"
        ".filter(face => face.status === 'loaded').map(face => face.family.replace(/\"/g, '')))"
    )
    assert {"MJXTEX", "MJXTEX-I"} <= set(loaded), loaded


def search_hits(open_page, search_page: str) -> list[str]:
    """The addresses the site's search lists for ``search_page`` (``search.html?q=...``)."""
    _, page = open_page(search_page)
    page.wait_for_selector("#search-results ul.search li", timeout=20_000)
    return page.locator("#search-results ul.search li a").evaluate_all(
        "links => links.map(link => link.href)"
    )


def test_search_finds_a_chapter_term(open_page):
    hits = search_hits(open_page, f"search.html?q={SEARCH_TERM}")
    assert any(SEARCH_HIT in hit for hit in hits), hits[:10]


def test_chinese_search_finds_a_chapter_term(open_page):
    """反向传播 (backpropagation), typed as a Chinese reader would, without spaces."""
    hits = search_hits(open_page, "zh/search.html?q=反向传播")
    assert any(SEARCH_HIT in hit for hit in hits), hits[:10]


@pytest.mark.parametrize("notebook", CHAPTERS, ids=lambda p: p.name)
def test_chapter_buttons_work(open_page, config, notebook):
    _, page = open_page(chapter_page(notebook))
    colab = page.locator('a[href*="colab.research.google.com"]').evaluate_all(
        "links => links.map(link => link.href)"
    )
    assert colab and set(colab) == {colab_url(config, notebook)}, colab
    download = page.locator("a.btn-download-source-button").get_attribute("href")
    assert download and download.endswith(f"{notebook.name}"), download
    answer = page.context.request.get(urljoin(page.url, download))
    assert answer.status == 200
    served = json.loads(answer.body())
    committed = json.loads(notebook.read_text(encoding="utf-8"))
    assert len(served["cells"]) == len(committed["cells"])
    source = page.locator("a.btn-source-notebook-button").get_attribute("href")
    repository = config["repository"]["url"].rstrip("/")
    assert source == f"{repository}/blob/main/{notebook.relative_to(ROOT).as_posix()}"
    assert page.locator("button.copybtn").count() > 0, "code cells have no copy button"


def test_solutions_are_collapsed(open_page):
    _, page = open_page("notebooks/04_recurrent_networks.html")
    lay_out_every_block(page)
    toggles = page.locator(".cell.tag_solution details, .tag_solution .toggle-details")
    dropdowns = page.locator("details.dropdown, .admonition.dropdown")
    assert toggles.count() + dropdowns.count() > 0
    solution_code = page.locator(".cell.tag_solution .cell_input")
    checker_output = page.locator(".cell.tag_exercise.tag_hide-output .cell_output")
    assert solution_code.count() >= 3 and checker_output.count() >= 3
    # A written solution (a <details> block in the notebook) is a folded dropdown here.
    written = page.locator(".admonition.dropdown > :not(.admonition-title)")
    assert written.count() >= 1
    # Both kinds of solution fold under the same title.
    titles = page.locator(
        ".cell.tag_solution summary .collapsed, .admonition.dropdown > .admonition-title"
    ).all_inner_texts()
    assert {title.split("\n")[0].strip() for title in titles} == {"Solution"}, set(titles)
    for cells in (solution_code, checker_output, written):
        for index in range(cells.count()):
            assert not cells.nth(index).is_visible(), "a solution or answer shows unfolded"


def test_screenshots(open_page, html_root):
    folder = html_root.parent / "screenshots"
    folder.mkdir(exist_ok=True)
    for name, path in (("home", "index.html"), ("chapter-02", MATH_CHAPTER)):
        _, page = open_page(path)
        lay_out_every_block(page)
        if path == MATH_CHAPTER:  # show typeset math
            page.locator("mjx-container[display]").nth(3).scroll_into_view_if_needed()
        page.screenshot(path=folder / f"{name}.png")
        assert (folder / f"{name}.png").stat().st_size > 20_000


# Phones and tablets: the themes open the sidebars as <dialog>s below 992 px.
SMALL_SCREENS = {"phone": (390, 844), "tablet": (768, 1024)}
DRAWERS = {  # the visible button, the dialog it opens, the sidebar whose content moves there
    "chapters": (".header-article-items .primary-toggle", "pst-primary-sidebar"),
    "contents": (".header-article-items .secondary-toggle", "pst-secondary-sidebar"),
}
DRAWER_STATE = """(id) => {
  const dialog = document.getElementById(id + "-modal");
  const box = dialog.getBoundingClientRect();
  const link = [...dialog.querySelectorAll("a")].find(a => a.getBoundingClientRect().height > 0);
  let tappable = false;
  if (link) {
    const r = link.getBoundingClientRect();
    const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
    tappable = !!hit && (hit === link || link.contains(hit));
  }
  return {open: dialog.open, left: box.left, right: box.right, width: box.width, tappable,
          back: document.getElementById(id).children.length};
}"""


def settled(page, sidebar: str, condition: str, timeout_ms: int = 3_000) -> dict:
    """The drawer's state once ``condition`` holds (the themes animate), or after a wait."""
    with contextlib.suppress(PlaywrightTimeout):
        page.wait_for_function(
            f"(id) => ({condition})(({DRAWER_STATE})(id))", arg=sidebar, timeout=timeout_ms
        )
    return page.evaluate(DRAWER_STATE, sidebar)


@pytest.fixture(scope="module", params=list(SMALL_SCREENS), ids=list(SMALL_SCREENS))
def small_screen(request, browser, site, html_root):
    """Every page loaded at the screen's size, once: {page: the open page}. The Chinese
    edition's pages (zh/), built from the same templates, are checked on the phone only."""
    width, height = SMALL_SCREENS[request.param]
    pages = {}
    for path in page_weight.site_pages(html_root):
        if request.param != "phone" and path.startswith("zh/"):
            continue
        _, pages[path] = page_weight.visit(
            browser, site + path, keep_open=True, width=width, height=height
        )
    yield width, pages
    for page in pages.values():
        page.context.close()


def test_no_page_is_wider_than_a_small_screen(small_screen):
    width, pages = small_screen
    wide = {}
    for path, page in pages.items():
        lay_out_every_block(page)
        wide[path] = page.evaluate("document.documentElement.scrollWidth")
    assert {path: w for path, w in wide.items() if w > width} == {}, f"pages wider than {width}"


def test_the_language_switch_sits_in_the_header_row(small_screen):
    """The switch is inside the header's 3rem row with the buttons, not stacked below."""
    _, pages = small_screen
    for path in (chapter_page(CHAPTERS[0]), "zh/" + chapter_page(CHAPTERS[0])):
        if path not in pages:
            continue  # the Chinese pages are loaded at phone width only
        page = pages[path]
        row = page.locator(".header-article-items").first.bounding_box()
        switch = page.locator(".lmbook-language-switch").first.bounding_box()
        assert switch and row["y"] <= switch["y"]
        assert switch["y"] + switch["height"] <= row["y"] + row["height"] + 1, (path, switch, row)


def test_drawers_open_and_close_on_a_small_screen(small_screen):
    width, pages = small_screen
    failures = []
    for path, page in pages.items():
        for name, (button, sidebar) in DRAWERS.items():
            toggle = page.locator(button)
            if name == "contents" and not toggle.count():
                continue  # a page without sections has no contents
            if not toggle.is_visible():
                failures.append(f"{path}: no visible {name} button")
                continue
            toggle.click()
            opened = settled(page, sidebar, "(s) => s.open && s.tappable")
            page.keyboard.press("Escape")
            closed = settled(page, sidebar, "(s) => !s.open && s.back > 0")
            on_screen = opened["width"] > 100 and 0 <= opened["left"] and opened["right"] <= width
            if not (opened["open"] and on_screen and opened["tappable"]):
                failures.append(f"{path}: the {name} drawer did not open usably: {opened}")
            if closed["open"] or not closed["back"]:
                failures.append(f"{path}: Escape did not close the {name} drawer: {closed}")
    assert not failures, "\n".join(failures)


def test_search_ranks_the_teaching_chapter_first_and_links_sections(open_page):
    _, page = open_page("search.html?q=attention")
    results = page.locator("#search-results ul.search li")
    results.first.wait_for(timeout=20_000)
    page.wait_for_function(  # every snippet fetched and shown
        "() => [...document.querySelectorAll('#search-results ul.search li')]"
        ".every(li => li.querySelector('p.context'))",
        timeout=20_000,
    )
    hits = results.evaluate_all(
        "items => items.map(li => [li.querySelector('a').href, li.innerText])"
    )
    chapters = [href for href, _ in hits if "/notebooks/" in href]
    assert "05_attention_and_transformers.html" in chapters[0], chapters[:3]
    assert any("#" in href for href in chapters), "no result links to a section"
    snippets = " ".join(text for _, text in hits)
    assert "vaswani2017attention" not in snippets and "\\(" not in snippets
    icon, text_starts = page.evaluate(
        """() => { const form = document.querySelector("#search-results")
                     .parentElement.querySelector("form.bd-search");
                   const input = form.querySelector("input");
                   return [form.querySelector(".fa-magnifying-glass, svg")
                             .getBoundingClientRect().right,
                           input.getBoundingClientRect().left
                             + parseFloat(getComputedStyle(input).paddingLeft)]; }"""
    )
    assert icon <= text_starts, "the magnifier covers the query's first letter"
