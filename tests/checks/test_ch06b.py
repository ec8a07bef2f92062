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
            (2 * MINILM_LAYER + 770, "trains three"),  # the count the training cell prints
            (3 * MINILM_LAYER, "head"),
            (6 * MINILM_LAYER + 770, "top three"),
            (3 * (MINILM_LAYER - 1536) + 770, "LayerNorms"),
            (1e6, "feed-forward"),
        ],
    ),
    number(
        checks.ch06b_accuracy_margin,
        1.96 * MARGIN_SE,
        [
            (0.011593, "1.96"),
            (0.000263, "square root"),
            (0.071857, "1,000"),
            (2.2723, "fraction"),
            (0.5, "sqrt"),
            (0.022, "sqrt"),  # 0.0227 rounded the wrong way
        ],
        also_right=[0.023, 0.0227, 0.0232],  # two significant figures, or 2 for 1.96
    ),
]


class TestAudit(AuditTests):
    module, rows = ch06b, AUDIT
