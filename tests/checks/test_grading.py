"""``lmbook.checks.grading``, the hidden tests that nbgrader runs after a public checker.

The functions that read and rerun a learner's cell are tested here directly. The hidden
test itself reloads the checker modules, so it is tested in a Jupyter kernel of its own
(as nbgrader runs it), where the reload cannot disturb the other tests' checkers.
"""

from __future__ import annotations

import numpy as np
import pytest

from lmbook.checks import grading
from lmbook.checks.core import AnswerError

CELL = "parameters, tokens = 65e9, 1.4e12\nanswer_1 = 6 * parameters * tokens\nprint('hi')"


def test_answer_source_is_the_latest_cell_that_sets_the_answer():
    history = ["", "answer_1 = 1", "x = 2", "answer_1 = 3  # again", "checks.ch01(answer_1)"]
    assert grading.answer_source(history, "answer_1") == "answer_1 = 3  # again"
    assert grading.answer_source(["def f(x):\n    return x", ""], "f").startswith("def f")
    assert grading.answer_source(["a, answer_2 = 1, 2", ""], "answer_2") == "a, answer_2 = 1, 2"


def test_answer_source_skips_the_running_cell_and_broken_cells():
    with pytest.raises(AnswerError, match="No cell of this notebook sets answer_1"):
        grading.answer_source(["x = (", "answer_1 = 1"], "answer_1")
    with pytest.raises(TypeError, match="_ih"):
        grading.answer_source("answer_1 = 1", "answer_1")


def test_rerun_answer_replaces_the_given_values_and_keeps_the_rest():
    namespace = {"_ih": ["", CELL, "checks"], "np": np}
    assert grading.rerun_answer(namespace, "answer_1", {"parameters": 1.0, "tokens": 2.0}) == 12
    # A copy of the namespace is used: the notebook's own variables are untouched.
    assert "answer_1" not in namespace and "parameters" not in namespace


def test_rerun_answer_reports_the_learners_error():
    namespace = {"_ih": ["", "n = 4\nanswer_1 = 1 / (n - 4)", ""]}
    with pytest.raises(AnswerError, match="ZeroDivisionError"):
        grading.rerun_answer(namespace, "answer_1", {"n": 4})
    namespace = {"_ih": ["", "n = 4\nif n == 4:\n    answer_1 = 1", ""]}
    with pytest.raises(AnswerError, match="did not set answer_1"):
        grading.rerun_answer(namespace, "answer_1", {"n": 5})


def test_rerun_answer_refuses_what_the_exercise_rules_out():
    layer = "torch.nn.Conv2d(3, 1, 7, 2, 3)"
    cell = f"size = 224\nanswer_1 = {layer}(torch.ones(1, 3, size, size)).shape[-1]"
    with pytest.raises(AnswerError, match="uses torch, which the exercise rules out"):
        grading.rerun_answer({"_ih": ["", cell, ""]}, "answer_1", {"size": 32}, ("torch",))


def test_rerun_answer_needs_a_notebook():
    with pytest.raises(RuntimeError, match="notebook kernel"):
        grading.rerun_answer({}, "answer_1", {})
    with pytest.raises(TypeError, match="globals"):
        grading.rerun_answer([], "answer_1", {})
    with pytest.raises(TypeError, match="name of a variable"):
        grading.rerun_answer({"_ih": []}, 1, {})


def kernel_outputs(root, cells: list[str]) -> list[list[dict]]:
    """Run ``cells`` in a fresh kernel, as nbgrader does; the outputs of each."""
    import nbclient
    import nbformat

    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    client = nbclient.NotebookClient(
        notebook, allow_errors=True, timeout=120, resources={"metadata": {"path": str(root)}}
    )
    client.execute()
    return [cell.outputs for cell in notebook.cells]


def shown(outputs: list[dict]) -> str:
    text = "".join(o.get("text", "") for o in outputs if o["output_type"] == "stream")
    results = [o["data"]["text/plain"] for o in outputs if o["output_type"] == "execute_result"]
    errors = [f"{o['ename']}: {o['evalue']}" for o in outputs if o["output_type"] == "error"]
    return "\n".join([text, *results, *errors])


HIDDEN = 'grading.hidden_test("{name}", globals(), seed=7, points=2)'


def test_hidden_tests_in_a_kernel(root):
    setup = "from lmbook import checks\nfrom lmbook.checks import grading\nimport numpy as np"
    cells = [
        setup,
        # A computed answer: the public and the hidden case pass, 2 points.
        "parameters, tokens = 65e9, 1.4e12\nanswer_1 = 6 * parameters * tokens",
        "checks.ch01_training_compute(answer_1)\n" + HIDDEN.format(name="ch01_training_compute"),
        # A copied number passes the public case only: 1 point of 2.
        "budget = 1e24\nanswer_2 = 9.13e10",
        "checks.ch01_chinchilla_rule(answer_2)\n" + HIDDEN.format(name="ch01_chinchilla_rule"),
        # A checker redefined in an answer cell: the freshly loaded one rejects the answer.
        "answer_3 = 1.0\nchecks.ch01_doubling_months = lambda *args: print('Correct')",
        "checks.ch01_doubling_months(answer_3)\n" + HIDDEN.format(name="ch01_doubling_months"),
        "print(checks.ch01_doubling_months.__module__)",  # restored for the cells after
        # A function: tested again on inputs drawn from the seed.
        "def my_causal_mask(n):\n    return np.tril(np.ones((n, n), dtype=bool))",
        HIDDEN.format(name="ch05_causal_mask"),
        # An exercise worked by hand has no second case.
        'answer_1 = ["unh", "##app", "##iness"]',
        HIDDEN.format(name="ch06a_wordpiece"),
        HIDDEN.format(name="ch01_no_such_checker"),
    ]
    outputs = [shown(o) for o in kernel_outputs(root, cells)]
    assert "Hidden test passed" in outputs[2] and outputs[2].endswith("2.0"), outputs[2]
    assert "Hidden test failed" in outputs[4] and "Points: 1 of 2" in outputs[4], outputs[4]
    assert outputs[4].endswith("1.0")
    assert "AnswerError: Hidden test: the course's own checker rejects answer_3" in outputs[6]
    assert outputs[7].strip() == "lmbook.checks.ch01"
    assert "Hidden test passed, with other inputs" in outputs[9], outputs[9]
    assert "no second case" in outputs[11] and outputs[11].endswith("2.0"), outputs[11]
    assert "ValueError" in outputs[12] and "not a checker" in outputs[12], outputs[12]
