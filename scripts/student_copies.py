"""Write the student copies of the chapter notebooks: no solutions, exercises unanswered.

Run through make: ``make student``. For every notebook in ``notebooks/`` it writes
``_student/<name>.ipynb`` and then ``_student.zip`` with the same files, where each copy

- drops every code cell tagged ``solution``,
- replaces every written solution (a Markdown cell tagged ``solution``) by a cell for
  the learner's written answer (``WRITTEN_STUB``),
- clears the outputs of every cell tagged ``exercise`` (a checker's "Correct: ..." line
  states the answer),
- keeps every other cell as it is, the first code cell (the Colab set-up) included, so a
  copy uploaded to Colab installs the course package as the full notebook does,
- replaces the chapter's "Open in Colab" link, which opens the full notebook, with a
  note that this is the student copy, and makes its links to other chapters (their Colab
  addresses, which open the full notebooks) links to their pages on the website
  (``html.baseurl`` in ``_config.yml``), which work wherever the copy is opened,
- says in the exercises' introduction that the copy has no solutions, where the
  chapter says they are behind toggles.

:func:`classroom_cells` reads a chapter into the roles its cells play in a class (text,
question, answer, check, written answer). The student copy is made from it here, and the
nbgrader source of ``make assignments`` (``scripts/assignments.py``) from the same roles,
so the two agree: nbgrader's release version of a chapter is its student copy.

The Chinese notebooks (``notebooks/zh/``, ``scripts/zh_notebooks.py``) get their student
copies the same way, ``make student`` writes them into ``_student/zh/`` and
``_student-zh.zip``, with the Chinese
of every sentence above (:data:`EDITIONS`); :func:`edition` tells a Chinese notebook by
its Colab link's text.

The instructor guide (book/instructor-guide.md) explains how to hand them out.
"""

import copy
import json
import re
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
FOLDER = ROOT / "_student"
ARCHIVE = ROOT / "_student.zip"
CHAPTER_LINK = re.compile(
    r"\]\(https://colab\.research\.google\.com/github/[^)\s]*/notebooks/(?:zh/)?"
    r"(?P<name>[\w-]+)\.ipynb(?P<anchor>#[^)\s]*)?\)"
)
BASEURL = re.compile(r"^html:\s*\n(?:[ \t]+.*\n)*?[ \t]+baseurl:\s*(?P<url>\S+)\s*$", re.M)
# What the learner's written answer starts as, in the student copy and nbgrader's release.
WRITTEN_STUB = "**Your answer:** *(double-click to edit; replace this line with your answer)*"
EXERCISE = re.compile(r"\*\*Exercise (?P<number>\d+[a-d]?\.\d+)\.\*\*")
CHECKER = re.compile(r"checks\.(?P<name>ch\w+)\(")
STUDENT_NOTE = (
    "*Student copy: the solutions are removed. To run it on Colab, upload it "
    "(File → Upload notebook); the first code cell sets everything up.*"
)
# The chapters' exercise introductions say where the solutions are; a copy has none.
HIDDEN_SOLUTIONS = re.compile(r"The solutions are hidden behind\s+the\s+toggles\.")
NO_SOLUTIONS = "This student copy has no solutions; your instructor has them."


@dataclass(frozen=True)
class Edition:
    """What a student copy finds and writes in the notebooks of one language."""

    colab_link: re.Pattern  # the chapter's "Open in Colab" link, in its first cell
    exercise: re.Pattern  # an exercise's bold label, with its number
    hidden_solutions: re.Pattern  # the sentence that says where the solutions are
    no_solutions: str
    written_stub: str
    student_note: str
    site: str  # the edition's folder in the website


COLAB = r"\(https://colab\.research\.google\.com/[^)]*\)"
EDITIONS = {
    "en": Edition(
        re.compile(r"\[Open in Colab\]" + COLAB),
        EXERCISE,
        HIDDEN_SOLUTIONS,
        NO_SOLUTIONS,
        WRITTEN_STUB,
        STUDENT_NOTE,
        "",
    ),
    "zh_CN": Edition(
        re.compile(r"\[在 Colab 中打开\]" + COLAB),
        re.compile(r"\*\*练习 (?P<number>\d+[a-d]?\.\d+)\*\*"),
        re.compile(r"(?:参考)?答案隐藏在折叠按钮(?:后面|之后)。"),
        "这份学生版没有参考答案，答案在你的老师那里。",
        "**你的答案：** *（双击编辑，用你的答案替换这一行）*",
        "*学生版：参考答案已删去。要在 Colab 上运行，请上传它（文件 → 上传笔记本），"
        "第一个代码单元格会配置好一切。*",
        "zh/",
    ),
}
COLAB_LINK = EDITIONS["en"].colab_link


def tags(cell: dict) -> set[str]:
    return set(cell.get("metadata", {}).get("tags", []))


def edition(notebook: dict) -> Edition:
    """The edition of a chapter notebook, told by the text of its Colab link."""
    cells = notebook.get("cells") or [{}]
    first = "".join(cells[0].get("source", []))
    for language in EDITIONS.values():
        if language.colab_link.search(first):
            return language
    raise ValueError("the first cell has no [Open in Colab](...) link to replace")


def website(config: Path = ROOT / "_config.yml") -> str:
    """The website's address, ``html.baseurl`` of ``_config.yml``, ending in a slash."""
    found = BASEURL.search(config.read_text(encoding="utf-8"))
    if not found:
        raise ValueError(f"{config} has no html.baseurl: the student copies link to the website")
    return found["url"].strip("\"'").rstrip("/") + "/"


def sibling_links(
    markdown: str, site: str | None = None, language: Edition = EDITIONS["en"]
) -> str:
    """Links to other chapters' Colab addresses made links to their pages on the website."""
    site = (site or website()) + language.site
    return CHAPTER_LINK.sub(
        lambda m: f"]({site}notebooks/{m['name']}.html{m['anchor'] or ''})", markdown
    )


def student_markdown(
    markdown: str, site: str | None = None, language: Edition = EDITIONS["en"]
) -> str:
    """A Markdown cell as the student copy shows it: sibling links, no word of solutions."""
    linked = sibling_links(markdown, site, language)
    return language.hidden_solutions.sub(language.no_solutions, linked)


def model_answer(markdown: str) -> str:
    """The Markdown of a written solution without its ``<details>`` fold."""
    text = re.sub(r"^\s*<details>\s*<summary>[^<]*</summary>\s*", "", markdown)
    return re.sub(r"\s*</details>\s*$", "", text).strip()


def classroom_cells(notebook: dict, site: str | None = None) -> list[dict]:
    """The cells of a chapter with the role each plays in a class, in order.

    Each item is ``{"role", "cell", "exercise", "solution", "checker"}``: ``role`` is
    ``"text"`` (any cell that is not part of an exercise), ``"question"`` (an exercise's
    text), ``"answer"`` (the code cell the learner fills; ``solution`` holds the code of
    the solution cell that follows it), ``"check"`` (a checker cell; ``checker`` names
    the checker) or ``"written"`` (a written answer; ``solution`` holds the model answer).
    ``exercise`` is the number of the exercise ("6b.2") the cell belongs to. ``cell`` is a
    copy with the student copy's Markdown (links, no word of solutions) and, for
    exercise cells, no outputs.
    """
    if not isinstance(notebook, dict) or not isinstance(notebook.get("cells"), list):
        raise TypeError("expected a notebook: a dict with a list of cells (nbformat 4)")
    site = site or website()
    first = notebook["cells"][0] if notebook["cells"] else None
    if first is None or first["cell_type"] != "markdown":
        raise ValueError("a chapter notebook opens with a markdown cell (its title)")
    language = edition(notebook)
    items: list[dict] = []
    exercise = None
    for original in notebook["cells"]:
        cell = copy.deepcopy(original)
        text = "".join(cell["source"])
        if original is first:  # the title's Colab link opens the full notebook
            text = language.colab_link.sub(language.student_note, text)
            cell["source"] = text.splitlines(keepends=True)
        kind, cell_tags = cell["cell_type"], tags(cell)
        if kind == "markdown" and (shown := student_markdown(text, site, language)) != text:
            cell["source"] = shown.splitlines(keepends=True)
        found = language.exercise.search(text) if kind == "markdown" else None
        if found and "exercise" in cell_tags:
            exercise = found["number"]
        item = {"cell": cell, "exercise": None, "solution": None, "checker": None}
        if "solution" in cell_tags and kind == "code":
            if not items or items[-1]["role"] != "answer" or items[-1]["solution"] is not None:
                raise ValueError(f"a solution code cell does not follow an answer cell: {text!r}")
            items[-1]["solution"] = text
            continue
        if "solution" in cell_tags:
            if exercise is None:
                raise ValueError(f"a written solution before any exercise: {text[:60]!r}")
            item.update(role="written", exercise=exercise, solution=model_answer(text))
            item["cell"] = {
                **({"id": cell["id"]} if "id" in cell else {}),
                "cell_type": "markdown",
                "metadata": {"tags": ["exercise"]},
                "source": [language.written_stub],
            }
        elif "exercise" in cell_tags:
            if exercise is None:
                raise ValueError(f"an exercise cell before any exercise's text: {text[:60]!r}")
            item["exercise"] = exercise
            if kind == "markdown":
                item["role"] = "question"
            elif found := CHECKER.search(text):
                item.update(role="check", checker=found["name"])
            else:
                item["role"] = "answer"
            if kind == "code":
                cell["outputs"], cell["execution_count"] = [], None
        else:
            item["role"] = "text"
        items.append(item)
    return items


def student_copy(notebook: dict, site: str | None = None) -> dict:
    """The student copy of a notebook (a dict as nbformat 4 stores it on disk)."""
    cells = [item["cell"] for item in classroom_cells(notebook, site)]
    copied = {key: copy.deepcopy(value) for key, value in notebook.items() if key != "cells"}
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
            bundle.write(target, f"{archive.stem.lstrip('_')}/{target.name}")
    return written


def main() -> int:
    for notebooks, folder, archive in (
        (NOTEBOOKS, FOLDER, ARCHIVE),
        (NOTEBOOKS / "zh", FOLDER / "zh", ROOT / "_student-zh.zip"),
    ):
        written = write_student_copies(sorted(notebooks.glob("*.ipynb")), folder, archive)
        size = archive.stat().st_size / 1e6
        print(f"{len(written)} student notebooks in {folder} and {archive} ({size:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
