"""List the link targets of the book: each page and the anchors of its headings.

Appendix pages link into chapters as ``[text](../notebooks/NAME.ipynb#anchor)``; the
anchors are the ones MyST derives from headings of levels 1 to 3 (``myst_heading_anchors``
in ``_config.yml``). Run ``.venv/bin/python scripts/anchors.py [PAGE ...]`` to print them.
"""

import json
import re
import sys
from pathlib import Path

from myst_parser.mdit_to_docutils.base import default_slugify

ROOT = Path(__file__).resolve().parents[1]
HEADING = re.compile(r"^(#{1,3})\s+(.+?)\s*#*\s*$")


def markdown_of(page: Path) -> list[str]:
    if page.suffix == ".ipynb":
        cells = json.loads(page.read_text(encoding="utf-8"))["cells"]
        return ["".join(c["source"]) for c in cells if c["cell_type"] == "markdown"]
    return [page.read_text(encoding="utf-8")]


def anchors(page: Path) -> list[tuple[int, str, str]]:
    """(level, title, anchor) of each heading of levels 1-3, in order."""
    found, seen = [], {}
    for text in markdown_of(page):
        fenced = False
        for line in text.splitlines():
            if line.lstrip().startswith(("```", ":::")):
                fenced = not fenced if line.lstrip().startswith("```") else fenced
            match = None if fenced else HEADING.match(line)
            if match:
                title = match.group(2)
                slug = default_slugify(title)
                # MyST numbers repeated slugs within a page: slug, slug-1, slug-2, ...
                count = seen.get(slug, 0)
                seen[slug] = count + 1
                found.append(
                    (len(match.group(1)), title, slug if count == 0 else f"{slug}-{count}")
                )
    return found


def main(argv: list[str]) -> None:
    pages = [Path(p) for p in argv] or sorted(ROOT.glob("notebooks/*.ipynb")) + sorted(
        ROOT.glob("book/*.md")
    )
    for page in pages:
        print(page.resolve().relative_to(ROOT))
        for level, title, slug in anchors(page):
            print(f"  {'  ' * (level - 1)}#{slug}    {title}")


if __name__ == "__main__":
    main(sys.argv[1:])
