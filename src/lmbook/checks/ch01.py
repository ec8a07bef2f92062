"""Checkers of chapter 1: the rise of large models (Exercises 1.1–1.3).

Notebook: ``notebooks/01_rise_of_large_models.ipynb``. Each checker takes the variable that
the notebook's checker cell passes (``answer_1``, or the function the learner
wrote) and names that variable in its messages.
"""

from __future__ import annotations

import math

from lmbook import scaling
from lmbook.checks.core import check_close


def ch01_training_compute(answer: object) -> None:
    """Exercise 1.1: FLOPs to train 65e9 parameters on 1.4e12 tokens with C = 6·N·D."""
    expected = scaling.training_compute(65e9, 1.4e12)
    check_close(
        answer,
        expected,
        name="answer_1",
        unit="FLOP",
        rel_tol=0.02,
        hints=[
            (
                65e9 * 1.4e12,
                "you counted one operation per parameter per token; "
                "what do the forward and backward passes cost?",
            ),
            (2 * 65e9 * 1.4e12, "that is the forward pass alone; add the backward pass."),
        ],
        default_hint="write N and D in scientific notation (65 billion = 6.5e10) and "
        "multiply 6 · N · D.",
    )


def ch01_chinchilla_rule(answer: object) -> None:
    """Exercise 1.2: parameters for a 1e24 FLOP budget under D = 20·N and C = 6·N·D."""
    expected, _ = scaling.tokens_per_parameter_optimal(1e24, 20.0)
    check_close(
        answer,
        expected,
        name="answer_2",
        unit="parameters",
        rel_tol=0.03,
        hints=[
            (20 * expected, "that is the number of tokens D; the question asks for N."),
            (1e24 / 120, "substituting D = 20·N gives C = 120·N², so take a square root."),
        ],
        default_hint="substitute D = 20·N into C = 6·N·D and solve the quadratic for N.",
    )


def ch01_doubling_months(answer: object) -> None:
    """Exercise 1.3: doubling time, in months, of growth from 1.5e9 to 175e9 in 15 months."""
    expected = 15.0 / math.log2(175e9 / 1.5e9)
    check_close(
        answer,
        expected,
        name="answer_3",
        unit="months",
        rel_tol=0.03,
        hints=[
            (
                15.0 / (175e9 / 1.5e9),
                "divide by the number of doublings, log2(ratio), not by the ratio itself.",
            ),
            (15.0 / math.log(175e9 / 1.5e9), "a doubling is a factor of 2: use log2, not ln."),
            (15.0 / math.log10(175e9 / 1.5e9), "a doubling is a factor of 2: use log2, not log10."),
        ],
        default_hint="count the doublings, log2(final / initial), and divide the months by it.",
    )
