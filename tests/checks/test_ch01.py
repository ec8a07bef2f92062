"""The checkers of chapter 1 (``lmbook.checks.ch01``), audited."""

from __future__ import annotations

import math

import numpy as np
from audit import AuditTests, Row, number

from lmbook import checks, scaling
from lmbook.checks import ch01

# Exercise 1.5: section 1.6's runs that learned (1,200 digits), against the exponent
# of the fit that wrongly kept the chance-level run.
SIZES, LOSSES = [160, 310, 610, 1210], [1.683, 1.048, 0.211, 0.110]
EXPONENT = scaling.fit_power_law(SIZES, LOSSES).exponent  # 1.45


def experiment(**changes):
    answer = {
        "parameters": SIZES,
        "test_losses": LOSSES,
        "exponent": EXPONENT,
        "baseline": 1.23,
        "verdict": "steeper",
    }
    return {**answer, **changes}


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
    Row(
        checks.ch01_scaling_experiment,
        experiment(),
        [
            (
                experiment(
                    parameters=[85, *SIZES],
                    test_losses=[2.305, *LOSSES],
                    exponent=scaling.fit_power_law([85, *SIZES], [2.305, *LOSSES]).exponent,
                ),
                "chance level",
            ),
            (experiment(exponent=2.0), "not the exponent of your own runs"),
            (experiment(verdict="shallower"), "does not describe your own fit"),
            (experiment(verdict="about the same"), "falls faster with size"),
            (experiment(baseline=2.0), "falls more slowly"),
        ],
        [
            (None, "No answer yet"),
            ({"parameters": SIZES}, "exactly the keys"),
            (experiment(parameters="many"), "list of finite numbers"),
            (experiment(test_losses=[1.0, 0.5, float("nan"), 0.2]), "list of finite numbers"),
            (experiment(test_losses=[1.0, 0.5, -0.1, 0.2]), "positive numbers only"),
            (experiment(test_losses=LOSSES[:3]), "one entry per run"),
            (experiment(parameters=[160, 310], test_losses=[1.6, 1.0]), "at least three runs"),
            (experiment(exponent="1.45"), "single number"),
            (experiment(baseline=-1.0), "section 1.6's fitted exponent"),
            (experiment(verdict="up"), "should be one of"),
            (experiment(verdict=None), "should be one of"),
        ],
        "value",
        [
            experiment(verdict=" Steeper"),
            experiment(baseline=1.40),  # within 10%: the direction or "about the same"
            experiment(baseline=1.40, verdict="about the same"),
            experiment(baseline=2.0, verdict="shallower"),
            experiment(exponent=round(EXPONENT, 2)),
        ],
        experiment(exponent=2.0),
    ),
]


class TestAudit(AuditTests):
    module, rows = ch01, AUDIT
