"""The checkers of notebook 6a, encoders and embeddings (``lmbook.checks.ch06a``), audited."""

from __future__ import annotations

import numpy as np
import torch
from audit import AuditTests, Row, function, number

from lmbook import checks
from lmbook.checks import ch06a

BERT_H, BERT_F = 1024, 4096
BERT_LAYER = (
    4 * (BERT_H * BERT_H + BERT_H)
    + 2 * BERT_H
    + (BERT_H * BERT_F + BERT_F)
    + (BERT_F * BERT_H + BERT_H)
    + 2 * BERT_H
)
BERT_LARGE = (30_522 + 512 + 2) * BERT_H + 2 * BERT_H + 24 * BERT_LAYER + BERT_H**2 + BERT_H


def mean_pool(states, mask):  # the notebook's solution
    weights = mask.unsqueeze(-1).to(states.dtype)
    return (states * weights).sum(dim=1) / weights.sum(dim=1)


AUDIT = [
    Row(
        checks.ch06a_wordpiece,
        ["unh", "##app", "##iness"],
        [
            (["un", "##happ", "##iness"], "longest"),
            (["unh", "app", "##iness"], "## prefix"),
            (["unh", "##appi", "##ness"], "vocabulary"),
            (["un", "##hap"], "spell"),
        ],
        [
            (None, "No answer yet"),
            ("unh ##app ##iness", "list of strings"),
            (["unh", 2], "list of strings"),
            ({"unh", "##app", "##iness"}, "list of strings"),
        ],
        also_right=[("unh", "##app", "##iness")],
        generic=["un", "##happ", "##iness"],
    ),
    number(
        checks.ch06a_bert_large_parameters,
        BERT_LARGE,
        [
            (334_092_288, "pooler"),
            (303_358_976, "embedding"),
            (334_920_704, "bias"),
            (335_041_536, "2H"),
            (335_092_736, "two LayerNorms"),
            (3e8, "identical layers"),
        ],
        solve=lambda L, H, F: (
            (30_522 + 512 + 2) * H
            + 2 * H
            + L * (4 * (H * H + H) + 2 * H + (H * F + F) + (F * H + H) + 2 * H)
            + H * H
            + H
        ),
    ),
    function(
        checks.ch06a_mean_pool,
        mean_pool,
        [
            (lambda s, m: s.mean(1), "counts the padding"),
            (lambda s, m: (s * m.unsqueeze(-1)).sum(1) / s.shape[1], "full length"),
            (
                lambda s, m: torch.nn.functional.normalize(mean_pool(s, m), dim=1),
                "before normalising",
            ),
            (lambda s, m: s[:, 0], "real tokens only"),
        ],
        [
            ("mean", "answer_3 should be a function"),
            (lambda s, m: s.mean(), "answer_3(states, mask) should be a float array"),
            (lambda s: s, "raised TypeError"),
            (lambda s, m: s[:, 0] * np.nan, "nan or inf"),
        ],
        also_right=[
            lambda s, m: mean_pool(s, m).numpy(),
            lambda s, m: mean_pool(s, m).requires_grad_(),
        ],
        generic=lambda s, m: s[:, 0],
    ),
    number(
        checks.ch06a_cls_pooling,
        9,  # measured on the shipped model; test_cls_count_is_measured checks it
        [(11, "mean-pooled"), (3, "first token's vector"), (9.5, "whole number")],
        [(13, "from 0 to 12"), (-1, "from 0 to 12")],
        also_right=[9.0, np.int64(9)],
        generic=3,
    ),
]


class TestAudit(AuditTests):
    module, rows = ch06a, AUDIT


def test_bert_large_has_the_published_count():
    assert BERT_LARGE == 335_141_888


def test_cls_count_is_measured():
    """The audit's right answer of 6a.4 is what the shipped model gives, below the
    mean pooling's 11 (the notebook's section 6.4)."""
    assert ch06a._search_hits("cls") == 9
    assert ch06a._search_hits("mean") == 11
