"""The checkers of notebook 2b, generalisation and initialisation
(``lmbook.checks.ch02b``), audited."""

from __future__ import annotations

import math

import numpy as np
from audit import AuditTests, Row, function, number

from lmbook import checks
from lmbook import generalisation as gen
from lmbook.checks import ch02b

# Right answers written as learners would: the notebook's solution cells.


def dropout_backward(dy, keep, p):
    return dy * keep / (1 - p)


def dropout_backward_where(dy, keep, p):
    return np.where(keep, dy / (1 - p), 0.0)


# Exercise 2b.3: two histories whose gaps (last validation loss − last training loss)
# are 0.30 and 0.20 nats.
def history(train_end, validation_end, epochs=8):
    return {
        "loss": list(np.linspace(1.0, train_end, epochs)),
        "validation loss": list(np.linspace(1.1, validation_end, epochs)),
        "accuracy": [0.5] * epochs,
        "validation accuracy": [0.5] * epochs,
    }


WIDE, NARROW = history(0.01, 0.31), history(0.05, 0.25)


def runs(**changes):
    return {"baseline": WIDE, "changed": NARROW, "gap": "shrank", **changes}


AUDIT = [
    number(
        checks.ch02b_kaiming_bound,
        math.sqrt(6 / 512),
        [
            (math.sqrt(2 / 512), "standard deviation"),
            (math.sqrt(6 / 768), "Xavier"),
            (math.sqrt(6 / 256), "fan-in"),
            (math.sqrt(3 / 512), "factor 2"),
            (2 / 512, "variance"),
        ],
        solve=lambda fan_in, fan_out: math.sqrt(6 / fan_in),
    ),
    function(
        checks.ch02b_dropout_backward,
        dropout_backward,
        [
            (lambda dy, keep, p: dy * keep, "scaled the kept entries"),
            (lambda dy, keep, p: dy / (1 - p), "passed nothing forwards"),
            (lambda dy, keep, p: dy * keep * (1 - p), "not (1 − p)"),
            (lambda dy, keep, p: dy * ~keep / (1 - p), "where an entry was kept"),
            (lambda dy, keep, p: dy * keep / p, "kept share"),
            (lambda dy, keep, p: 2 * dy * keep, "wrong values"),
        ],
        [
            (0.5, "should be a function"),
            (lambda dy, keep, p: dy[:1], "should be a float array of shape"),
            (lambda dy, keep, p: dy * np.nan, "nan or inf"),
            (lambda dy, keep, p: 1 / 0, "raised ZeroDivisionError"),
            (gen.dropout_backward, "calls lmbook.generalisation"),
            (
                lambda dy, keep, p: gen.dropout_backward(dy, keep, p),
                "calls lmbook.generalisation",
            ),
        ],
        also_right=[dropout_backward_where],
        generic=lambda dy, keep, p: 2 * dy * keep,
    ),
    Row(
        checks.ch02b_regulariser_experiment,
        runs(),
        [
            (runs(gap="grew"), "your own histories say otherwise"),
            (
                {"baseline": NARROW, "changed": WIDE, "gap": "shrank"},
                "your own histories say otherwise",
            ),
            (runs(changed=WIDE), "practically the same gap"),
            (runs(changed=history(0.01, 0.312)), "practically the same gap"),
        ],
        [
            (None, "No answer yet"),
            ({"baseline": WIDE}, "exactly the keys"),
            (runs(gap="smaller"), '"grew" or "shrank"'),
            (runs(gap=True), '"grew" or "shrank"'),
            (runs(baseline=[0.1, 0.2]), "should be a history dict"),
            (runs(changed={"loss": [0.1] * 8}), "should be a history dict"),
            (runs(changed=history(0.05, 0.25, epochs=3)), "at least 5 losses"),
            (runs(changed={**NARROW, "loss": "low"}), "at least 5 losses"),
            (runs(changed={**NARROW, "loss": [-0.1] * 8}), "negative, nan or infinite"),
            (
                runs(changed={**NARROW, "validation loss": [float("nan")] * 8}),
                "negative, nan or infinite",
            ),
            (runs(changed={**NARROW, "loss": [0.1] * 9}), "different lengths"),
        ],
        "value",
        [
            {"baseline": NARROW, "changed": WIDE, "gap": "grew"},
            runs(changed={k: np.array(v) for k, v in NARROW.items()}),
            runs(changed={"loss": NARROW["loss"], "validation loss": NARROW["validation loss"]}),
        ],
        runs(gap="grew"),
    ),
]


class TestAudit(AuditTests):
    module, rows = ch02b, AUDIT


def test_the_experiment_checker_reads_the_gap_at_the_last_epoch(capsys):
    # The same final gaps with other curves before: the verdict depends on the ends only.
    early = {"loss": [0.01] * 6 + [0.05], "validation loss": [2.0] * 6 + [0.25]}
    checks.ch02b_regulariser_experiment(runs(changed=early))
    assert "from 0.300 to 0.200 nats" in capsys.readouterr().out
