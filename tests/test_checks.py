import numpy as np
import pytest

from lmbook import checks


def test_check_close_accepts_and_reports(capsys):
    assert checks.check_close(1.01, 1.0, name="x", unit="m", rel_tol=0.02) is None
    assert "Correct" in capsys.readouterr().out


def test_check_close_gives_the_matching_hint():
    with pytest.raises(checks.AnswerError, match="forgot the square"):
        checks.check_close(
            2.0, 4.0, name="x", unit="m", rel_tol=0.01, hints=[(2.0, "forgot the square")]
        )


def test_check_close_reports_order_of_magnitude():
    with pytest.raises(checks.AnswerError, match=r"10\^3\.0"):
        checks.check_close(1000.0, 1.0, name="x", unit="m", rel_tol=0.01)


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (None, "No answer yet"),
        (..., "No answer yet"),
        ("5e23", "single number"),
        ([1.0, 2.0], "single number"),
        (np.array([1.0, 2.0]), "single number"),
        (True, "single number"),
        (float("nan"), "finite"),
    ],
)
def test_malformed_answers_get_a_clear_message(answer, message):
    with pytest.raises(checks.AnswerError, match=message):
        checks.ch01_training_compute(answer)


def test_rel_tol_must_be_sensible():
    with pytest.raises(ValueError):
        checks.check_close(1.0, 1.0, name="x", unit="m", rel_tol=0)


CHAPTER_1 = [
    # checker, a right answer, wrong answers with the hint each must give
    (
        checks.ch01_training_compute,
        5.46e23,
        [(9.1e22, "forward and backward"), (1.82e23, "forward pass alone")],
    ),
    (checks.ch01_chinchilla_rule, 9.13e10, [(1.826e12, "tokens"), (8.33e21, "square root")]),
    (checks.ch01_doubling_months, 2.18, [(0.1286, "log2"), (3.15, "log2"), (7.24, "log2")]),
]


@pytest.mark.parametrize(("checker", "right", "wrongs"), CHAPTER_1)
def test_chapter_1_checkers(checker, right, wrongs, capsys):
    checker(right)
    assert "Correct" in capsys.readouterr().out
    checker(np.float64(right))  # NumPy scalars are numbers too
    for wrong, hint in wrongs:
        with pytest.raises(checks.AnswerError, match=hint) as caught:
            checker(wrong)
        assert f"{right:.3g}" not in str(caught.value)  # the hint must not reveal the answer
    with pytest.raises(checks.AnswerError, match="single number"):
        checker("a string")


# Chapter 2 ------------------------------------------------------------------


def sigmoid_derivative(z):
    s = 1 / (1 + np.exp(-z))
    return s * (1 - s)


def linear_backward(dz, a, w):
    return dz @ w, dz.T @ a, dz.sum(axis=0)


def test_chapter_2_function_checkers_accept_right_answers(capsys):
    checks.ch02_sigmoid_derivative(sigmoid_derivative)
    checks.ch02_linear_backward(linear_backward)
    assert capsys.readouterr().out.count("Correct") == 2


@pytest.mark.parametrize(
    ("wrong", "message"),
    [
        (None, "No answer yet: define sigmoid_derivative"),
        (0.25, "should be a function"),
        (lambda z: 1 / (1 + np.exp(-z)), "that is σ"),
        (lambda z: 1 - (1 / (1 + np.exp(-z))) ** 2, "tanh"),
        (lambda z: -sigmoid_derivative(z), "sign"),
        (lambda z: np.exp(-z) / (1 + np.exp(-z)) ** 2, "inf or nan"),
        (lambda z: z[:3], r"shape \(245,\)"),
        (lambda z: 1 / 0, "raised ZeroDivisionError"),
        (lambda z: 0.2 * np.ones_like(z), "largest error"),
    ],
)
def test_sigmoid_derivative_checker_explains_wrong_answers(wrong, message):
    with pytest.raises(checks.AnswerError, match=message):
        checks.ch02_sigmoid_derivative(wrong)


@pytest.mark.parametrize(
    ("wrong", "message"),
    [
        (lambda dz, a, w: (dz @ w, dz.T @ a), "three arrays"),
        (lambda dz, a, w: (dz, dz.T @ a, dz.sum(0)), r"dA should be .* shape \(5, 4\)"),
        (lambda dz, a, w: (dz @ w, a.T @ dz, dz.sum(0)), "dW has W's shape"),
        (lambda dz, a, w: (dz @ w, dz.T @ a, dz.mean(0)), "sum, do not average"),
        (lambda dz, a, w: (dz @ w, 2 * dz.T @ a, dz.sum(0)), "dW has the right shape but wrong"),
        (lambda dz, a, w: (dz @ w, dz.T @ a, "db"), "db should be a float array"),
    ],
)
def test_linear_backward_checker_explains_wrong_answers(wrong, message):
    with pytest.raises(checks.AnswerError, match=message):
        checks.ch02_linear_backward(wrong)


CHAPTER_2 = [
    (
        checks.ch02_max_learning_rate,
        0.5,
        [(4.0, "steep one"), (0.25, "one step"), (0.4444, "fastest"), (0.8889, "average")],
    ),
    (
        checks.ch02_softmax_as_logits_loss,
        1.4612,
        [(0.0, "second softmax"), (2.3026, "nearly"), (2.4612, "subtract")],
    ),
]


@pytest.mark.parametrize(("checker", "right", "wrongs"), CHAPTER_2)
def test_chapter_2_number_checkers(checker, right, wrongs, capsys):
    checker(right)
    assert "Correct" in capsys.readouterr().out
    for value, hint in wrongs:
        with pytest.raises(checks.AnswerError, match=hint):
            checker(value)
