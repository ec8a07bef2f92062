"""Checkers of chapter 2: the mathematics of neural networks (Exercises 2.1–2.4).

Notebook: ``notebooks/02_neural_network_math.ipynb``. Each checker takes the variable that
the notebook's checker cell passes (``answer_1``, or the function the learner
wrote) and names that variable in its messages.
"""

from __future__ import annotations

import math

import numpy as np

from lmbook import nn
from lmbook.checks.core import (
    AnswerError,
    as_array,
    as_finite_array,
    as_function,
    call,
    check_close,
)


def ch02_sigmoid_derivative(answer: object) -> None:
    """Exercise 2.1: a function that returns σ'(z) elementwise for a NumPy array z."""
    signature = "sigmoid_derivative(z)"
    function = as_function(answer, "sigmoid_derivative", signature)
    z = np.concatenate([[-800.0, -100.0], np.linspace(-30.0, 30.0, 241), [100.0, 800.0]])
    with np.errstate(all="ignore"):
        got = as_array(call(function, signature, z.copy()), f"{signature}", z.shape)
    sigma = nn.sigmoid(z)
    expected = sigma * (1.0 - sigma)
    if np.allclose(got, expected, rtol=1e-6, atol=1e-12):
        print("Correct: sigmoid_derivative(z) = σ(z)·(1 − σ(z)) for z from −800 to 800.")
        return
    if not np.all(np.isfinite(got)):
        raise AnswerError(
            "Your function returns inf or nan for some z in [−800, 800]. Hint: compute σ(z) "
            "once (nn.sigmoid is stable) and write the derivative in terms of it."
        )
    for wrong, advice in (
        (sigma, "that is σ(z) itself; differentiate 1 / (1 + e^(−z)) with the chain rule."),
        (1.0 - sigma**2, "1 − σ² is the pattern of tanh' = 1 − tanh²; σ' factors differently."),
        (-expected, "check the sign: σ is increasing, so σ' is positive everywhere."),
    ):
        if np.allclose(got, wrong, rtol=1e-6, atol=1e-12):
            raise AnswerError(f"Not quite: {advice}")
    worst = float(z[np.argmax(np.abs(got - expected))])
    raise AnswerError(
        f"Not quite: the largest error is at z = {worst:g}. Hint: write e^(−z) in terms of "
        "σ(z) and 1 − σ(z)."
    )


def ch02_linear_backward(answer: object) -> None:
    """Exercise 2.2: ``linear_backward(dZ, A, W) -> (dA, dW, db)`` for Z = A @ W.T + b."""
    signature = "linear_backward(dZ, A, W)"
    function = as_function(answer, "linear_backward", signature)
    rng = np.random.default_rng(2)
    batch, inputs, outputs = 5, 4, 3
    a, w = rng.standard_normal((batch, inputs)), rng.standard_normal((outputs, inputs))
    dz = rng.standard_normal((batch, outputs))
    result = call(function, signature, dz.copy(), a.copy(), w.copy())
    if not isinstance(result, tuple | list) or len(result) != 3:
        raise AnswerError(f"{signature} should return three arrays (dA, dW, db), got {result!r}")
    expected = {"dA": dz @ w, "dW": dz.T @ a, "db": dz.sum(axis=0)}
    hints = {
        "dA": "A[n, j] reaches every output Z[n, i] through W[i, j], so sum over i; "
        "dA has A's shape (batch, inputs).",
        "dW": "dW has W's shape (outputs, inputs); W[i, j] meets Z[n, i] in every example n, "
        "so sum over the batch.",
        "db": "b is added to every row of Z: collect its gradient from every row.",
    }
    for (key, value), got in zip(expected.items(), result, strict=True):
        try:
            array = as_finite_array(got, key, value.shape)
        except AnswerError as error:
            raise AnswerError(f"{error} Hint: {hints[key]}") from None
        if not np.allclose(array, value, atol=1e-10):
            if key == "db" and np.allclose(array, dz.mean(axis=0), atol=1e-10):
                raise AnswerError(
                    "db: dZ already holds the 1/batch of the mean loss; sum, do not average."
                )
            raise AnswerError(f"{key} has the right shape but wrong values. Hint: {hints[key]}")
    print("Correct: all three gradients match, shapes included.")


def ch02_max_learning_rate(answer: object) -> None:
    """Exercise 2.3: the largest stable gradient-descent step for curvatures 0.5 and 4."""
    check_close(
        answer,
        2.0 / 4.0,
        name="answer_3",
        unit="(learning rate)",
        rel_tol=0.01,
        hints=[
            (2.0 / 0.5, "the flat direction allows that, but the steep one diverges long before."),
            (
                1.0 / 4.0,
                "η = 1/λ reaches the minimum of the steep direction in one step; "
                "stability ends where |1 − ηλ| reaches 1.",
            ),
            (
                2.0 / 4.5,
                "that step converges fastest overall; the question asks where it stops converging.",
            ),
            (2.0 / 2.25, "use the largest curvature, not the average."),
        ],
        default_hint="each direction is multiplied by (1 − ηλ) per step; require |1 − ηλ| < 1 "
        "for both curvatures.",
    )


def ch02_softmax_as_logits_loss(answer: object) -> None:
    """Exercise 2.4: the loss of a perfect one-hot prediction misread as logits, 10 classes."""
    expected = math.log(math.e + 9.0) - 1.0
    check_close(
        answer,
        expected,
        name="answer_4",
        unit="nats",
        rel_tol=0.005,
        hints=[
            (
                0.0,
                "that is the loss if the probabilities were read as probabilities; "
                "from_logits=True applies a second softmax to them.",
            ),
            (math.log(10.0), "close: the second softmax is nearly, but not exactly, uniform."),
            (math.log(math.e + 9.0), "subtract the logit of the true class, which is 1."),
        ],
        default_hint="apply softmax to the vector (1, 0, …, 0) of length 10 and take −log of "
        "the first entry.",
    )
