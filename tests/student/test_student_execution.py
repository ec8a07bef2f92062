"""Each student copy runs in a fresh kernel, outside the repository's notebooks folder,
up to and through its exercises: every cell before them succeeds, and every exercise
cell either runs or fails as intended, with the checker's AnswerError and its message.

Then, in the same kernel, each exercise is answered with its solution and graded as
nbgrader would (``lmbook.checks.grading``): the public checker and the hidden second case,
drawn from a seed, must both pass. So every solution is written from the answer cell's
given values, and every checker's second case works in the chapter's own kernel.

Slow (it executes every chapter once more): make test runs it as its own step,
``make student-check``, two notebooks at a time.
"""

import json
import re

import assignments  # scripts/, like student_copies
import execute_notebook
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


SEED = 1203


def graded_solutions(notebook) -> list[tuple[str, str]]:
    """Per auto-checked exercise, its answer cell with the solution, and its checker cell
    with the hidden test. The answer cell comes again because a later exercise may give
    one of its names another value (3.2's image_size is not 3.1's)."""
    items = student_copies.classroom_cells(json.loads(notebook.read_text(encoding="utf-8")))
    answers = [item for item in items if item["role"] == "answer"]
    checks = [item for item in items if item["role"] == "check"]
    assert len(answers) == len(checks), "an exercise has an answer cell but no checker"
    return [
        (
            "".join(answer["cell"]["source"]).rstrip() + "\n" + answer["solution"],
            "".join(check["cell"]["source"]).rstrip()
            + "\n"
            + assignments.hidden_test(check["checker"], SEED),
        )
        for answer, check in zip(answers, checks, strict=True)
    ]


@pytest.fixture(scope="module")
def chinese_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("classroom-zh") / "_student" / "zh"
    chapters = [CHAPTERS[0].parent / "zh" / CHAPTERS[0].name]
    student_copies.write_student_copies(chapters, folder, folder.parent / "zh.zip")
    return folder


def test_a_chinese_student_copy_answers_in_chinese(chinese_folder):
    """Chapter 1's Chinese student copy, run the same way: its checkers and hidden tests
    speak Chinese (its setup cell calls checks.set_language("zh_CN"))."""
    messages = run_student_copy(chinese_folder / CHAPTERS[0].name, CHAPTERS[0].parent / "zh")
    assert messages["printed"] and all(p.startswith("正确：") for p in messages["printed"])
    assert all(re.search(r"[\u4e00-\u9fff]", e) for e in messages["errors"])


@pytest.mark.parametrize("notebook", CHAPTERS, ids=lambda p: p.name)
def test_student_copy_runs_up_to_its_exercises(folder, notebook):
    messages = run_student_copy(folder / notebook.name, notebook.parent)
    assert all(p.startswith("Correct:") for p in messages["printed"])
    assert all("Hidden test passed" in p for p in messages["printed"])


def run_student_copy(path, notebooks) -> dict[str, list[str]]:
    """Run the student copy at ``path`` with its solutions and hidden tests appended
    (from the full notebook of the same name in ``notebooks``); the checker cells'
    printed confirmations and error messages."""
    notebook = notebooks / path.name
    folder = path.parent
    copy = nbformat.read(path, as_version=4)
    graded = graded_solutions(notebook)
    for solution, check in graded:
        copy.cells += [nbformat.v4.new_code_cell(solution), nbformat.v4.new_code_cell(check)]
    execute_notebook.client_for(copy, folder, allow_errors=True).execute()
    added, printed, messages = copy.cells[len(copy.cells) - 2 * len(graded) :], [], []
    copy.cells = copy.cells[: len(copy.cells) - 2 * len(graded)]
    for solution, check in zip(added[::2], added[1::2], strict=True):
        for cell in (solution, check):
            assert not errors_of(cell), f"{cell.source[:80]!r}: {errors_of(cell)[0]['evalue']}"
        printed.append("".join(o.get("text", "") for o in check.outputs))
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
            messages.append(error["evalue"])
    assert checker_cells >= 1, "no auto-checked exercise ran"
    assert printed, "no exercise was graded"
    return {"printed": printed, "errors": messages}
