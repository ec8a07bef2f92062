"""Build the lecture slides: a reveal.js deck and a PDF per chapter (make slides).

1. Every figure of the chapters is taken from the notebooks' committed outputs into
   slides/_figures/, with a snippet that carries its alt text, so that a deck shows the
   chapter's own figure by including `_figures/fig-02-1.md`.
2. sphinx-revealjs renders slides/ch*.md into _build/html/slides/ with the reveal.js it
   ships.
3. The maths is typeset in Node.js by the website's own code (book/_ext/lean_pages.py),
   so no deck loads MathJax, and MathJax's fonts are copied beside the decks.
4. Chromium prints each deck to _build/html/slides/<deck>.pdf, one slide a page.

Run it after the website's build (`make site-build`), which empties _build/html.
"""

from __future__ import annotations

import argparse
import base64
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "scripts"), str(ROOT / "book" / "_ext")]

import lean_pages  # noqa: E402
import page_weight  # noqa: E402
from offline_site import mathjax_source  # noqa: E402

SOURCE = ROOT / "slides"
FIGURES = SOURCE / "_figures"
OUT = ROOT / "_build" / "html" / "slides"
NOTEBOOKS = ROOT / "notebooks"
DECK = re.compile(r"ch\d\d[a-d]?")
FONTS = Path("output") / "chtml" / "fonts" / "woff-v2"
IMAGE_TYPES = ("image/png", "image/jpeg")
SLIDE_SIZE = {"width": "1280px", "height": "720px"}


def deck_sources(only: list[str] | None = None) -> list[Path]:
    decks = sorted(path for path in SOURCE.glob("ch*.md") if DECK.fullmatch(path.stem))
    return [path for path in decks if not only or path.stem in only]


def figures(notebook: Path) -> dict[str, tuple[bytes, str, str]]:
    """The named figures of ``notebook``: name -> (image bytes, file suffix, alt text)."""
    found = {}
    for cell in json.loads(notebook.read_text(encoding="utf-8"))["cells"]:
        mystnb = cell.get("metadata", {}).get("mystnb", {})
        name = mystnb.get("figure", {}).get("name")
        if not name:
            continue
        images = [
            (o["data"][kind], kind.split("/")[1])
            for o in cell.get("outputs", [])
            for kind in IMAGE_TYPES
            if kind in o.get("data", {})
        ]
        if not images:
            raise RuntimeError(f"{notebook.name}: figure {name} has no image output")
        image, suffix = images[-1]
        alt = mystnb.get("image", {}).get("alt", "")
        found[name] = (base64.b64decode(image), suffix, alt)
    return found


def write_figures() -> int:
    """Copy every chapter figure into slides/_figures/ with its include snippet."""
    FIGURES.mkdir(parents=True, exist_ok=True)
    count = 0
    for notebook in sorted(NOTEBOOKS.glob("*.ipynb")):
        for name, (image, suffix, alt) in figures(notebook).items():
            alt_line = " ".join(alt.split()) or name
            snippet = f"```{{image}} /_figures/{name}.{suffix}\n:alt: {alt_line}\n```\n"
            write_if_changed(FIGURES / f"{name}.{suffix}", image)
            write_if_changed(FIGURES / f"{name}.md", snippet.encode())
            count += 1
    return count


def write_if_changed(path: Path, content: bytes) -> None:
    """Leave an unchanged file alone, so that two builds at once do not trip each other."""
    if not path.exists() or path.read_bytes() != content:
        path.write_bytes(content)


def build(out: Path, only: list[str] | None = None) -> None:
    """Render the decks (those named in ``only``, else all) into ``out``."""
    shutil.rmtree(out, ignore_errors=True)
    source = SOURCE
    if only:
        # A source folder of its own, so that a deck being written elsewhere cannot fail it.
        source = out.with_name(out.name + "-source")
        shutil.rmtree(source, ignore_errors=True)
        source.mkdir(parents=True)
        for path in [*SOURCE.glob("*.py"), SOURCE / "index.md", *deck_sources(only)]:
            shutil.copy(path, source)
        for folder in ("_static", "_figures"):
            (source / folder).symlink_to(SOURCE / folder)
    sphinx = Path(sys.executable).with_name("sphinx-build")
    command = [str(sphinx), "-b", "revealjs", "-W", "--keep-going", "-q", str(source), str(out)]
    command += ["-d", str(out / ".doctrees")]
    subprocess.run(command, check=True)
    for leftover in ("_sources", "genindex.html", "search.html", "searchindex.js", ".doctrees"):
        path = out / leftover
        shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)


def typeset_pages(out: Path, pages: list[Path]) -> None:
    """Typeset the maths of ``pages`` (HTML files under ``out``) with MathJax in Node.js,
    as the website's build does, and copy MathJax's fonts to where they point."""
    node = lean_pages.node()
    if node is None:
        raise SystemExit("typesetting maths needs Node.js (README: Requirements)")
    es5 = mathjax_source() / "es5"
    for page in pages:
        lean_pages.typeset(page, out, es5, node)
    shutil.copytree(es5 / FONTS, out / "_static" / "mathjax" / FONTS, dirs_exist_ok=True)
    lean_pages.subset_maths_fonts(out)


def typeset_decks(out: Path, only: list[str] | None = None) -> list[Path]:
    """Typeset every deck's maths in Node.js; copy MathJax's fonts beside the decks."""
    decks = sorted(out / f"{path.stem}.html" for path in deck_sources(only))
    typeset_pages(out, decks)
    for page in out.glob("*.html"):
        # Sphinx adds the MathJax loader to pages without maths too (the index): no page
        # loads it, since the maths is typeset.
        text = page.read_text(encoding="utf-8")
        page.write_text(lean_pages.MATHJAX_SCRIPTS.sub("", text), encoding="utf-8")
    for deck in decks:
        text = deck.read_text(encoding="utf-8")
        if "cdn.jsdelivr" in text or "mathjax@" in text:
            raise RuntimeError(f"{deck.name} still loads MathJax from a CDN")
    return decks


# Each slide's title and how far its content reaches below the slide's bottom edge, in
# pixels of the 1280×720 slide (a positive overflow is content cut off in the lecture).
OVERFLOW_SCRIPT = """() => Reveal.getSlides().map((slide, index) => {
    Reveal.slide(index);
    const top = slide.getBoundingClientRect().top;
    const scale = Reveal.getScale();
    let bottom = top;
    for (const child of slide.querySelectorAll('*')) {
        if (child.closest('aside.notes')) continue;
        bottom = Math.max(bottom, child.getBoundingClientRect().bottom);
    }
    const title = slide.querySelector('h1');
    return [title ? title.textContent.trim() : '', Math.round((bottom - top) / scale - 720)];
})"""


def overflowing(tab) -> list[tuple[str, int]]:
    """The slides of the open deck whose content does not fit: (title, pixels over)."""
    return [(title, over) for title, over in tab.evaluate(OVERFLOW_SCRIPT) if over > 0]


def print_decks(out: Path, decks: list[Path], pdf: bool = True) -> dict[str, dict]:
    """Count each deck's slides, find those that overflow, print it to PDF."""
    found = {}
    with page_weight.serve(out) as base, page_weight.chromium() as browser:
        context = browser.new_context(viewport={"width": 1280, "height": 720})
        tab = context.new_page()
        for deck in decks:
            tab.goto(f"{base}{deck.name}", wait_until="networkidle")
            tab.wait_for_function("window.Reveal && Reveal.isReady()")
            found[deck.stem] = {
                "slides": tab.evaluate("Reveal.getTotalSlides()"),
                "overflowing": overflowing(tab),
            }
            if pdf:
                tab.goto(f"{base}{deck.name}?print-pdf", wait_until="networkidle")
                tab.wait_for_function("window.Reveal && Reveal.isReady()")
                tab.pdf(path=deck.with_suffix(".pdf"), print_background=True, **SLIDE_SIZE)
        context.close()
    return found


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT, help="where to build the decks")
    parser.add_argument("--no-pdf", action="store_true", help="skip printing the PDFs")
    parser.add_argument("--decks", nargs="+", help="build only these decks (ch02 ch06a)")
    arguments = parser.parse_args(argv)
    out = arguments.out.resolve()
    count = write_figures()
    build(out, arguments.decks)
    decks = typeset_decks(out, arguments.decks)
    found = print_decks(out, decks, pdf=not arguments.no_pdf)
    failed = False
    for deck, seen in found.items():
        print(f"{deck}: {seen['slides']} slides")
        for title, over in seen["overflowing"]:
            print(f"  slide '{title}' overflows the slide by {over} px", file=sys.stderr)
            failed = True
    print(f"{len(decks)} decks ({count} chapter figures available) in {out}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
