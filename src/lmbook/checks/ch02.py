"""Checkers of chapter 2: the mathematics of neural networks (Exercises 2.1–2.4, 2.6).

Notebook: ``notebooks/02_neural_network_math.ipynb``. Each checker takes the variable
that the notebook's checker cell passes (``answer_3``, or the function the learner
wrote) and names that variable in its messages. The keyword arguments of a number's
checker are the exercise's given values, with the notebook's as defaults; a function's
checker takes the ``seed`` of its test inputs. The hidden test of
:mod:`lmbook.checks.grading` calls them with others (``SECOND_CASES``). Exercise 2.6
is an experiment: its checker reads the learner's own loss histories and checks the
stated outcome of each run against them, so any correct outcome passes.
"""

from __future__ import annotations

import math

import numpy as np

from lmbook import nn
from lmbook.checks.core import (
    AnswerError,
    Hint,
    SecondCase,
    as_array,
    as_finite_array,
    as_function,
    as_number,
    as_record,
    call,
    check_close,
    next_hint,
)
from lmbook.checks.messages import N_, _

HINTS = {
    hint.exercise: hint
    for hint in (
        Hint(
            "2.1",
            N_(
                "σ' can be written in terms of σ itself, and σ(z) is "
                "computed stably by nn.sigmoid."
            ),
            N_(
                "differentiate 1 / (1 + e^(−z)) with the chain rule, write "
                "e^(−z) / (1 + e^(−z)) as 1 − σ(z), and compute "
                "σ(z) once before combining."
            ),
        ),
        Hint(
            "2.2",
            N_(
                "the chain rule: each gradient sums dZ times ∂Z/∂(variable) over every "
                "index that the variable does not carry."
            ),
            N_(
                "differentiate Z_ni = Σ_j A_nj W_ij + b_i by A_nj, by W_ij and by b_i, "
                "then write each sum as a matrix product (or a sum over the batch) "
                "with the variable's shape."
            ),
        ),
        Hint(
            "2.3",
            N_(
                "each step multiplies the distance along a curvature "
                "direction λ by (1 − ηλ)."
            ),
            N_(
                "require |1 − ηλ| < 1 for both curvatures and keep the tighter bound "
                "on η."
            ),
        ),
        Hint(
            "2.4",
            N_(
                "with from_logits=True the loss applies a softmax to the "
                "probabilities it is given."
            ),
            N_(
                "apply softmax to the vector (1, 0, …, 0) with one entry per class and "
                "take −log of the first entry."
            ),
        ),
        Hint(
            "2.6",
            N_(
                "a run has diverged when its loss ends above where it started (or "
                "overflows to inf); read that off each history, not off the bound."
            ),
            N_(
                "for each run compare the last loss of its history with the first, set "
                "its entry of diverged to last > first, and keep one rate below "
                "2/λ_max and one above it."
            ),
        ),
    )
}

# Exercise 2.6: the keys of the answer and the shortest history it may give.
EXPERIMENT_KEYS = ("learning_rates", "histories", "diverged")
MIN_STEPS = 10


def _curvatures(rng: np.random.Generator) -> dict[str, float]:
    """Two curvatures, a flat one (0.1 to 1.5) and a steep one (2 to 20, not 4), in
    either order.
    """
    flat = float(rng.integers(1, 16)) / 10
    steep = float(rng.choice([2, 3, 5, 6, 8, 10, 12, 16, 20]))
    first, second = (flat, steep) if rng.integers(2) else (steep, flat)
    return {"curvature_1": first, "curvature_2": second}


SECOND_CASES = {
    "ch02_sigmoid_derivative": SecondCase("sigmoid_derivative", seeded=True),
    "ch02_linear_backward": SecondCase("linear_backward", seeded=True),
    "ch02_max_learning_rate": SecondCase("answer_3", draw=_curvatures),
    "ch02_divergence_experiment": SecondCase("answer_6"),
    "ch02_softmax_as_logits_loss": SecondCase(
        "answer_4",
        draw=lambda rng: {
            "classes": int(rng.choice([2, 3, 4, 5, 20, 26, 50, 100, 1000]))
        },
    ),
}


def ch02_sigmoid_derivative(answer: object, seed: int = 1) -> None:
    """Exercise 2.1: a function that returns σ'(z) elementwise for a NumPy array z."""
    signature = "sigmoid_derivative(z)"
    function = as_function(answer, "sigmoid_derivative", signature)
    rng = np.random.default_rng(seed)
    z = np.concatenate(
        [[-800.0, -100.0], np.sort(rng.uniform(-30, 30, 241)), [100.0, 800.0]]
    )
    with np.errstate(all="ignore"):
        got = as_array(call(function, signature, z.copy()), f"{signature}", z.shape)
    sigma = nn.sigmoid(z)
    expected = sigma * (1.0 - sigma)
    if np.allclose(got, expected, rtol=1e-6, atol=1e-12):
        print(
            _(
                "Correct: sigmoid_derivative(z) = σ(z)·(1 − σ(z)) for z from −800 "
                "to 800."
            )
        )
        return
    if not np.all(np.isfinite(got)):
        raise AnswerError(
            _(
                "Your function returns inf or nan for some z in [−800, 800]. Hint: "
                "compute σ(z) once (nn.sigmoid is stable) and write the derivative in "
                "terms of it."
            )
        )
    for wrong, advice in (
        (
            sigma,
            N_(
                "that is σ(z) itself; differentiate 1 / (1 + e^(−z)) with the chain "
                "rule."
            ),
        ),
        (
            1.0 - sigma**2,
            N_("1 − σ² is the pattern of tanh' = 1 − tanh²; σ' factors differently."),
        ),
        (
            -expected,
            N_("check the sign: σ is increasing, so σ' is positive everywhere."),
        ),
    ):
        if np.allclose(got, wrong, rtol=1e-6, atol=1e-12):
            raise AnswerError(_("Not quite: {advice}", advice=_(advice)))
    worst = float(z[np.argmax(np.abs(got - expected))])
    raise AnswerError(
        _(
            "Not quite: the largest error is at z = {worst:g}. {hint}",
            worst=worst,
            hint=next_hint(HINTS["2.1"]),
        )
    )


def ch02_linear_backward(answer: object, seed: int = 2) -> None:
    """Exercise 2.2: ``linear_backward(dZ, A, W) -> (dA, dW, db)`` for
    Z = A @ W.T + b.
    """
    signature = "linear_backward(dZ, A, W)"
    function = as_function(answer, "linear_backward", signature)
    rng = np.random.default_rng(seed)
    batch, inputs, outputs = 5, 4, 3
    a, w = rng.standard_normal((batch, inputs)), rng.standard_normal((outputs, inputs))
    dz = rng.standard_normal((batch, outputs))
    result = call(function, signature, dz.copy(), a.copy(), w.copy())
    if not isinstance(result, tuple | list) or len(result) != 3:
        raise AnswerError(
            _(
                "{signature} should return three arrays (dA, dW, db), got {result}",
                signature=signature,
                result=repr(result),
            )
        )
    expected = {"dA": dz @ w, "dW": dz.T @ a, "db": dz.sum(axis=0)}
    hints = {
        "dA": N_(
            "A[n, j] reaches every output Z[n, i] through W[i, j], so sum over i; "
            "dA has A's shape (batch, inputs)."
        ),
        "dW": N_(
            "dW has W's shape (outputs, inputs); W[i, j] meets Z[n, i] in every "
            "example n, so sum over the batch."
        ),
        "db": N_("b is added to every row of Z: collect its gradient from every row."),
    }
    for (key, value), got in zip(expected.items(), result, strict=True):
        try:
            array = as_finite_array(got, key, value.shape)
        except AnswerError as error:
            raise AnswerError(
                _("{error} Hint: {advice}", error=error, advice=_(hints[key]))
            ) from None
        if not np.allclose(array, value, atol=1e-10):
            if key == "db" and np.allclose(array, dz.mean(axis=0), atol=1e-10):
                raise AnswerError(
                    _(
                        "db: dZ already holds the 1/batch of the mean "
                        "loss; sum, do not average."
                    )
                )
            raise AnswerError(
                _(
                    "Not quite: {key} has the right shape but wrong values: {advice} "
                    "{hint}",
                    key=key,
                    advice=_(hints[key]),
                    hint=next_hint(HINTS["2.2"]),
                )
            )
    print(_("Correct: all three gradients match, shapes included."))


def ch02_max_learning_rate(
    answer: object, curvature_1: float = 0.5, curvature_2: float = 4.0
) -> None:
    """Exercise 2.3: the largest stable gradient-descent step for two curvatures."""
    steep, flat = max(curvature_1, curvature_2), min(curvature_1, curvature_2)
    check_close(
        answer,
        2.0 / steep,
        name="answer_3",
        unit=N_("(learning rate)"),
        rel_tol=0.01,
        hint=HINTS["2.3"],
        hints=[
            (
                2.0 / flat,
                N_(
                    "the flat direction allows that, but the steep "
                    "one diverges long before."
                ),
            ),
            (
                1.0 / steep,
                N_(
                    "η = 1/λ reaches the minimum of the steep direction in one step; "
                    "stability ends where |1 − ηλ| reaches 1."
                ),
            ),
            (
                2.0 / (steep + flat),
                N_(
                    "that step converges fastest overall; the question asks "
                    "where it stops converging."
                ),
            ),
            (4.0 / (steep + flat), N_("use the largest curvature, not the average.")),
        ],
    )


def ch02_softmax_as_logits_loss(answer: object, classes: int = 10) -> None:
    """Exercise 2.4: the loss of a perfect one-hot prediction misread as logits."""
    expected = math.log(math.e + classes - 1) - 1.0
    check_close(
        answer,
        expected,
        name="answer_4",
        unit=N_("nats"),
        rel_tol=0.005,
        hint=HINTS["2.4"],
        hints=[
            (
                0.0,
                N_(
                    "that is the loss if the probabilities were read as probabilities; "
                    "from_logits=True applies a second softmax to them."
                ),
            ),
            (
                math.log(classes),
                N_("close: the second softmax is nearly, but not exactly, uniform."),
            ),
            (
                math.log(math.e + classes - 1),
                N_("subtract the logit of the true class, which is 1."),
            ),
        ],
    )


def _run_diverged(history: object, run: int) -> bool:
    """Whether one loss history diverged: it overflowed, or it ends above its start."""
    try:
        losses = np.asarray(history, dtype=float)
    except (TypeError, ValueError):
        losses = None
    if losses is None or losses.ndim != 1 or losses.size < MIN_STEPS:
        raise AnswerError(
            _(
                "{name} should be a list of at least {steps} losses, one per step, "
                "got {history}",
                name=f'answer_6["histories"][{run}]',
                steps=MIN_STEPS,
                history=repr(history),
            )
        )
    if np.any(losses[np.isfinite(losses)] < 0):
        raise AnswerError(
            _(
                "{name} holds a negative loss; a squared-error or cross-entropy loss "
                "is never negative.",
                name=f'answer_6["histories"][{run}]',
            )
        )
    if not np.isfinite(losses[0]):
        raise AnswerError(
            _(
                "{name} starts at {start}: record the loss before the first step too.",
                name=f'answer_6["histories"][{run}]',
                start=losses[0],
            )
        )
    return bool(not np.all(np.isfinite(losses)) or losses[-1] > losses[0])


def ch02_divergence_experiment(answer: object) -> None:
    """Exercise 2.6: gradient descent run at learning rates of the learner's choice.

    ``answer`` is a dict: ``learning_rates`` (one per run), ``histories`` (each run's
    loss before every step and after the last) and ``diverged`` (a bool per run, the
    learner's reading). A run diverged if its loss overflowed or ends above where it
    started. The runs must include one that diverged and one that did not.
    """
    answer = as_record(answer, "answer_6", EXPERIMENT_KEYS)
    rates, histories, stated = (answer[key] for key in EXPERIMENT_KEYS)
    runs = [rates, histories, stated]
    if not all(isinstance(value, list | tuple) for value in runs):
        raise AnswerError(
            _(
                "answer_6's three entries should be lists with one item per run, got "
                "{kinds}.",
                kinds=", ".join(type(value).__name__ for value in runs),
            )
        )
    if len({len(value) for value in runs}) != 1 or len(rates) < 2:
        raise AnswerError(
            _(
                "answer_6 should describe at least two runs, with one learning rate, "
                "one history and one outcome each; got {rates}, {histories} and "
                "{outcomes}.",
                rates=len(rates),
                histories=len(histories),
                outcomes=len(stated),
            )
        )
    for run, rate in enumerate(rates):
        name = f'answer_6["learning_rates"][{run}]'
        value = as_number(rate, name, N_("(learning rate)"))
        if value <= 0:
            raise AnswerError(
                _("{name} should be positive, got {value}.", name=name, value=value)
            )
    for run, outcome in enumerate(stated):
        if not isinstance(outcome, bool | np.bool_):
            raise AnswerError(
                _(
                    "{name} should be True or False, got {outcome}",
                    name=f'answer_6["diverged"][{run}]',
                    outcome=repr(outcome),
                )
            )
    measured = [_run_diverged(history, run) for run, history in enumerate(histories)]
    if all(measured) or not any(measured):
        if all(measured):
            message = _(
                "Not quite: all your runs diverged. Add a learning rate on the other "
                "side of the bound 2/λ_max, so that the experiment shows both outcomes."
            )
        else:
            message = _(
                "Not quite: all your runs converged. Add a learning rate on the other "
                "side of the bound 2/λ_max, so that the experiment shows both outcomes."
            )
        raise AnswerError(message)
    for run, (said, seen) in enumerate(zip(stated, measured, strict=True)):
        if bool(said) != seen:
            values = {"run": run, "rate": float(rates[run])}
            hint = next_hint(HINTS["2.6"])
            if said:
                message = _(
                    "Not quite: run {run} (learning rate {rate:g}) is reported as "
                    "diverged, but its own history says otherwise. {hint}",
                    hint=hint,
                    **values,
                )
            else:
                message = _(
                    "Not quite: run {run} (learning rate {rate:g}) is reported as "
                    "not diverged, but its own history says otherwise. {hint}",
                    hint=hint,
                    **values,
                )
            raise AnswerError(message)
    print(
        _(
            "Correct: {diverged} of your {runs} runs diverged, as you reported, and "
            "the others did not.",
            diverged=sum(measured),
            runs=len(measured),
        )
    )
