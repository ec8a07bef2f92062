"""Grading a class end to end with nbgrader, on chapter 1 (scripts/assignments.py).

``make assignments`` writes the course; nbgrader releases chapter 1, a class of seven
submissions is made from the release version, and nbgrader autogrades them with a
per-cell timeout, exports the gradebook to CSV and writes a feedback page per student:

========== ======================================================== ==============
student    submission                                               auto points
========== ======================================================== ==============
right      the solutions' code in the answer cells, words written   8 of 8
wrong      a wrong number in every answer cell                      0
empty      the release version, untouched                           0
tampered   checker cells replaced by print("Correct: ...") and a    0
           checker redefined in an answer cell (wrong answers)
full       the full public notebook, solutions and outputs, as is   0
literal    the public answers typed as numbers (a copied answer)    3 (half each)
loop       Exercise 1.1's cell loops forever, the rest right        6
========== ======================================================== ==============

A written answer is graded by hand (nbgrader's formgrader); here the gradebook API
gives those of "right" their points, as the formgrader would, before the export.
About three minutes, with a Chinese chapter-1 submission graded the same way; make test
runs it in its student step, beside the student copies.
"""

from __future__ import annotations

import copy
import csv
import json
from pathlib import Path

import assignments  # scripts/, on the path through conftest
import pytest
from conftest import chapter_paths

# One worker runs the whole class (make student-check: --dist loadgroup), so the course
# fixture is built once.
pytestmark = pytest.mark.xdist_group("nbgrader")
CHAPTER = next(path for path in chapter_paths() if path.name.startswith("01_"))
NAME = assignments.assignment_name(CHAPTER)
SEED = 20261203
TIMEOUT = 60  # seconds per cell; the slowest cell of chapter 1 takes a few
EXPECTED = {
    "right": 8.0,
    "wrong": 0.0,
    "empty": 0.0,
    "tampered": 0.0,
    "full": 0.0,
    "literal": 3.0,
    "loop": 6.0,
}


def nbgrader_of(cell: dict) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def cell_with(notebook: dict, grade_id: str) -> dict:
    (cell,) = [c for c in notebook["cells"] if nbgrader_of(c).get("grade_id") == grade_id]
    return cell


def with_answer(notebook: dict, exercise: str, line: str) -> dict:
    """``notebook`` with Exercise ``exercise``'s ``answer_N = ...`` line replaced by ``line``."""
    notebook = copy.deepcopy(notebook)
    cell = cell_with(notebook, assignments.grade_id(exercise, "answer"))
    kept = [text for text in "".join(cell["source"]).splitlines() if "answer_" not in text]
    cell["source"] = "\n".join([*kept, line])
    return notebook


def submissions(release: dict, source: dict) -> dict[str, dict]:
    right = assignments.answered(release, source)
    wrong = release
    for exercise, line in [
        ("1.1", "answer_1 = 1e20"),
        ("1.2", "answer_2 = 7"),
        ("1.3", "answer_3 = 1.0"),
    ]:
        wrong = with_answer(wrong, exercise, line)
    tampered = with_answer(
        wrong, "1.1", "answer_1 = 1.0\nchecks.ch01_training_compute = lambda *args: None"
    )
    for exercise in ("1.2", "1.3"):
        cell = cell_with(tampered, assignments.grade_id(exercise, "check"))
        cell["source"] = f'print("Correct: answer_{exercise[-1]} is right.")'
    literal = release
    for exercise, line in [
        ("1.1", "answer_1 = 5.46e23"),
        ("1.2", "answer_2 = 9.13e10"),
        ("1.3", "answer_3 = 2.19"),
    ]:
        literal = with_answer(literal, exercise, line)
    loop = with_answer(right, "1.1", "while True:\n    pass")
    return {
        "right": right,
        "wrong": wrong,
        "empty": release,
        "tampered": tampered,
        "full": json.loads(CHAPTER.read_text(encoding="utf-8")),
        "literal": literal,
        "loop": loop,
    }


def run(course: Path, *arguments: str) -> str:
    done = assignments.nbgrader(course, *arguments)
    assert done.returncode == 0, f"nbgrader {' '.join(arguments)} failed:\n{done.stderr[-3000:]}"
    return done.stderr


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Path:
    """The course, chapter 1 released, seven submissions autograded and exported."""
    course = tmp_path_factory.mktemp("class") / "course"
    assignments.write_course([CHAPTER], course, seed=SEED)
    assignments.release(course, [NAME])
    release = json.loads((course / "release" / NAME / CHAPTER.name).read_text(encoding="utf-8"))
    source = json.loads((course / "source" / NAME / CHAPTER.name).read_text(encoding="utf-8"))
    for student, notebook in submissions(release, source).items():
        folder = course / "submitted" / student / NAME
        folder.mkdir(parents=True)
        (folder / CHAPTER.name).write_text(json.dumps(notebook), encoding="utf-8")
    run(course, "autograde", NAME, "--create", f"--Execute.timeout={TIMEOUT}")
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        for written in ("ex1_4_written", "ex1_5_written"):  # 3 points each, by hand
            grade = gradebook.find_grade(written, CHAPTER.stem, NAME, "right")
            grade.manual_score = 3
        gradebook.db.commit()
    run(course, "export")
    run(course, "generate_feedback", NAME)
    return course


def scores(course: Path) -> dict[str, dict]:
    with (course / "grades.csv").open(encoding="utf-8") as handle:
        return {row["student_id"]: row for row in csv.DictReader(handle)}


def auto_points(course: Path, student: str) -> float:
    """The points nbgrader gave the autograded cells of ``student``."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        notebook = gradebook.find_submission_notebook(CHAPTER.stem, NAME, student)
        return sum(g.auto_score or 0 for g in notebook.grades if g.cell.name.endswith("_check"))


@pytest.mark.parametrize("student", sorted(EXPECTED))
def test_each_submission_gets_its_score(course, student):
    assert auto_points(course, student) == pytest.approx(EXPECTED[student])


def test_the_export_has_one_row_per_student_with_the_hand_graded_points(course):
    rows = scores(course)
    assert set(rows) == set(EXPECTED)
    assert all(row["assignment"] == NAME for row in rows.values())
    assert float(rows["right"]["score"]) == pytest.approx(14.0)  # 8 auto + 2 × 3 by hand
    assert float(rows["right"]["max_score"]) == pytest.approx(14.0)
    assert float(rows["literal"]["score"]) == pytest.approx(3.0)


def test_every_student_gets_a_feedback_page(course):
    pages = {p.parts[-3]: p for p in (course / "feedback").glob(f"*/{NAME}/*.html")}
    assert set(pages) == set(EXPECTED)
    literal = pages["literal"].read_text(encoding="utf-8")
    assert "Hidden test failed" in literal and "Points: 1 of 2" in literal
    assert "Hidden test passed" in pages["right"].read_text(encoding="utf-8")


def test_a_timeout_is_reported_and_the_rest_still_graded(course):
    autograded = course / "autograded" / "loop" / NAME / CHAPTER.name
    cell = cell_with(json.loads(autograded.read_text(encoding="utf-8")), "ex1_1_answer")
    errors = [o for o in cell["outputs"] if o["output_type"] == "error"]
    assert errors, "the endless loop was not interrupted"


def test_the_submissions_are_left_as_they_came(course):
    """Autograding writes into autograded/, never over the student's file."""
    submitted = course / "submitted" / "empty" / NAME / CHAPTER.name
    release = course / "release" / NAME / CHAPTER.name
    assert (
        json.loads(submitted.read_text(encoding="utf-8"))["cells"]
        == json.loads(release.read_text(encoding="utf-8"))["cells"]
    )


def test_a_chinese_class_is_graded_the_same_way_in_chinese(tmp_path):
    """make assignments-zh: chapter 1's Chinese notebook as an nbgrader course, and a
    right submission earns every autograded point, with Chinese feedback."""
    chinese = CHAPTER.parent / "zh" / CHAPTER.name
    course = tmp_path / "course-zh"
    assignments.write_course([chinese], course, seed=SEED)
    config = (course / "nbgrader_config.py").read_text(encoding="utf-8")
    assert "你的答案" in config, "the Chinese stub for written answers"
    assignments.release(course, [NAME])
    release = json.loads((course / "release" / NAME / CHAPTER.name).read_text(encoding="utf-8"))
    source = json.loads((course / "source" / NAME / CHAPTER.name).read_text(encoding="utf-8"))
    english = assignments.source_version(
        json.loads(CHAPTER.read_text(encoding="utf-8")), SEED, assignments.rubrics()
    )
    assert [nbgrader_of(c) for c in source["cells"]] == [
        nbgrader_of(c) for c in english["cells"]
    ], "the Chinese assignment grades other cells, or with other points"
    folder = course / "submitted" / "right" / NAME
    folder.mkdir(parents=True)
    submission = assignments.answered(release, source)
    (folder / CHAPTER.name).write_text(json.dumps(submission), encoding="utf-8")
    run(course, "autograde", NAME, "--create", f"--Execute.timeout={TIMEOUT}")
    assert auto_points(course, "right") == pytest.approx(EXPECTED["right"])
    autograded = (course / "autograded" / "right" / NAME / CHAPTER.name).read_text(encoding="utf-8")
    assert "正确：" in autograded and "Correct:" not in autograded
