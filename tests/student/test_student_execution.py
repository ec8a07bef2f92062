"""Each student copy runs in a fresh kernel, outside the repository's notebooks folder,
up to and through its exercises: every cell before them succeeds, and every exercise
cell either runs or fails as intended, with the checker's AnswerError and its message.

Slow (it executes every chapter once more): make test runs it as its own step,
``make student-check``, two notebooks at a time.
"""

import execute_notebook  # scripts/, like student_copies
import nbformat
import pytest
import student_copies  # scripts/, on the path through conftest
from conftest import chapter_paths

CHAPTERS = chapter_paths()


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("classroom") / "_student"
    student_copies.write_student_copies(CHAPTERS, folder, folder.parent / "_student.zip")
    return folder


def errors_of(cell):
    return [o for o in cell.get("outputs", []) if o["output_type"] == "error"]


@pytest.mark.parametrize("notebook", CHAPTERS, ids=lambda p: p.name)
def test_student_copy_runs_up_to_its_exercises(folder, notebook):
    path = folder / notebook.name
    copy = nbformat.read(path, as_version=4)
    execute_notebook.client_for(copy, folder, allow_errors=True).execute()
    code = [c for c in copy.cells if c.cell_type == "code"]
    first_exercise = next(i for i, c in enumerate(code) if "exercise" in student_copies.tags(c))
    for index, cell in enumerate(code[:first_exercise]):
        assert not errors_of(cell), f"code cell {index} failed: {errors_of(cell)[0]['evalue']}"
    checker_cells = 0
    for cell in code[first_exercise:]:
        errors = errors_of(cell)
        if "exercise" not in student_copies.tags(cell):
            assert not errors, f"a cell after the exercises failed: {cell.source[:60]!r}"
            continue
        if "checks." in cell.source:
            checker_cells += 1
            # Unanswered, the checker must say so, not crash.
            assert errors, f"a checker accepted an unanswered exercise: {cell.source!r}"
        for error in errors:
            assert error["ename"] == "AnswerError", f"{error['ename']}: {error['evalue']}"
            assert len(error["evalue"]) > 20, "the checker's message is too short to help"
    assert checker_cells >= 1, "no auto-checked exercise ran"
