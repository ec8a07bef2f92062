"""The checkers of notebook 6c, named entity recognition (``lmbook.checks.ch06c``), audited."""

from __future__ import annotations

import numpy as np
import torch
from audit import AuditTests, Row, function

from lmbook import checks, ner
from lmbook.checks import ch06c


def seen_share(train, test):  # the notebook's solution
    seen = {(text[a:b], kind) for text, tags in train for a, b, kind in ner.bio_to_spans(tags)}
    mentions = [(text[a:b], kind) for text, tags in test for a, b, kind in ner.bio_to_spans(tags)]
    return sum(mention in seen for mention in mentions) / len(mentions)


def names(examples):
    return [(text[a:b], kind) for text, tags in examples for a, b, kind in ner.bio_to_spans(tags)]


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


AUDIT.append(
    function(
        checks.ch06c_seen_names,
        seen_share,
        [
            (lambda train, test: 100 * seen_share(train, test), "not a percentage"),
            (
                lambda train, test: np.mean(
                    [text in {t for t, _ in names(train)} for text, _ in names(test)]
                ),
                "compare the type",
            ),
            (
                lambda train, test: (
                    len(set(names(test)) & set(names(train))) / len(set(names(test)))
                ),
                "repeats included",
            ),
            (lambda train, test: seen_share(test, train), "the other way round"),
            (lambda train, test: 0.0, "every mention in the test set counts"),
        ],
        [
            ("seen", "answer_4 should be a function"),
            (lambda train, test: [0.5, 0.5], "answer_4(train, test)"),
            (lambda train: 0.5, "raised TypeError"),
            (lambda train, test: float("nan"), "nan or inf"),
        ],
        also_right=[
            lambda train, test: np.float32(seen_share(train, test)),
            lambda train, test: torch.tensor(seen_share(train, test)),
        ],
        generic=lambda train, test: 0.0,
    )
)


def test_seen_names_corpus_separates_the_usual_mistakes():
    """Each drawn corpus gives each mistake its own number (so its hint can be given)."""
    shares = set()
    for seed in range(20):
        train, test = ch06c._corpus(np.random.default_rng(seed))
        right = seen_share(train, test)
        assert 0 < right < 1
        shares.add(round(right, 9))
        wrong = [
            np.mean([text in {t for t, _ in names(train)} for text, _ in names(test)]),
            len(set(names(test)) & set(names(train))) / len(set(names(test))),
            seen_share(test, train),
        ]
        assert all(abs(value - right) > 1e-6 for value in wrong), (seed, right, wrong)
    assert len(shares) >= 5  # a constant cannot pass the hidden test


class TestAudit(AuditTests):
    module, rows = ch06c, AUDIT
