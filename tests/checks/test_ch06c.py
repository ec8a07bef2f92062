"""The checkers of notebook 6c, named entity recognition (``lmbook.checks.ch06c``), audited."""

from __future__ import annotations

import numpy as np
import torch
from audit import AuditTests, Row

from lmbook import checks
from lmbook.checks import ch06c

BIO_GOLD = ["B-PER", "I-PER", "I-PER", "O", "O", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "I-ORG"]

AUDIT = [
    Row(
        checks.ch06c_entity_scores,
        (1 / 2, 1 / 3, 2 * (1 / 2) * (1 / 3) / (1 / 2 + 1 / 3)),
        [
            ((1 / 3, 1 / 2, 0.4), "swapped"),
            ((1.0, 3 / 7, 0.6), "character-level"),
            ((1.0, 2 / 3, 0.8), "partial match earns nothing"),
            ((0.3, 0.3, 0.3), "whole entities"),
            ((1.0, 1.0, 1.0), "whole entities"),
        ],
        [
            (None, "No answer yet"),
            ((0.5, 0.3), "shape (3,), got shape (2,)"),
            ("0.5, 0.3, 0.4", "not an array of numbers"),
            ("0.5", "shape (3,), got shape ()"),
            ((0.5, float("nan"), 0.4), "nan or inf"),
        ],
        also_right=[
            np.array([0.5, 0.333, 0.4]),
            torch.tensor([0.5, 0.3333, 0.4]),
            (0.5, 1 / 3, 0.4),
        ],
        generic=(0.3, 0.3, 0.3),
    ),
    Row(
        checks.ch06c_spans_to_bio,
        BIO_GOLD,
        [
            (BIO_GOLD[:7] + ["I-ORG"] + BIO_GOLD[8:], "starts a new entity"),
            (["O"] + BIO_GOLD[:9], "first character of each entity"),
            (["B-PER"] * 10, "first character of each entity"),
            (["B-MISC"] + BIO_GOLD[1:], "must be one of"),
        ],
        [
            (None, "No answer yet"),
            (" ".join(BIO_GOLD), "list of 10 tags, got str"),
            ("B-PER", "list of 10 tags, got str"),
            (BIO_GOLD[:9], "has 9 tags"),
            (np.array(BIO_GOLD), "list of 10 tags, got ndarray"),
        ],
        also_right=[tuple(BIO_GOLD)],
        generic=["B-PER"] * 10,
    ),
    Row(
        checks.ch06c_bio_errors,
        3,
        [
            (6, "same type is fine"),
            (5, "too many"),
            (4, "too many"),
            (2, "too few"),
            (1, "too few"),
        ],
        [
            (None, "No answer yet"),
            (3.0, "whole number"),
            (3.5, "whole number"),
            ("3", "whole number"),
            (True, "whole number"),
        ],
        also_right=[np.int64(3)],
        generic=5,
    ),
]


class TestAudit(AuditTests):
    module, rows = ch06c, AUDIT
