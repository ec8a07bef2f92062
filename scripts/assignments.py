"""Write the nbgrader course of the chapters: ``make assignments``.

Every chapter becomes an nbgrader assignment named after its checker module (``ch01``,
``ch06b``), made from the notebook's own cell tags (``scripts/student_copies.py``
reads them into roles; nothing in the notebooks is written twice):

- an exercise's text: a read-only cell;
- its answer cell: an nbgrader "autograded answer" cell, holding the learner's stub and,
  between ``### BEGIN SOLUTION`` and ``### END SOLUTION``, the solution code;
- its checker cell: a read-only "autograder tests" cell worth ``CHECK_POINTS`` points,
  with the public check and, between ``### BEGIN HIDDEN TESTS`` and ``### END HIDDEN
  TESTS``, the hidden test (``lmbook.checks.grading``): the checker freshly loaded, and a
  second case drawn from the instructor's private seed;
- a written answer: a "manually graded answer" cell with the model answer, worth the
  points of its rubric in ``instructor/rubrics.md``.

It writes, in ``_course/`` (instructor-only; git ignores it):

- ``nbgrader_config.py``: the course id, the stubs that ``generate_assignment`` leaves
  for answers (so that the release versions are the student copies of ``make
  student``), the per-cell timeout of autograding, and the collector of ``zip_collect``;
- ``grading_seed.txt``: the private seed, drawn once and kept (``--seed`` sets it);
- ``source/<assignment>/<notebook>.ipynb`` and ``rubrics/<assignment>.md``;
- ``release/``, with ``--release``: nbgrader's ``generate_assignment`` run on each.

``--chinese`` (``make assignments-zh``) writes the course of the Chinese notebooks
(``notebooks/zh/``) into ``_course-zh/`` instead: the same assignments, grade ids and
hidden tests, with the Chinese stub for written answers and the rubrics in Chinese (their
catalogue ``locales/zh_CN/LC_MESSAGES/instructor/rubrics.po``, kept by
``scripts/translations.py`` like a page's).

Both courses also get the week-12 project's rubric, ``rubrics/project.md``.

The instructor guide (book/instructor-guide.md, "Grading with nbgrader") explains the
whole flow.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import student_copies  # scripts/, beside this file
import zh_notebooks

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
COURSE = ROOT / "_course"
COURSE_ZH = ROOT / "_course-zh"
RUBRICS = ROOT / "instructor" / "rubrics.md"
PROJECT_RUBRIC = ROOT / "instructor" / "project-rubric.md"
COURSE_ID = "large-models"
CHECK_POINTS = 2
# Seconds a cell may run when a submission is autograded; the slowest cell of the book
# (chapter 6b's fine-tuning) takes about a minute on two cores.
CELL_TIMEOUT = 300
RUBRIC = re.compile(r"^## Exercise (?P<number>\d+[a-d]?\.\d+) \((?P<points>\d+) points?\)", re.M)
CRITERION = re.compile(r"^- (?P<points>\d+) points?: ", re.M)
CONFIG = """\
# The nbgrader course of "Large Models: From Neurons to Business", written by
# `make assignments` (scripts/assignments.py); run nbgrader from this folder.
import os

# Grading runs offline, so each chapter takes the path that the book's CI checks (the
# small models it ships) rather than downloading from the model hub; set a variable to
# 0 before running nbgrader to grade with the hub's models instead.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
c = get_config()  # noqa: F821 (nbgrader's config loader defines it)
c.CourseDirectory.course_id = {course_id!r}
# What generate_assignment leaves of a solution: the stub the learner starts from, so
# that the release versions equal the student copies of `make student`.
c.ClearSolutions.code_stub = {{"python": ""}}
c.ClearSolutions.text_stub = {stub!r}
# Autograding: a cell that runs longer is interrupted and earns nothing; a submission
# whose kernel dies is run once more before it is reported.
c.Execute.timeout = {timeout}
c.Execute.interrupt_on_timeout = True
c.Execute.execute_retries = 1
# `nbgrader zip_collect <assignment>` reads an LMS download placed in
# downloaded/<assignment>/archive/. Moodle names each file
# "<full name>_<participant id>_assignsubmission_file_<notebook>.ipynb"; adapt the
# expression to your LMS (the guide has Canvas's).
c.FileNameCollectorPlugin.named_regexp = (
    r".*_(?P<student_id>\\d+)_assignsubmission_file_(?P<file_id>.*\\.ipynb)"
)
"""


def assignment_name(notebook: Path) -> str:
    """``ch06b`` for ``notebooks/06b_fine_tuning_a_classifier.ipynb``."""
    prefix = notebook.name.partition("_")[0]
    if not re.fullmatch(r"\d\d[a-d]?", prefix):
        raise ValueError(f"not a chapter notebook: {notebook.name}")
    return f"ch{prefix}"


def rubrics(path: Path | None = None) -> dict[str, tuple[int, str]]:
    """Each written exercise's points and rubric text, from ``instructor/rubrics.md``."""
    text = (path or RUBRICS).read_text(encoding="utf-8")
    found = list(RUBRIC.finditer(text))
    result = {}
    for match, following in zip(found, [*found[1:], None], strict=True):
        section = text[match.start() : following.start() if following else len(text)]
        points = int(match["points"])
        criteria = sum(int(c["points"]) for c in CRITERION.finditer(section))
        if criteria != points:
            raise ValueError(f"Exercise {match['number']}: criteria give {criteria} of {points}")
        if match["number"] in result:
            raise ValueError(f"Exercise {match['number']} has two rubrics")
        result[match["number"]] = (points, section.strip() + "\n")
    return result


def in_chinese(text: str, source: Path) -> str:
    """Markdown ``text`` taken from ``source`` (a file of instructor/) with each block in
    Chinese, from the file's catalogue; a block without a current translation stays
    English (``translations.py status`` counts them)."""
    page = source.relative_to(ROOT).with_suffix("").as_posix()
    table = zh_notebooks.translations(page)
    return zh_notebooks.translate_blocks(text, lambda m: table.get(m, m), page, chinese=True)


def grade_id(exercise: str, role: str) -> str:
    """nbgrader's cell id: ``ex6b_2_check`` for the checker cell of Exercise 6b.2."""
    return f"ex{exercise.replace('.', '_')}_{role}"


def nbgrader_metadata(
    grade_id: str, *, solution: bool, grade: bool, locked: bool, points: int | None = None
) -> dict:
    metadata = {
        "grade": grade,
        "grade_id": grade_id,
        "locked": locked,
        "schema_version": 3,
        "solution": solution,
    }
    if points is not None:
        metadata["points"] = points
    return metadata


def hidden_test(checker: str, seed: int) -> str:
    return (
        "### BEGIN HIDDEN TESTS\n"
        "from lmbook.checks import grading\n\n"
        f'grading.hidden_test("{checker}", globals(), seed={seed}, points={CHECK_POINTS})\n'
        "### END HIDDEN TESTS"
    )


def source_version(notebook: dict, seed: int, written_points: dict[str, tuple[int, str]]) -> dict:
    """The nbgrader source of a chapter: solutions, hidden tests and nbgrader metadata."""
    cells = []
    seen = set()
    for item in student_copies.classroom_cells(notebook):
        cell, role, exercise = item["cell"], item["role"], item["exercise"]
        if role == "text":
            cells.append(cell)
            continue
        ident = grade_id(exercise, role)
        if ident in seen:
            raise ValueError(f"Exercise {exercise} has two {role} cells")
        seen.add(ident)
        text = "".join(cell["source"]).rstrip()
        if role == "question":
            meta = nbgrader_metadata(ident, solution=False, grade=False, locked=True)
        elif role == "answer":
            if item["solution"] is None:
                raise ValueError(f"Exercise {exercise}: an answer cell without a solution")
            solution = item["solution"].rstrip()
            text = f"{text}\n### BEGIN SOLUTION\n{solution}\n### END SOLUTION"
            meta = nbgrader_metadata(ident, solution=True, grade=False, locked=False)
        elif role == "check":
            text = f"{text}\n{hidden_test(item['checker'], seed)}"
            meta = nbgrader_metadata(
                ident, solution=False, grade=True, locked=True, points=CHECK_POINTS
            )
        else:  # written
            if exercise not in written_points:
                raise ValueError(f"Exercise {exercise} has a written answer but no rubric")
            text = item["solution"]
            meta = nbgrader_metadata(
                ident, solution=True, grade=True, locked=False, points=written_points[exercise][0]
            )
        cell["source"] = text.splitlines(keepends=True)
        cell.setdefault("metadata", {})["nbgrader"] = meta
        cells.append(cell)
    source = {key: value for key, value in notebook.items() if key != "cells"}
    source["cells"] = cells
    return source


def course_seed(course: Path, seed: int | None) -> int:
    """The private seed: ``seed`` if given, else the one kept in the course, else a new one."""
    kept = course / "grading_seed.txt"
    if seed is None and kept.exists():
        return int(kept.read_text(encoding="utf-8").strip())
    seed = secrets.randbelow(2**31) if seed is None else seed
    kept.write_text(f"{seed}\n", encoding="utf-8")
    return seed


def write_course(
    notebooks: list[Path], course: Path = COURSE, seed: int | None = None
) -> dict[str, Path]:
    """Write the course's config, seed, sources and rubrics; the source notebook per assignment."""
    if not notebooks:
        raise ValueError("no notebooks given")
    editions = {
        student_copies.edition(json.loads(path.read_text(encoding="utf-8"))) for path in notebooks
    }
    if len(editions) != 1:
        raise ValueError("a course's notebooks are all English or all Chinese, not both")
    edition = editions.pop()
    chinese = edition.site == "zh/"
    course.mkdir(parents=True, exist_ok=True)
    seed = course_seed(course, seed)
    config = CONFIG.format(course_id=COURSE_ID, stub=edition.written_stub, timeout=CELL_TIMEOUT)
    (course / "nbgrader_config.py").write_text(config, encoding="utf-8")
    written = rubrics()
    used = set()
    sources = {}
    for path in notebooks:
        name = assignment_name(path)
        notebook = json.loads(path.read_text(encoding="utf-8"))
        folder = course / "source" / name
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        source = source_version(notebook, seed, written)
        target = folder / path.name
        target.write_text(json.dumps(source, indent=1, ensure_ascii=False) + "\n", "utf-8")
        sources[name] = target
        exercises = [
            c["metadata"]["nbgrader"]["grade_id"]
            for c in source["cells"]
            if c.get("metadata", {}).get("nbgrader", {}).get("grade_id", "").endswith("_written")
        ]
        numbers = [e[2:-8].replace("_", ".") for e in exercises]
        used |= set(numbers)
        rubric = "\n".join(written[number][1] for number in numbers)
        (course / "rubrics").mkdir(exist_ok=True)
        if chinese:
            text = f"# {name} 的评分细则（{path.name}）\n\n{rubric or '没有书面练习。'}\n"
        else:
            text = f"# Rubrics of {name} ({path.name})\n\n{rubric or 'No written exercises.'}\n"
        (course / "rubrics" / f"{name}.md").write_text(
            in_chinese(text, RUBRICS) if chinese else text, encoding="utf-8"
        )
    project = PROJECT_RUBRIC.read_text(encoding="utf-8")
    (course / "rubrics" / "project.md").write_text(
        in_chinese(project, PROJECT_RUBRIC) if chinese else project, encoding="utf-8"
    )
    unused = sorted(set(written) - used)
    if unused and len(notebooks) == len(sorted(notebooks[0].parent.glob("*.ipynb"))):
        raise ValueError(f"rubrics for exercises without a written answer: {unused}")
    return sources


def nbgrader(course: Path, *arguments: str) -> subprocess.CompletedProcess:
    """Run ``nbgrader`` of this environment in ``course`` (its alembic on the PATH too)."""
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    return subprocess.run(
        [str(bin_dir / "nbgrader"), *arguments],
        cwd=course,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def release(course: Path, names: list[str]) -> None:
    """nbgrader's release versions of ``names``, in ``course/release``."""
    for name in names:
        done = nbgrader(course, "generate_assignment", name, "--force")
        if done.returncode != 0 or "ERROR" in done.stderr:
            raise RuntimeError(f"nbgrader generate_assignment {name} failed:\n{done.stderr}")


def answered(release_version: dict, source_version: dict) -> dict:
    """The release version with the solutions' code and the model answers filled in: a
    submission that earns every point (the grading test and ``scripts/time_grading.py``).
    """
    notebook = copy.deepcopy(release_version)
    solutions = {
        cell.get("metadata", {}).get("nbgrader", {}).get("grade_id"): cell
        for cell in source_version["cells"]
    }
    for cell in notebook["cells"]:
        grading = cell.get("metadata", {}).get("nbgrader", {})
        if not grading.get("solution"):
            continue
        solution = "".join(solutions[grading["grade_id"]]["source"])
        for marker in ("### BEGIN SOLUTION\n", "### END SOLUTION"):
            solution = solution.replace(marker, "")
        cell["source"] = solution
    return notebook


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("--course", type=Path, help="the course folder (default: _course)")
    parser.add_argument(
        "--chinese", action="store_true", help="the Chinese notebooks, into _course-zh"
    )
    parser.add_argument("--seed", type=int, help="the private seed of the hidden tests")
    parser.add_argument("--release", action="store_true", help="also run generate_assignment")
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: every chapter")
    args = parser.parse_args(argv)
    folder = NOTEBOOKS / "zh" if args.chinese else NOTEBOOKS
    notebooks = args.notebooks or sorted(folder.glob("*.ipynb"))
    args.course = args.course or (COURSE_ZH if args.chinese else COURSE)
    sources = write_course(notebooks, args.course, args.seed)
    if args.release:
        release(args.course, list(sources))
    where = "source/ and release/" if args.release else "source/"
    print(f"{len(sources)} assignments in {args.course}/{where} (nbgrader course {COURSE_ID})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
