"""The checkers of chapter 1 (``lmbook.checks.ch01``), audited."""

from __future__ import annotations

import math

import numpy as np
from audit import AuditTests, number

from lmbook import checks
from lmbook.checks import ch01

AUDIT = [
    number(
        checks.ch01_training_compute,
        6 * 65e9 * 1.4e12,
        [
            (9.1e22, "forward and backward"),
            (1.82e23, "forward pass alone"),
            (5e20, "forward and backward."),
        ],
        [
            (..., "No answer yet"),
            ([1.0, 2.0], "single number"),
            (np.array([1.0, 2.0]), "single number"),
            (True, "single number"),
            (float("nan"), "finite"),
            (10**400, "too large"),
        ],
        solve=lambda parameters, tokens: 6 * parameters * tokens,
    ),
    number(
        checks.ch01_chinchilla_rule,
        math.sqrt(1e24 / 120),
        [(1.826e12, "tokens"), (8.33e21, "square root")],
        solve=lambda budget: math.sqrt(budget / 120),
    ),
    number(
        checks.ch01_doubling_months,
        15 / np.log2(175e9 / 1.5e9),
        [
            (0.1286, "log2(ratio)"),
            (3.15, "not ln"),
            (7.24, "not log10"),
            (1.0, "once per doubling time"),
        ],
        solve=lambda start, end, months: months / np.log2(end / start),
    ),
]


class TestAudit(AuditTests):
    module, rows = ch01, AUDIT
