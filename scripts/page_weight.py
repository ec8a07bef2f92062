"""Measure the weight of each page of the built website, as a browser loads it.

Run after `make book`: ``.venv/bin/python scripts/page_weight.py``. It serves
``_build/html`` on localhost, opens every page in headless Chromium (Debian's
``chromium``, driven by Playwright), waits until the page and its math are done,
and adds up the bytes of every response: the HTML, scripts, stylesheets, fonts,
images and the MathJax fonts the page fetched, as served from disk and as a server
that gzips its responses sends them (GitHub Pages does; PNG, JPEG and WOFF gain
nothing). It also notes when the maths of the first screen was drawn, counted from the
start of the navigation: the maths is typeset when the site is built
(book/_ext/lean_pages.py), so that is when the page is parsed, laid out and MathJax's
fonts have loaded (or when the browser-side MathJax finished, where the build had no
Node.js). It prints one line per page, heaviest first, writes the table to
``_build/page-weights.csv``, names the pages whose maths took over ``MATHS_LIMIT_MS``
and exits with status 1 if a chapter page weighs more than ``CHAPTER_LIMIT_BYTES``, or
``CHAPTER_GZIPPED_LIMIT_BYTES`` gzipped.

The browser tests (tests/site/test_browser.py) use the same functions.
"""

import contextlib
import csv
import functools
import gzip
import http.server
import os
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHAPTER_LIMIT_BYTES = 1_500_000  # as served from disk
CHAPTER_GZIPPED_LIMIT_BYTES = 1_000_000  # as a gzipping server (GitHub Pages) sends it
# The target for the time from navigation to the first screen's maths drawn, on
# localhost: reported, never asserted (a wall-clock time depends on the machine's load).
MATHS_LIMIT_MS = 1_000
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
# No sandbox (CI runs as root); no background connections of Chromium's own, which a
# closed network refuses and which are not the site's requests.
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def site_pages(html_root: Path = HTML) -> list[str]:
    """Every page of the book's site, as paths relative to ``html_root``; the lecture
    decks in slides/ are reveal.js presentations, which tests/site/test_slides.py opens."""
    if not (html_root / "index.html").is_file():
        raise FileNotFoundError(f"no built website at {html_root}: run `make book` first")
    return sorted(
        page.relative_to(html_root).as_posix()
        for page in html_root.rglob("*.html")
        if not {"_static", "_sources", "slides"} & set(page.relative_to(html_root).parts)
    )


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@contextlib.contextmanager
def serve(html_root: Path = HTML) -> Iterator[str]:
    """Serve ``html_root`` on a free localhost port; yields the base URL."""
    handler = functools.partial(QuietHandler, directory=str(html_root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def chromium() -> Iterator[object]:
    """A headless Chromium (Playwright ``Browser``); Playwright's own download is not used."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).is_file():
        raise FileNotFoundError(
            f"no Chromium at {CHROMIUM}: install it (Debian: apt-get install chromium) "
            "or set CHROMIUM to its path"
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            yield browser
        finally:
            browser.close()


MATHJAX_TIMEOUT_MS = 20_000
# Resolves "done" once MathJax has typeset the page (at once on a page without it), or
# says why not: a missing component leaves MathJax's promise pending for ever.
TYPESET_SCRIPT = """async (timeout) => {
  const promise = window.MathJax?.startup?.promise;
  if (!promise) return "done";
  const late = new Promise(
    (resolve) => setTimeout(() => resolve(`timed out after ${timeout} ms`), timeout)
  );
  try { return await Promise.race([promise.then(() => "done"), late]); }
  catch (error) { return String(error); }
}"""


# Notes, in every page before its own scripts run, when its maths is on screen
# (milliseconds since the navigation started). Maths typeset when the site was built
# (book/_ext/lean_pages.py) is there once the page is parsed, laid out and MathJax's
# fonts have loaded; maths typeset in the browser, when MathJax's promise resolves.
TYPESET_CLOCK = """
document.addEventListener("DOMContentLoaded", () => {
  if (window.MathJax || !document.querySelector("mjx-container")) return;
  void document.body.offsetHeight;  // lay the page out: its fonts are requested
  document.fonts.ready.then(() => { window.lmbookTypesetAt = performance.now(); });
});
const lmbookClock = setInterval(() => {
  const promise = window.MathJax?.startup?.promise;
  if (!promise) return;
  clearInterval(lmbookClock);
  promise.then(() => { window.lmbookTypesetAt = performance.now(); });
}, 2);
"""


@dataclass
class PageLoad:
    """What happened while a page loaded."""

    url: str
    status: int = 0
    console_errors: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    offsite: list[str] = field(default_factory=list)
    bytes_by_url: dict[str, int] = field(default_factory=dict)
    compressed_by_url: dict[str, int] = field(default_factory=dict)
    typeset_ms: float | None = None  # from navigation to maths on screen; None without

    @property
    def weight(self) -> int:
        return sum(self.bytes_by_url.values())

    @property
    def compressed_weight(self) -> int:
        """The bytes a server that gzips its responses sends (GitHub Pages does)."""
        return sum(self.compressed_by_url.values())


def compressed_size(body: bytes) -> int:
    """A response's size as a gzipping server sends it: PNG, JPEG and WOFF2 are
    compressed already, so gzip gains nothing there and the smaller size counts."""
    return min(len(body), len(gzip.compress(body, compresslevel=6)))


def visit(
    browser: object,
    url: str,
    *,
    keep_open: bool = False,
    width: int = 1280,
    height: int = 900,
) -> tuple[PageLoad, object]:
    """Load ``url`` in a fresh browser context and record what it fetched.

    Requests to any host but localhost are recorded in ``offsite`` and aborted, as a
    classroom without internet would see them. Waits for MathJax to finish typesetting
    where the page loads it. Returns the record and the page (closed unless
    ``keep_open``). ``width`` and ``height`` are the viewport's, in CSS pixels; below
    992 a phone's or a tablet's (touch, and twice the pixels per CSS pixel).
    """
    from playwright.sync_api import Error as PlaywrightError

    small = width < 992
    context = browser.new_context(
        viewport={"width": width, "height": height},
        has_touch=small,
        is_mobile=small,
        device_scale_factor=2 if small else 1,
    )
    page = context.new_page()
    load = PageLoad(url)

    def route(route):
        if urlsplit(route.request.url).hostname in LOCAL_HOSTS:
            route.continue_()
        else:
            load.offsite.append(route.request.url)
            route.abort()

    def finished(request):
        size = request.sizes()["responseBodySize"]
        load.bytes_by_url[request.url] = size
        answer = request.response()
        try:
            body = answer.body() if answer is not None else b""
        except PlaywrightError:
            # A response the page moved on from (reveal.js sets its slide in the URL) no
            # longer has a body to read: count it as sent uncompressed.
            load.compressed_by_url[request.url] = size
            return
        load.compressed_by_url[request.url] = compressed_size(body)

    def console(message):
        if message.type == "error":
            load.console_errors.append(message.text)

    def response(answer):
        if answer.status >= 400:
            load.failed.append(f"{answer.status} {answer.url}")

    page.add_init_script(TYPESET_CLOCK)
    page.route("**/*", route)
    page.on("requestfinished", finished)
    page.on("console", console)
    page.on("pageerror", lambda error: load.console_errors.append(str(error)))
    page.on("response", response)
    page.on("requestfailed", lambda r: load.failed.append(f"{r.failure} {r.url}"))
    answer = page.goto(url, wait_until="networkidle")
    load.status = answer.status if answer else 0
    # index.html forwards to the first page; wait for it before asking for MathJax.
    page.wait_for_load_state("networkidle")
    typeset = page.evaluate(TYPESET_SCRIPT, MATHJAX_TIMEOUT_MS)
    if typeset != "done":
        load.console_errors.append(f"MathJax did not finish typesetting: {typeset}")
    page.wait_for_function(
        "window.lmbookTypesetAt !== undefined || !document.querySelector('mjx-container')",
        timeout=MATHJAX_TIMEOUT_MS,
    )
    load.typeset_ms = page.evaluate("window.lmbookTypesetAt ?? null")
    page.wait_for_load_state("networkidle")
    if not keep_open:
        context.close()
    return load, page


def measure(html_root: Path = HTML) -> dict[str, PageLoad]:
    """Load every page of the site in Chromium; the record of each, by page."""
    pages = site_pages(html_root)
    with serve(html_root) as base, chromium() as browser:
        return {page: visit(browser, base + page)[0] for page in pages}


def is_chapter(page: str) -> bool:
    return page.startswith("notebooks/")


def write_report(loads: dict[str, PageLoad], report: Path) -> list[str]:
    """Write each page's weight and typesetting time, heaviest first, to ``report``
    (CSV); print it too. Returns the chapter pages over a limit of weight."""
    too_heavy = []
    report.parent.mkdir(parents=True, exist_ok=True)
    with report.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["page", "bytes", "gzipped_bytes", "files", "maths_typeset_ms"])
        for page, load in sorted(loads.items(), key=lambda item: -item[1].weight):
            typeset = "" if load.typeset_ms is None else round(load.typeset_ms)
            writer.writerow(
                [page, load.weight, load.compressed_weight, len(load.bytes_by_url), typeset]
            )
            print(
                f"{load.weight / 1e6:6.2f} MB, gzipped {load.compressed_weight / 1e6:5.2f} MB"
                f"  {len(load.bytes_by_url):3d} files  maths {typeset or '-':>5} ms  {page}"
            )
            if is_chapter(page) and (
                load.weight > CHAPTER_LIMIT_BYTES
                or load.compressed_weight > CHAPTER_GZIPPED_LIMIT_BYTES
            ):
                too_heavy.append(page)
    slow = [page for page, load in loads.items() if (load.typeset_ms or 0) > MATHS_LIMIT_MS]
    if slow:  # reported, not a failure: a busy machine is slower (see the module's notes)
        print(f"maths drawn after more than {MATHS_LIMIT_MS} ms: {', '.join(slow)}")
    print(f"written to {report}")
    return too_heavy


def main(argv: list[str]) -> int:
    html_root = Path(argv[0]) if argv else HTML
    too_heavy = write_report(measure(html_root), html_root.parent / "page-weights.csv")
    if too_heavy:
        print(
            f"over {CHAPTER_LIMIT_BYTES / 1e6:.1f} MB, or {CHAPTER_GZIPPED_LIMIT_BYTES / 1e6:.1f}"
            f" MB gzipped: {', '.join(too_heavy)}"
        )
    return 1 if too_heavy else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
