"""Checkers of chapter 5: attention and Transformers (Exercises 5.1–5.3).

Notebook: ``notebooks/05_attention_and_transformers.ipynb``. Each checker takes the variable that
the notebook's checker cell passes (``answer_1``, or the function the learner
wrote) and names that variable in its messages.
"""

from __future__ import annotations

import math

import numpy as np

from lmbook import attention
from lmbook.checks.core import AnswerError, as_function, call, check_close


def ch05_causal_mask(answer: object) -> None:
    """Exercise 5.1: ``my_causal_mask(n)``, a boolean (n, n) mask, True where query i sees key j."""
    signature = "my_causal_mask(n)"
    function = as_function(answer, "my_causal_mask", signature)
    for n in (5, 2, 9, 1):
        got = call(function, signature, n)
        try:
            got = np.asarray(got) if got is not None else None
        except ValueError:  # a ragged list
            raise AnswerError(
                f"{signature} should return an array of shape (n, n); for n = {n} it returned "
                f"a {type(got).__name__} whose rows differ in length."
            ) from None
        if got is None or got.shape != (n, n):
            shape = "None" if got is None else f"shape {got.shape}"
            raise AnswerError(
                f"{signature} should return an array of shape (n, n); for n = {n} "
                f"it returned {shape}."
            )
        if got.dtype != np.bool_:
            raise AnswerError(
                f"{signature} returned dtype {got.dtype}; return booleans (True = may attend), "
                "e.g. with dtype=bool, so that a 1 is not mistaken for an additive mask."
            )
        expected = attention.causal_mask(n)
        if np.array_equal(got, expected):
            continue
        if np.array_equal(got, ~expected):
            raise AnswerError(
                "Not quite: your mask is True where attention is forbidden. In lmbook and in "
                "F.scaled_dot_product_attention, True means 'may attend'."
            )
        if np.array_equal(got, expected.T):
            raise AnswerError(
                "Not quite: row i is query i, and it may see keys 0..i, the columns on and "
                "left of the diagonal (your mask lets it see the future)."
            )
        if np.array_equal(got, np.tril(np.ones((n, n), dtype=bool), -1)):
            raise AnswerError("Not quite: a token may attend to itself; keep the diagonal.")
        raise AnswerError(
            f"Not quite (n = {n}). Hint: np.tril keeps the entries on and below the diagonal."
        )
    print("Correct: query i attends to keys 0..i, for every n tried.")


def ch05_attention_flops(answer: object) -> None:
    """Exercise 5.2: FLOPs of QKᵀ and of the weighted sum of V for n = 4,096, d = 128."""
    n, d = 4096, 128
    cost = attention.attention_cost(n, d)
    check_close(
        answer,
        cost["score_flops"] + cost["mix_flops"],
        name="answer_2",
        unit="FLOPs",
        rel_tol=0.01,
        hints=[
            (cost["score_flops"], "that is QKᵀ alone; the weights then multiply V, as much again."),
            (n * n * d * 2 / 2, "count a multiply-add as 2 FLOPs, and add the product with V."),
            (cost["total_flops"], "the question leaves out the projections W_q, W_k, W_v, W_o."),
            (4 * n * d * d, "the cost that grows as n² comes from the n×n score matrix: n²·d."),
        ],
        default_hint="QKᵀ is an (n×d)(d×n) product: n² outputs of d multiply-adds each; the "
        "weighted sum is an (n×n)(n×d) product; a multiply-add is 2 FLOPs.",
    )


def ch05_score_scale(answer: object) -> None:
    """Exercise 5.3: the score scale for unit variance when q and k entries have variance 4."""
    d_k, variance = 64, 4.0
    check_close(
        answer,
        1 / math.sqrt(d_k * variance**2),
        name="answer_3",
        unit="(a factor)",
        rel_tol=0.01,
        hints=[
            (
                1 / math.sqrt(d_k),
                "that is right for unit-variance entries; here each has variance 4.",
            ),
            (1 / math.sqrt(d_k * variance), "each product q_i·k_i has variance 4·4, not 4."),
            (
                1 / (d_k * variance**2),
                "scale by one over the standard deviation, not the variance.",
            ),
            (
                math.sqrt(d_k * variance**2),
                "divide by the standard deviation: the factor is below 1.",
            ),
        ],
        default_hint="Var(q·k) = d_k · Var(q_i) · Var(k_i) for independent zero-mean entries; "
        "multiply the scores by 1/std.",
    )
