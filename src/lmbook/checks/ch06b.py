"""Checkers of notebook 6b, chapter 6 part 2: fine-tuning a classifier
(Exercises 6b.1–6b.2).

Notebook: ``notebooks/06b_fine_tuning_a_classifier.ipynb``. Each checker takes the
variable that the notebook's checker cell passes (``answer_1``) and names that variable
in its messages. Its keyword arguments are the exercise's given values, with the
notebook's as defaults: the hidden test of :mod:`lmbook.checks.grading` calls it with
others (``SECOND_CASES``).
"""

from __future__ import annotations

import math

import numpy as np

from lmbook.checks.core import Hint, SecondCase, check_close
from lmbook.checks.messages import N_, _

HINTS = {
    hint.exercise: hint
    for hint in (
        Hint(
            "6b.1",
            N_(
                "only the trained layers and the new head count, and every trained "
                "layer has the same parameters, biases and LayerNorms included."
            ),
            N_(
                "write one layer's count (four H×H projections with biases, an H→F→H "
                "feed-forward network with biases, two LayerNorms of 2H each), check "
                "three layers plus the head against the printed count, then take as "
                "many layers as train and add the head (H × 2 weights and 2 biases)."
            ),
        ),
        Hint(
            "6b.2",
            N_(
                "a 95% interval reaches 1.96 standard errors either side "
                "of the measured accuracy."
            ),
            N_(
                "the standard error of a proportion p measured on n examples is "
                "sqrt(p(1 − p)/n); multiply it by 1.96 and give the result as a "
                "fraction."
            ),
        ),
    )
}


def _layer(H: int, F: int) -> int:
    """Parameters of one encoder layer of width H and feed-forward width F."""
    return 4 * (H * H + H) + (H * F + F) + (F * H + H) + 4 * H


def _draw_trained_layers(rng: np.random.Generator) -> dict[str, object]:
    """Another width, feed-forward width and number of trained layers for Exercise 6b.1.

    The layers are not 3 (the printed count) nor 6 (the whole encoder), whose hints
    would then be the right answer.
    """
    public = 4 * _layer(384, 1536)
    while True:
        hidden = 64 * int(rng.integers(2, 17))
        values = {
            "H": hidden,
            "F": hidden * int(rng.integers(2, 5)),
            "layers": int(rng.choice([1, 2, 4, 5])),
        }
        if not math.isclose(
            values["layers"] * _layer(hidden, values["F"]), public, rel_tol=0.1
        ):
            return values


def _draw_accuracy(rng: np.random.Generator) -> dict[str, object]:
    """Another accuracy and test-set size for Exercise 6b.2, its margin far from the
    public one.
    """
    public = 1.96 * math.sqrt(0.84 * 0.16 / 1000)
    while True:
        accuracy, n = int(rng.integers(60, 98)) / 100, 100 * int(rng.integers(2, 51))
        if not math.isclose(
            1.96 * math.sqrt(accuracy * (1 - accuracy) / n), public, rel_tol=0.1
        ):
            return {"accuracy": accuracy, "n": n}


SECOND_CASES = {
    "ch06b_trainable_parameters": SecondCase("answer_1", draw=_draw_trained_layers),
    "ch06b_accuracy_margin": SecondCase("answer_2", draw=_draw_accuracy),
}


def ch06b_trainable_parameters(
    answer: object,
    H: int = 384,
    F: int = 1536,
    layers: int = 4,
) -> None:
    """Exercise 6b.1: trainable parameters when the top ``layers`` layers and the
    head train.

    ``H`` and ``F`` are the encoder's widths (MiniLM's by default). The training cell
    prints the count for the top three layers, so the learner can check a formula for
    one layer against it without being shown this answer.
    """
    layer, head = _layer(H, F), H * 2 + 2
    check_close(
        answer,
        layers * layer + head,
        name="answer_1",
        unit=N_("parameters"),
        rel_tol=1e-9,
        hint=HINTS["6b.1"],
        hints=[
            (
                3 * layer + head,
                N_(
                    "that is the CPU recipe's count, for three layers; count the "
                    "layers this question trains."
                ),
            ),
            (
                layers * layer,
                _("the new head trains too: {H} × 2 weights and 2 biases.", H=H),
            ),
            (6 * layer + head, N_("only the top layers train, not all six.")),
            (
                layers * (layer - 4 * H) + head,
                _(
                    "each layer has two LayerNorms, each with a scale "
                    "and a shift of {H} numbers.",
                    H=H,
                ),
            ),
        ],
    )


def _two_figures_tolerance(value: float) -> float:
    """The relative tolerance that accepts ``value`` rounded to two significant figures.

    Rounding moves a number by up to half a unit in its second figure: 4.8% for
    0.0105 (to 0.010 or 0.011), 0.5% for 0.0995. At least 2.5%, which also accepts 2
    in place of 1.96; the 1% on top absorbs the float round-off of the bound.
    """
    half_unit = 0.5 * 10 ** (math.floor(math.log10(value)) - 1)
    return max(0.025, 1.01 * half_unit / value)


def ch06b_accuracy_margin(
    answer: object, accuracy: float = 0.84, n: int = 1000
) -> None:
    """Exercise 6b.2: the half-width of a 95% normal interval for ``accuracy`` on
    ``n`` tests.
    """
    standard_error = math.sqrt(accuracy * (1 - accuracy) / n)
    margin = 1.96 * standard_error
    check_close(
        answer,
        margin,
        name="answer_2",
        unit=N_("(a fraction)"),
        rel_tol=_two_figures_tolerance(margin),
        hint=HINTS["6b.2"],
        hints=[
            (
                standard_error,
                N_("that is one standard error; a 95% interval spans 1.96 of them."),
            ),
            (
                1.96 * accuracy * (1 - accuracy) / n,
                N_("take the square root of p(1 − p)/n."),
            ),
            (
                1.96 * math.sqrt(accuracy * (1 - accuracy) / (n / 10)),
                _(
                    "divide p(1 − p) by the number of test snippets, n = {n:,}.",
                    n=n,
                ),
            ),
            (
                100 * 1.96 * standard_error,
                N_("give a fraction, not percentage points."),
            ),
        ],
    )
