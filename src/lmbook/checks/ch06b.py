"""Checkers of notebook 6b, chapter 6 part 2: fine-tuning a classifier (Exercises 6b.1–6b.2).

Notebook: ``notebooks/06b_fine_tuning_a_classifier.ipynb``. Each checker takes the variable that
the notebook's checker cell passes (``answer_1``, or the function the learner
wrote) and names that variable in its messages.
"""

from __future__ import annotations

import math

from lmbook.checks.core import check_close

MINILM_LAYER_PARAMETERS = 4 * (384 * 384 + 384) + (384 * 1536 + 1536) + (1536 * 384 + 384) + 4 * 384


def ch06b_trainable_parameters(answer: object) -> None:
    """Exercise 6b.1: trainable parameters when the top 3 layers of MiniLM and the head train.

    The training cell prints the count for the top two layers, so the learner can check
    a formula for one layer against it without being shown this answer.
    """
    head = 384 * 2 + 2
    check_close(
        answer,
        3 * MINILM_LAYER_PARAMETERS + head,
        name="answer_1",
        unit="parameters",
        rel_tol=1e-9,
        hints=[
            (
                2 * MINILM_LAYER_PARAMETERS + head,
                "that is the CPU recipe's count, two layers; this question trains three.",
            ),
            (3 * MINILM_LAYER_PARAMETERS, "the new head trains too: 384 × 2 weights and 2 biases."),
            (6 * MINILM_LAYER_PARAMETERS + head, "only the top three of the six layers train."),
            (
                3 * (MINILM_LAYER_PARAMETERS - 4 * 384) + head,
                "each layer has two LayerNorms, each with a scale and a shift of 384 numbers.",
            ),
        ],
        default_hint="one MiniLM layer has four 384×384 projections with biases, a "
        "384→1536→384 feed-forward network with biases, and two LayerNorms.",
    )


def ch06b_accuracy_margin(answer: object) -> None:
    """Exercise 6b.2: the half-width of a 95% normal interval for 84% accuracy on 1,000 tests."""
    p, n = 0.84, 1000
    standard_error = math.sqrt(p * (1 - p) / n)
    check_close(  # 2.5%: the two significant figures the exercise asks for, or 2 for 1.96
        answer,
        1.96 * standard_error,
        name="answer_2",
        unit="(a fraction)",
        rel_tol=0.025,
        hints=[
            (standard_error, "that is one standard error; a 95% interval spans 1.96 of them."),
            (1.96 * p * (1 - p) / n, "take the square root of p(1 − p)/n."),
            (1.96 * math.sqrt(p * (1 - p) / 100), "the test set has 1,000 snippets."),
            (100 * 1.96 * standard_error, "give a fraction, not percentage points."),
        ],
        default_hint="the standard error of a proportion is sqrt(p(1 − p)/n).",
    )
