"""The checkers of notebook 6b, fine-tuning a classifier (``lmbook.checks.ch06b``), audited."""

from __future__ import annotations

import math

import numpy as np
from audit import AuditTests, number, verdict

from lmbook import checks
from lmbook.checks import ch06b

MINILM_LAYER = 4 * (384**2 + 384) + 2 * 384 + (384 * 1536 + 1536) + (1536 * 384 + 384) + 2 * 384
MARGIN_SE = math.sqrt(0.84 * 0.16 / 1000)

AUDIT = [
    number(
        checks.ch06b_trainable_parameters,
        4 * MINILM_LAYER + (384 * 2 + 2),
        [
            (3 * MINILM_LAYER + 770, "for three layers"),  # the count the training cell prints
            (4 * MINILM_LAYER, "head"),
            (6 * MINILM_LAYER + 770, "not all six"),
            (4 * (MINILM_LAYER - 1536) + 770, "LayerNorms"),
            (1e6, "same parameters"),
        ],
        solve=lambda H, F, layers: (
            layers * (4 * (H * H + H) + 2 * H + (H * F + F) + (F * H + H) + 2 * H) + H * 2 + 2
        ),
    ),
    number(
        checks.ch06b_accuracy_margin,
        1.96 * MARGIN_SE,
        [
            (0.011593, "1.96"),
            (0.000263, "square root"),
            (0.071857, "n = 1,000"),
            (2.2723, "fraction"),
            (0.5, "1.96 standard errors"),
            (0.022, "1.96 standard errors"),  # 0.0227 rounded the wrong way
        ],
        also_right=[0.023, 0.0227, 0.0232],  # two significant figures, or 2 for 1.96
        solve=lambda accuracy, n: 1.96 * math.sqrt(accuracy * (1 - accuracy) / n),
    ),
]


class TestAudit(AuditTests):
    module, rows = ch06b, AUDIT


def two_figures(value: float) -> float:
    return float(f"{value:.1e}")


def test_the_margin_rounded_to_two_figures_is_accepted_for_every_second_case():
    """Rounding to two significant figures moves 0.0105 by 4.8%, more than a fixed 2.5%."""
    draw = ch06b.SECOND_CASES["ch06b_accuracy_margin"].draw
    for seed in range(300):
        values = draw(np.random.default_rng(seed))
        margin = 1.96 * math.sqrt(values["accuracy"] * (1 - values["accuracy"]) / values["n"])
        assert verdict(checks.ch06b_accuracy_margin, two_figures(margin), **values) == "accepted"
        for wrong in (two_figures(margin) * 0.9, two_figures(margin) * 1.1):
            assert verdict(checks.ch06b_accuracy_margin, wrong, **values) != "accepted"


def test_a_margin_far_from_two_figures_is_accepted_only_when_correctly_rounded():
    # 0.97 on 1,000 snippets: 1.96 * sqrt(0.97 * 0.03 / 1000) = 0.010573, which is 0.011
    assert verdict(checks.ch06b_accuracy_margin, 0.011, accuracy=0.97, n=1000) == "accepted"
    assert verdict(checks.ch06b_accuracy_margin, 0.010, accuracy=0.97, n=1000) != "accepted"
    assert verdict(checks.ch06b_accuracy_margin, 0.012, accuracy=0.97, n=1000) != "accepted"
