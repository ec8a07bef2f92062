"""The checkers of notebook 6b, fine-tuning a classifier (``lmbook.checks.ch06b``), audited."""

from __future__ import annotations

import math

from audit import AuditTests, number

from lmbook import checks
from lmbook.checks import ch06b

MINILM_LAYER = 4 * (384**2 + 384) + 2 * 384 + (384 * 1536 + 1536) + (1536 * 384 + 384) + 2 * 384
MARGIN_SE = math.sqrt(0.84 * 0.16 / 1000)

AUDIT = [
    number(
        checks.ch06b_trainable_parameters,
        3 * MINILM_LAYER + (384 * 2 + 2),
        [
            (2 * MINILM_LAYER + 770, "for two layers"),  # the count the training cell prints
            (3 * MINILM_LAYER, "head"),
            (6 * MINILM_LAYER + 770, "not all six"),
            (3 * (MINILM_LAYER - 1536) + 770, "LayerNorms"),
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
