"""The nbgrader course (scripts/assignments.py, make assignments): made from the chapters'
tags, with hidden tests, rubrics and points, and released as the student copies.

Grading a class end to end (autograde, export, feedback) is tested in
``tests/student/test_grading_a_class.py``.
"""

from __future__ import annotations

import json
import re

import assignments  # scripts/, on the path through conftest
import pytest
import student_copies
from conftest import chapter_paths

CHAPTERS = chapter_paths()
SEED = 4242


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """Every chapter's source, and nbgrader's release of each."""
    course = tmp_path_factory.mktemp("nbgrader") / "course"
    sources = assignments.write_course(CHAPTERS, course, seed=SEED)
    assignments.release(course, list(sources))
    return course


def load(path):
    return json.loads(path.read_text(encoding="utf-8"))


def nbgrader_cells(notebook) -> list[dict]:
    return [c["metadata"]["nbgrader"] for c in notebook["cells"] if "nbgrader" in c["metadata"]]


@pytest.mark.parametrize("notebook", CHAPTERS, ids=lambda p: p.name)
def test_the_release_version_is_the_student_copy(course, notebook):
    """nbgrader's release and make student's copy have the same cells, one for one."""
    name = assignments.assignment_name(notebook)
    released = load(course / "release" / name / notebook.name)["cells"]
    student = student_copies.student_copy(load(notebook))["cells"]
    assert len(released) == len(student)
    for mine, theirs in zip(student, released, strict=True):
        assert mine["cell_type"] == theirs["cell_type"]
        assert "".join(mine["source"]).rstrip() == "".join(theirs["source"]).rstrip()


@pytest.mark.parametrize("notebook", CHAPTERS, ids=lambda p: p.name)
def test_the_source_holds_solutions_hidden_tests_and_points(course, notebook):
    name = assignments.assignment_name(notebook)
    source = load(course / "source" / name / notebook.name)
    cells = {
        c["metadata"]["nbgrader"]["grade_id"]: c
        for c in source["cells"]
        if "nbgrader" in c["metadata"]
    }
    checks = [i for i in cells if i.endswith("_check")]
    answers = [i for i in cells if i.endswith("_answer")]
    assert checks and len(checks) == len(answers)
    for ident in checks:
        text = "".join(cells[ident]["source"])
        meta = cells[ident]["metadata"]["nbgrader"]
        assert meta["grade"] and meta["locked"] and meta["points"] == assignments.CHECK_POINTS
        assert "### BEGIN HIDDEN TESTS" in text and f"seed={SEED}" in text
        assert re.search(r'grading\.hidden_test\("ch\w+", globals\(\)', text)
    for ident in answers:
        assert "### BEGIN SOLUTION" in "".join(cells[ident]["source"])
        assert cells[ident]["metadata"]["nbgrader"]["solution"]
    written = assignments.rubrics()
    for ident in (i for i in cells if i.endswith("_written")):
        exercise = ident[2:].removesuffix("_written").replace("_", ".")
        meta = cells[ident]["metadata"]["nbgrader"]
        assert meta["solution"] and meta["grade"] and meta["points"] == written[exercise][0]
        assert f"## Exercise {exercise} (" in (course / "rubrics" / f"{name}.md").read_text()


@pytest.mark.parametrize("notebook", CHAPTERS, ids=lambda p: p.name)
def test_nothing_of_the_instructors_reaches_the_release(course, notebook):
    name = assignments.assignment_name(notebook)
    released = (course / "release" / name / notebook.name).read_text(encoding="utf-8")
    for secret in ("HIDDEN TESTS", "BEGIN SOLUTION", "hidden_test", str(SEED)):
        assert secret not in released, secret
    release = load(course / "release" / name / notebook.name)
    assert all(not c.get("outputs") for c in release["cells"] if c["cell_type"] == "code")


def test_every_written_exercise_has_a_rubric_and_every_rubric_an_exercise():
    """The written answers of all chapters and the sections of instructor/rubrics.md agree."""
    written = {
        item["exercise"]
        for notebook in CHAPTERS
        for item in student_copies.classroom_cells(load(notebook))
        if item["role"] == "written"
    }
    assert written == set(assignments.rubrics())
    assert len(written) >= 17


def test_the_chinese_course_has_every_rubric_in_chinese(course, tmp_path):
    """make assignments-zh: each assignment's rubrics and the project's, block for block
    the English ones in Chinese, with the same exercises and points."""
    chinese = sorted((CHAPTERS[0].parent / "zh").glob("*.ipynb"))
    assignments.write_course(chinese, tmp_path, seed=SEED)
    han = re.compile(r"[\u4e00-\u9fff]")
    for english in sorted((course / "rubrics").glob("*.md")):
        text = (tmp_path / "rubrics" / english.name).read_text(encoding="utf-8")
        original = english.read_text(encoding="utf-8")
        for number, points in re.findall(r"^## Exercise (\S+) \((\d+) points?\)", original, re.M):
            assert f"## 练习 {number}（{points} 分）" in text, (english.name, number)
        criteria = re.findall(r"^- (\d+) points?: ", original, re.M)
        assert re.findall(r"^- (\d+) 分：", text, re.M) == criteria, english.name
        prose = [line for line in text.splitlines() if re.search(r"[A-Za-z]{4}", line)]
        assert all(han.search(line) for line in prose), [p for p in prose if not han.search(p)][:2]
    assert (course / "rubrics" / "project.md").read_text() == assignments.PROJECT_RUBRIC.read_text()


def test_a_rubric_whose_criteria_do_not_add_up_is_refused(tmp_path):
    rubric = tmp_path / "rubrics.md"
    rubric.write_text("## Exercise 1.4 (3 points)\n\n- 1 point: a\n- 1 point: b\n")
    with pytest.raises(ValueError, match="criteria give 2 of 3"):
        assignments.rubrics(rubric)
    rubric.write_text("## Exercise 1.4 (1 point)\n\n- 1 point: a\n" * 2)
    with pytest.raises(ValueError, match="two rubrics"):
        assignments.rubrics(rubric)


def test_the_seed_is_kept_and_private(tmp_path):
    first = assignments.course_seed(tmp_path, None)
    assert assignments.course_seed(tmp_path, None) == first  # drawn once, then kept
    assert assignments.course_seed(tmp_path, 7) == 7
    assert (tmp_path / "grading_seed.txt").read_text() == "7\n"
    assert "_course/" in (assignments.ROOT / ".gitignore").read_text().splitlines()


def test_the_course_config_sets_stubs_and_a_timeout(course):
    config = (course / "nbgrader_config.py").read_text(encoding="utf-8")
    assert f"c.ClearSolutions.text_stub = {student_copies.WRITTEN_STUB!r}" in config
    assert 'c.ClearSolutions.code_stub = {"python": ""}' in config
    assert f"c.Execute.timeout = {assignments.CELL_TIMEOUT}" in config
    compile(config, "nbgrader_config.py", "exec")


def test_bad_input_is_refused(tmp_path):
    with pytest.raises(ValueError, match="no notebooks"):
        assignments.write_course([], tmp_path)
    with pytest.raises(ValueError, match="not a chapter notebook"):
        assignments.assignment_name(tmp_path / "intro.ipynb")
    notebook = load(CHAPTERS[0])
    solutions = [c for c in notebook["cells"] if "solution" in c["metadata"].get("tags", [])]
    orphan = [c for c in solutions if c["cell_type"] == "code"][:1]
    with pytest.raises(ValueError, match="does not follow an answer cell"):
        assignments.source_version({**notebook, "cells": notebook["cells"][:1] + orphan}, 1, {})
    written = [c for c in solutions if c["cell_type"] == "markdown"][:1]
    with pytest.raises(ValueError, match="before any exercise"):
        assignments.source_version({**notebook, "cells": notebook["cells"][:1] + written}, 1, {})
