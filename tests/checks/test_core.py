"""``lmbook.checks.core``, check_close and the coercion every checker relies on, and the
package's exports: the core's two names for writing a checker, and every checker."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from lmbook import checks
from lmbook.checks import core
from lmbook.checks.core import AnswerError

# The package ------------------------------------------------------------------------


def test_the_package_exports_the_core_and_the_checkers_only():
    """``checks.<name>`` for the notebooks: each checker, from the module of its notebook."""
    assert checks.AnswerError is AnswerError and checks.check_close is core.check_close
    helpers = ("AnswerError", "check_close", "hint", "language", "set_language")
    checkers = [name for name in checks.__all__ if name not in helpers]
    assert len(checkers) == len(set(checkers)) == len(checks.__all__) - len(helpers)
    for name in checkers:
        module = re.match(r"(ch\d\d[a-z]?)_\w+$", name)[1]
        assert getattr(checks, name).__module__ == f"lmbook.checks.{module}", name


def test_the_core_lists_its_public_helpers():
    assert sorted(core.__all__) == sorted(
        name
        for name, value in vars(core).items()
        if callable(value)
        and not name.startswith("_")
        and getattr(value, "__module__", None) == core.__name__
    )


HINT = core.Hint("9.9", "think of the area.", "multiply the two sides.")


@pytest.fixture(autouse=True)
def first_tier():
    core.forget_wrong_answers()
    yield
    core.forget_wrong_answers()


# Hints in two tiers ------------------------------------------------------------------


def test_a_first_wrong_answer_gets_the_concept_and_a_second_the_method():
    first = core.next_hint(HINT)
    assert "think of the area." in first and "multiply" not in first
    assert 'checks.hint("9.9")' in first
    second = core.next_hint(HINT)
    assert "think of the area." in second and "Method: multiply the two sides." in second
    assert "multiply" in core.next_hint(HINT)  # and every later one
    core.forget_wrong_answers()
    assert "multiply" not in core.next_hint(HINT)


def test_tiers_are_counted_per_exercise():
    other = core.Hint("9.8", "look at the corners.", "count them.")
    core.next_hint(HINT)
    assert "count them." not in core.next_hint(other)


def test_checks_hint_prints_both_tiers(capsys):
    checks.hint("1.1")
    out = capsys.readouterr().out
    assert out.startswith("Exercise 1.1. Concept: ") and "Method: " in out
    checks.hint("6b.2")
    assert capsys.readouterr().out.startswith("Exercise 6b.2.")


@pytest.mark.parametrize(
    ("exercise", "error", "text"),
    [(1.1, TypeError, "string"), ("one", ValueError, "look like"), ("1.9", ValueError, "1.1")],
)
def test_checks_hint_refuses_an_unknown_exercise(exercise, error, text):
    with pytest.raises(error, match=text):
        checks.hint(exercise)


def test_a_hint_needs_its_three_texts():
    with pytest.raises(ValueError, match="concept"):
        core.Hint("1.1", "", "method")
    with pytest.raises(TypeError, match="Hint"):
        core.next_hint("a hint")


def test_a_second_case_draws_or_is_seeded_not_both():
    assert core.SecondCase("answer_1").draw is None
    with pytest.raises(ValueError, match="not both"):
        core.SecondCase("answer_1", draw=lambda rng: {}, seeded=True)
    with pytest.raises(ValueError, match="variable"):
        core.SecondCase("answer 1")
    with pytest.raises(ValueError, match="forbid"):
        core.SecondCase("answer_1", seeded=True, forbidden=("torch",))


# uses_module: a helper that an exercise forbids --------------------------------------


def test_uses_module_sees_every_way_of_calling_a_forbidden_module():
    from lmbook import cnn, rnn

    def through_global(dout, x):
        return cnn.max_pool2d_backward(dout, x, 2)

    def imported_inside(dout, x):
        from lmbook.cnn import max_pool2d_backward

        return max_pool2d_backward(dout, x, 2)

    def module_imported_inside(dout, x):
        import lmbook.cnn as c

        return c.max_pool2d_backward(dout, x, 2)

    def own_code(dout, x):
        return np.maximum(dout, x)

    for function in (through_global, imported_inside, module_imported_inside):
        assert core.uses_module(function, cnn), function.__name__
    assert core.uses_module(cnn.max_pool2d_backward, cnn)
    assert not core.uses_module(own_code, cnn)

    def allowed_helper(params, x, h):
        from lmbook.rnn import sigmoid

        return sigmoid(x) + rnn.sigmoid(h)

    def forbidden_helper(params, x, h):
        return rnn.gru_cell(params, x, h)

    assert not core.uses_module(allowed_helper, rnn, allowed=("sigmoid",))
    assert core.uses_module(forbidden_helper, rnn, allowed=("sigmoid",))
    with pytest.raises(TypeError, match="module"):
        core.uses_module(own_code, "lmbook.cnn")


# check_close, the helper of the number checkers -----------------------------------


def test_check_close_accepts_and_reports(capsys):
    assert core.check_close(1.01, 1.0, name="x", unit="m", rel_tol=0.02, hint=HINT) is None
    assert capsys.readouterr().out == "Correct: x = 1.01 m.\n"


def test_check_close_gives_the_matching_hint():
    mistakes = [(2.0, "forgot the square")]
    with pytest.raises(AnswerError, match="forgot the square"):
        core.check_close(2.0, 4.0, name="x", unit="m", rel_tol=0.01, hint=HINT, hints=mistakes)
    with pytest.raises(AnswerError, match="Hint: think of the area"):
        core.check_close(3.0, 4.0, name="x", unit="m", rel_tol=0.01, hint=HINT, hints=mistakes)


def test_check_close_says_the_direction_of_a_tenfold_slip_but_not_its_size():
    with pytest.raises(AnswerError, match="It is more than ten times too large") as caught:
        core.check_close(1000.0, 1.0, name="x", unit="m", rel_tol=0.01, hint=HINT)
    assert "10^" not in str(caught.value) and "1000" not in str(caught.value).split("not right")[1]
    with pytest.raises(AnswerError, match="It is more than ten times too small"):
        core.check_close(0.05, 1.0, name="x", unit="m", rel_tol=0.01, hint=HINT)
    with pytest.raises(AnswerError) as caught:
        core.check_close(2.0, 1.0, name="x", unit="m", rel_tol=0.01, hint=HINT)
    assert "ten times" not in str(caught.value)


def test_check_close_rejects_malformed_answers():
    with pytest.raises(AnswerError, match="No answer yet: set x to a number"):
        core.check_close(None, 1.0, name="x", unit="m", rel_tol=0.01, hint=HINT)
    with pytest.raises(AnswerError, match="single number"):
        core.check_close(torch.ones(2), 1.0, name="x", unit="m", rel_tol=0.01, hint=HINT)


def test_rel_tol_must_be_sensible():
    for rel_tol in (0, 1, -0.1):
        with pytest.raises(ValueError, match="rel_tol"):
            core.check_close(1.0, 1.0, name="x", unit="m", rel_tol=rel_tol, hint=HINT)


# as_number -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "answer",
    [3, 3.0, np.float32(3.0), np.int64(3), np.array(3.0), np.array([3.0]), torch.tensor(3)],
)
def test_as_number_reads_python_numpy_and_torch_scalars(answer):
    value = core.as_number(answer, "answer_1", "m")
    assert value == 3.0 and type(value) is float


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (None, "No answer yet: set answer_1 to a number (in m) and run the cell."),
        (..., "No answer yet: set answer_1"),
        (True, "answer_1 should be a single number (in m), but it is a bool: True"),
        ("3", "answer_1 should be a single number (in m), but it is a str: '3'"),
        ([3.0], "but it is a list"),
        (np.ones(2), "but it is a ndarray"),
        (float("inf"), "answer_1 is inf; expected a finite number in m."),
        (10**400, "answer_1 is an integer too large for a float"),
    ],
)
def test_as_number_names_the_variable_in_every_rejection(answer, message):
    with pytest.raises(AnswerError) as caught:
        core.as_number(answer, "answer_1", "m")
    assert message in str(caught.value)


# as_array and as_finite_array ------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        [1, 2, 3],
        (1.0, 2.0, 3.0),
        np.arange(1, 4),
        torch.tensor([1.0, 2.0, 3.0], requires_grad=True),
    ],
)
def test_as_array_reads_lists_arrays_and_tensors(value):
    array = core.as_array(value, "answer_3", (3,))
    assert array.dtype == float
    np.testing.assert_array_equal(array, [1.0, 2.0, 3.0])


@pytest.mark.parametrize(
    ("value", "got"),
    [
        (None, "got None."),
        ([[1, 2], [3]], "got a list that is not an array of numbers."),
        ({"a": 1}, "got a dict that is not an array of numbers."),
        ("abc", "got a str that is not an array of numbers."),
        ([1, 2], "got shape (2,)."),
    ],
)
def test_as_array_says_what_it_got(value, got):
    with pytest.raises(AnswerError) as caught:
        core.as_array(value, "answer_3", (3,))
    assert str(caught.value) == f"answer_3 should be a float array of shape (3,), {got}"


def test_as_finite_array_rejects_nan_and_inf():
    assert core.as_finite_array([1, 2, 3], "answer_3", (3,)).tolist() == [1.0, 2.0, 3.0]
    for bad in ([1, np.nan, 3], [np.inf, 2, 3]):
        with pytest.raises(AnswerError, match=r"answer_3 contains nan or inf; expected 3 finite"):
            core.as_finite_array(bad, "answer_3", (3,))


# as_function and call ----------------------------------------------------------------


def test_as_function_returns_callables_and_rejects_the_rest():
    assert core.as_function(len, "f", "f(x)") is len
    with pytest.raises(AnswerError, match=r"^No answer yet: define f\(x\) and run the cell\.$"):
        core.as_function(None, "f", "f(x)")
    with pytest.raises(AnswerError, match=r"^f should be a function f\(x\), got int$"):
        core.as_function(3, "f", "f(x)")


def test_call_reports_the_learners_error_with_a_note():
    assert core.call(lambda a, b: a + b, "f(a, b)", 1, 2) == 3
    with pytest.raises(AnswerError) as caught:
        core.call(lambda a: 1 / 0, "f(a)", 1)
    assert str(caught.value) == "Calling f(a) raised ZeroDivisionError: division by zero"
    assert isinstance(caught.value.__cause__, ZeroDivisionError)
    with pytest.raises(AnswerError) as caught:
        core.call(lambda a: 1 / 0, "f(a)", 1, note="It is called with a = 1.")
    assert str(caught.value).endswith("division by zero. It is called with a = 1.")


def test_answer_error_is_an_assertion_error():
    """A rejected answer fails a cell as a failed ``assert`` does, as autograders expect."""
    assert issubclass(AnswerError, AssertionError)


# What a learner sees in Jupyter ---------------------------------------------------


def test_outside_ipython_nothing_is_registered():
    assert core.show_message_only() is False


def test_a_wrong_answer_shows_the_message_alone_in_a_kernel(root):
    """A traceback would show the checker's source, and in it the expected value."""
    import nbclient
    import nbformat

    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell("from lmbook import checks"),
        nbformat.v4.new_code_cell("checks.ch08_finetune_memory(50)"),  # expected 16 * 7e9 / 1e9
        nbformat.v4.new_code_cell("checks.ch02_max_learning_rate(0.9)"),  # expected 2.0 / 4.0
        nbformat.v4.new_code_cell("checks.ch03_max_pool_backward(lambda *args: 1 / 0)"),
        nbformat.v4.new_code_cell("print('the kernel goes on')"),
    ]
    client = nbclient.NotebookClient(
        notebook, allow_errors=True, timeout=120, resources={"metadata": {"path": str(root)}}
    )
    client.execute()
    for cell in notebook.cells[1:4]:
        (output,) = cell.outputs
        assert output.output_type == "error" and output.ename == "AnswerError", cell.source
        assert output.traceback == [f"AnswerError: {output.evalue}"], output.traceback
    shown = "\n".join("\n".join(cell.outputs[0].traceback) for cell in notebook.cells[1:4])
    for leak in ("16 * 7e9", "2.0 / 4.0", "check_close", "def ch0", ".py"):
        assert leak not in shown, leak
    assert notebook.cells[4].outputs[0].text == "the kernel goes on\n"


# Experiment records ---------------------------------------------------------------


def test_a_record_must_be_a_dict_with_exactly_its_keys():
    record = {"a": 1, "b": 2}
    assert core.as_record(record, "answer_9", ("a", "b")) is record
    with pytest.raises(core.AnswerError, match="No answer yet.*answer_9.*'a', 'b'"):
        core.as_record(None, "answer_9", ("a", "b"))
    with pytest.raises(core.AnswerError, match="No answer yet"):
        core.as_record(..., "answer_9", ("a", "b"))
    with pytest.raises(core.AnswerError, match="got a dict with the keys 'a'"):
        core.as_record({"a": 1}, "answer_9", ("a", "b"))
    with pytest.raises(core.AnswerError, match="got a list"):
        core.as_record([1, 2], "answer_9", ("a", "b"))
