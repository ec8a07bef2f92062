"""Checkers of chapter 1: the rise of large models (Exercises 1.1–1.3).

Notebook: ``notebooks/01_rise_of_large_models.ipynb``. Each checker takes the variable
that the notebook's checker cell passes (``answer_1``) and names it in its messages. Its
keyword arguments are the exercise's given values, with the notebook's as defaults: the
hidden test of :mod:`lmbook.checks.grading` calls it with others (``SECOND_CASES``).
"""

from __future__ import annotations

import math

from lmbook import scaling
from lmbook.checks.core import Hint, SecondCase, check_close

HINTS = {
    hint.exercise: hint
    for hint in (
        Hint(
            "1.1",
            "training compute counts the operations of every parameter on every token, "
            "forward and backward.",
            "multiply 6 · N · D, with N and D written as powers of "
            "ten (65 billion = 6.5e10).",
        ),
        Hint(
            "1.2",
            "the budget fixes C = 6·N·D, and the rule ties D to N.",
            "substitute D = 20·N into C = 6·N·D and solve the quadratic for N.",
        ),
        Hint(
            "1.3",
            "exponential growth multiplies the size by 2 once per doubling time.",
            "count the doublings, log2(final / initial), and divide the months by it.",
        ),
    )
}

SECOND_CASES = {
    "ch01_training_compute": SecondCase(
        "answer_1",
        draw=lambda rng: {
            "parameters": float(rng.integers(2, 400)) * 1e9,
            "tokens": float(rng.integers(3, 300)) * 1e11,
        },
    ),
    "ch01_chinchilla_rule": SecondCase(
        "answer_2",
        draw=lambda rng: {
            "budget": float(rng.integers(1, 100)) * 10.0 ** rng.integers(21, 26)
        },
    ),
    "ch01_doubling_months": SecondCase(
        "answer_3",
        draw=lambda rng: {
            "start": float(rng.integers(1, 20)) * 1e8,
            "end": float(rng.integers(50, 900)) * 1e9,
            "months": float(rng.integers(6, 40)),
        },
    ),
}


def ch01_training_compute(
    answer: object, parameters: float = 65e9, tokens: float = 1.4e12
) -> None:
    """Exercise 1.1: FLOPs to train ``parameters`` on ``tokens`` with C = 6·N·D."""
    expected = scaling.training_compute(parameters, tokens)
    check_close(
        answer,
        expected,
        name="answer_1",
        unit="FLOP",
        rel_tol=0.02,
        hint=HINTS["1.1"],
        hints=[
            (
                parameters * tokens,
                "you counted one operation per parameter per token; "
                "what do the forward and backward passes cost?",
            ),
            (
                2 * parameters * tokens,
                "that is the forward pass alone; add the backward pass.",
            ),
        ],
    )


def ch01_chinchilla_rule(answer: object, budget: float = 1e24) -> None:
    """Exercise 1.2: parameters for a ``budget`` of FLOP under D = 20·N and
    C = 6·N·D.
    """
    expected, _ = scaling.tokens_per_parameter_optimal(budget, 20.0)
    check_close(
        answer,
        expected,
        name="answer_2",
        unit="parameters",
        rel_tol=0.03,
        hint=HINTS["1.2"],
        hints=[
            (20 * expected, "that is the number of tokens D; the question asks for N."),
            (
                budget / 120,
                "substituting D = 20·N gives C = 120·N², so take a square root.",
            ),
        ],
    )


def ch01_doubling_months(
    answer: object, start: float = 1.5e9, end: float = 175e9, months: float = 15.0
) -> None:
    """Exercise 1.3: doubling time, in months, of growth from ``start`` to ``end``."""
    expected = months / math.log2(end / start)
    check_close(
        answer,
        expected,
        name="answer_3",
        unit="months",
        rel_tol=0.03,
        hint=HINTS["1.3"],
        hints=[
            (
                months / (end / start),
                "divide by the number of doublings, log2(ratio), "
                "not by the ratio itself.",
            ),
            (
                months / math.log(end / start),
                "a doubling is a factor of 2: use log2, not ln.",
            ),
            (
                months / math.log10(end / start),
                "a doubling is a factor of 2: use log2, not log10.",
            ),
        ],
    )
