"""The bibliography (book/references.bib) is well formed and covers every citation."""

import json
import re
from collections import Counter
from pathlib import Path

import plain_notebooks  # book/_ext, on the path through conftest
import pytest
from pybtex.database import parse_file

ROOT = Path(__file__).resolve().parents[2]
BIB = ROOT / "book" / "references.bib"
CITE = re.compile(r"\{cite(?::\w+)?\}`([^`]+)`")


@pytest.fixture(scope="module")
def entries():
    return parse_file(BIB, bib_format="bibtex").entries


def normalized(title):
    return re.sub(r"[^a-z0-9]", "", title.lower())


def cited_keys():
    """Map each key cited in a notebook's markdown or a book page to where it is cited.

    Book pages cite with MyST roles; notebooks with links to the work, which name the
    entry whose address they are (book/_ext/plain_notebooks.py), or a missing key.
    """
    keys = {}
    for md in (ROOT / "book").glob("*.md"):
        for group in CITE.findall(md.read_text(encoding="utf-8")):
            for key in group.split(","):
                keys.setdefault(key.strip(), []).append(md.name)
    owners = plain_notebooks.owners()
    for nb in (ROOT / "notebooks").glob("*.ipynb"):
        cells = json.loads(nb.read_text(encoding="utf-8"))["cells"]
        for cell in cells:
            if cell["cell_type"] != "markdown":
                continue
            for _, url, _ in plain_notebooks.citation_links("".join(cell["source"])):
                for key in owners.get(url, (f"<no entry has the address {url}>",)):
                    keys.setdefault(key, []).append(nb.name)
    return keys


def test_no_duplicate_keys():
    keys = re.findall(r"^@\w+\s*\{\s*([^,\s]+)\s*,", BIB.read_text(encoding="utf-8"), re.M)
    repeated = [key for key, n in Counter(k.lower() for k in keys).items() if n > 1]
    assert not repeated, f"keys defined twice: {repeated}"


def work(entry):
    """A work is its title, year and first creator: two books may share a title."""
    creators = entry.persons.get("author") or entry.persons.get("editor") or []
    first = creators[0].last_names[0] if creators else entry.fields.get("organization", "")
    return normalized(entry.fields["title"]), entry.fields["year"], normalized(first)


def test_no_work_listed_twice(entries):
    works = Counter(work(entry) for entry in entries.values())
    assert not [w for w, n in works.items() if n > 1], "the same work under two keys"


def test_every_entry_is_complete(entries):
    for key, entry in entries.items():
        fields = {name.lower() for name in entry.fields}
        creators = set(entry.persons) | (fields & {"organization"})
        assert creators & {"author", "editor", "organization"}, f"{key} has no author"
        assert {"title", "year"} <= fields, key
        assert fields & {"doi", "eprint", "url"}, f"{key} has no doi, eprint or url"


def test_every_citation_resolves(entries):
    keys = cited_keys()
    assert keys, "the book cites nothing"
    missing = {key: places for key, places in keys.items() if key not in entries}
    assert not missing, f"cited but not in references.bib: {missing}"
