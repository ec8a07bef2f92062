"""Write the student copies of the chapter notebooks: no solutions, exercises unanswered.

Run through make: ``make student``. For every notebook in ``notebooks/`` it writes
``_student/<name>.ipynb`` and then ``_student.zip`` with the same files, where each copy

- drops every cell tagged ``solution`` (the solution code and the written answers),
- clears the outputs of every cell tagged ``exercise`` (a checker's "Correct: ..." line
  states the answer),
- keeps every other cell as it is, the first code cell (the Colab set-up) included, so a
  copy uploaded to Colab installs the course package as the full notebook does,
- replaces the chapter's "Open in Colab" link, which opens the full notebook, with a
  note that this is the student copy, and makes its links to other chapters (their Colab
  addresses, which open the full notebooks) links to their student copies beside it,
- says in the exercises' introduction that the copy has no solutions, where the
  chapter says they are behind toggles.

The instructor guide (book/instructor-guide.md) explains how to hand them out.
"""

import copy
import json
import re
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
FOLDER = ROOT / "_student"
ARCHIVE = ROOT / "_student.zip"
COLAB_LINK = re.compile(r"\[Open in Colab\]\(https://colab\.research\.google\.com/[^)]*\)")
CHAPTER_LINK = re.compile(
    r"\]\(https://colab\.research\.google\.com/github/[^)\s]*/notebooks/"
    r"(?P<name>[\w-]+\.ipynb)(?P<anchor>#[^)\s]*)?\)"
)
STUDENT_NOTE = (
    "*Student copy: the solutions are removed. To run it on Colab, upload it "
    "(File → Upload notebook); the first code cell sets everything up.*"
)


def tags(cell: dict) -> set[str]:
    return set(cell.get("metadata", {}).get("tags", []))


# The chapters' exercise introductions say where the solutions are; a copy has none.
HIDDEN_SOLUTIONS = re.compile(r"The solutions are hidden behind\s+the\s+toggles\.")
NO_SOLUTIONS = "This student copy has no solutions; your instructor has them."


def sibling_links(markdown: str) -> str:
    """Links to other chapters' Colab addresses made links to their student copies."""
    return CHAPTER_LINK.sub(lambda m: f"]({m['name']}{m['anchor'] or ''})", markdown)


def student_markdown(markdown: str) -> str:
    """A Markdown cell as the student copy shows it: sibling links, no word of solutions."""
    return HIDDEN_SOLUTIONS.sub(NO_SOLUTIONS, sibling_links(markdown))


def student_copy(notebook: dict) -> dict:
    """The student copy of a notebook (a dict as nbformat 4 stores it on disk)."""
    if not isinstance(notebook, dict) or not isinstance(notebook.get("cells"), list):
        raise TypeError("expected a notebook: a dict with a list of cells (nbformat 4)")
    copied = copy.deepcopy(notebook)
    cells = []
    for cell in copied["cells"]:
        if "solution" in tags(cell):
            continue
        if "exercise" in tags(cell) and cell["cell_type"] == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
        cells.append(cell)
    first = cells[0] if cells else None
    if first is None or first["cell_type"] != "markdown":
        raise ValueError("a chapter notebook opens with a markdown cell (its title)")
    source = "".join(first["source"])
    if not COLAB_LINK.search(source):
        raise ValueError("the first cell has no [Open in Colab](...) link to replace")
    first["source"] = COLAB_LINK.sub(STUDENT_NOTE, source).splitlines(keepends=True)
    for cell in cells:
        text = "".join(cell["source"])
        if cell["cell_type"] == "markdown" and (shown := student_markdown(text)) != text:
            cell["source"] = shown.splitlines(keepends=True)
    copied["cells"] = cells
    return copied


def write_student_copies(
    notebooks: list[Path], folder: Path = FOLDER, archive: Path = ARCHIVE
) -> list[Path]:
    """Write the copies of ``notebooks`` into ``folder`` and ``archive``; their paths."""
    if not notebooks:
        raise ValueError("no notebooks given")
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.ipynb"):
        stale.unlink()
    written = []
    for path in notebooks:
        notebook = json.loads(path.read_text(encoding="utf-8"))
        target = folder / path.name
        text = json.dumps(student_copy(notebook), indent=1, ensure_ascii=False)
        target.write_text(text + "\n", encoding="utf-8")
        written.append(target)
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        for target in written:
            bundle.write(target, f"{folder.name.lstrip('_')}/{target.name}")
    return written


def main() -> int:
    written = write_student_copies(sorted(NOTEBOOKS.glob("*.ipynb")))
    size = ARCHIVE.stat().st_size / 1e6
    print(f"{len(written)} student notebooks in {FOLDER} and {ARCHIVE} ({size:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
