"""The checkers of chapter 5 (``lmbook.checks.ch05``), audited."""

from __future__ import annotations

import math

import numpy as np
import torch
from audit import AuditTests, function, number

from lmbook import attention, checks
from lmbook.checks import ch05


def my_causal_mask(n):  # the notebook's solution
    return np.tril(np.ones((n, n), dtype=bool))


AUDIT = [
    function(
        checks.ch05_causal_mask,
        my_causal_mask,
        [
            (
                lambda n: np.triu(np.ones((n, n), dtype=bool), 1),
                "True where attention is forbidden",
            ),
            (lambda n: np.triu(np.ones((n, n), dtype=bool)), "see the future"),
            (lambda n: np.tril(np.ones((n, n), dtype=bool), -1), "attend to itself"),
            (lambda n: np.ones((n, n), dtype=bool), "never the future"),
            (lambda n: attention.causal_mask(n), "without lmbook.attention"),
            (attention.causal_mask, "without lmbook.attention"),
        ],
        [
            (lambda n: np.tril(np.ones((n, n))), "dtype float64"),
            (lambda n: np.ones(n, dtype=bool), "shape (n, n)"),
            (lambda n: None, "returned None"),
            (lambda n: 1 / 0, "ZeroDivisionError"),
            (lambda n: [[True] * (i + 1) for i in range(n)], "rows differ in length"),
        ],
        also_right=[lambda n: torch.tril(torch.ones(n, n, dtype=torch.bool))],
        generic=lambda n: np.ones((n, n), dtype=bool),
    ),
    number(
        checks.ch05_attention_flops,
        2 * 4096 * 4096 * 128 + 2 * 4096 * 4096 * 128,
        [
            (2 * 4096**2 * 128, "QKᵀ alone"),
            (4096**2 * 128 * 2 / 2, "2 FLOPs"),
            (4 * 4096**2 * 128 + 8 * 4096 * 128**2, "projections"),
            (4 * 4096 * 128**2, "n²·d"),
            (1e6, "multiply-adds"),
        ],
        solve=lambda n, d: 4 * n * n * d,
    ),
    number(
        checks.ch05_score_scale,
        1 / math.sqrt(64 * 4 * 4),
        [
            (1 / 8, "variance 4"),
            (1 / 16, "4·4"),
            (1 / 1024, "standard deviation"),
            (32, "below 1"),
            (0.5, "variances of its d_k products"),
        ],
        solve=lambda variance, d_k: 1 / (math.sqrt(d_k) * variance),
    ),
]


class TestAudit(AuditTests):
    module, rows = ch05, AUDIT
