"""Checkers of notebook 6c, chapter 6 part 3: named entity recognition
(Exercises 6c.1–6c.4).

Notebook: ``notebooks/06c_named_entity_recognition.ipynb``. Each checker takes the
variable that the notebook's checker cell passes (``answer_1``) and names that variable
in its messages. Exercises 6c.1–6c.3 are worked by hand on the tags they show, so they
have no second case (``SECOND_CASES``); 6c.4 asks for a function, which the hidden
test tries on other corpora.
"""

from __future__ import annotations

import functools
import numbers

import numpy as np

from lmbook.checks.core import (
    AnswerError,
    Hint,
    SecondCase,
    as_finite_array,
    as_function,
    call,
    next_hint,
)
from lmbook.checks.messages import N_, _

# Exercise 6c.1: 李鹏在北京会见新华社记者, gold PER 李鹏, LOC 北京, ORG 新华社.
CH06C_GOLD = [
    "B-PER",
    "I-PER",
    "O",
    "B-LOC",
    "I-LOC",
    "O",
    "O",
    "B-ORG",
    "I-ORG",
    "I-ORG",
    "O",
    "O",
]
CH06C_PRED = ["B-PER", "I-PER", "O", "B-LOC", "O", "O", "O", "O", "O", "O", "O", "O"]
# Exercise 6c.2: 江泽民访问香港新华社 with PER (0, 3), LOC (5, 7), ORG (7, 10).
CH06C_SPANS = [(0, 3, "PER"), (5, 7, "LOC"), (7, 10, "ORG")]
# Exercise 6c.3: a tagger's raw output.
CH06C_RAW = [
    "I-PER",
    "I-PER",
    "O",
    "B-LOC",
    "I-ORG",
    "O",
    "I-LOC",
    "I-LOC",
    "B-PER",
    "I-PER",
]

HINTS = {
    hint.exercise: hint
    for hint in (
        Hint(
            "6c.1",
            N_(
                "entity-level scores count whole entities: a predicted entity is "
                "right only when its start, end and type all match a gold one."
            ),
            N_(
                "list the gold entities and the predicted ones as (start, end, type), "
                "count the exact matches, divide them by each list's length for "
                "precision and recall, and take the harmonic mean of the two for F1."
            ),
        ),
        Hint(
            "6c.2",
            N_(
                "BIO tags the first character of each entity B-, its other characters "
                "I-, and every character outside an entity O."
            ),
            N_(
                "count the characters from 0 with each span's end exclusive, and tag "
                "the spans one by one; the characters no span covers get O."
            ),
        ),
        Hint(
            "6c.3",
            N_(
                "an I-X tag is valid only where it continues an entity of the same "
                "type X."
            ),
            N_(
                "go left to right; an I-X is an error unless the tag just before it "
                "is B-X or I-X with the same X. The first tag has nothing before it."
            ),
        ),
        Hint(
            "6c.4",
            N_(
                "a test name counts as seen when the same string with the same type "
                "is an entity somewhere in the training sentences; every mention in "
                "the test set counts, repeats included."
            ),
            N_(
                "collect the training entities as a set of (text, type) pairs with "
                "ner.bio_to_spans, then go through every entity of every test "
                "sentence and divide the number found in the set by the number of "
                "test entities."
            ),
        ),
    )
}

SECOND_CASES = {  # worked by hand: no second case
    "ch06c_entity_scores": SecondCase("answer_1"),
    "ch06c_spans_to_bio": SecondCase("answer_2"),
    "ch06c_bio_errors": SecondCase("answer_3"),
    "ch06c_seen_names": SecondCase("answer_4", seeded=True),
}


def ch06c_entity_scores(answer: object) -> None:
    """Exercise 6c.1: entity-level (precision, recall, F1) of CH06C_PRED against
    CH06C_GOLD.
    """
    from lmbook import ner

    if answer is None or answer is Ellipsis:
        raise AnswerError(_("No answer yet: set answer_1 to (precision, recall, F1)."))
    got = as_finite_array(answer, "answer_1", (3,))
    table = ner.entity_scores([CH06C_GOLD], [CH06C_PRED])
    expected = table.loc["micro", ["precision", "recall", "f1"]].to_numpy(dtype=float)
    if np.allclose(got, expected, atol=1e-3):
        print(
            _(
                "Correct: precision {precision:.3f}, recall {recall:.3f}, F1 {f1:.3f}.",
                precision=got[0],
                recall=got[1],
                f1=got[2],
            )
        )
        return
    # Character-level numbers, a typical mix-up: correct entity characters over
    # predicted ones (precision) and over gold ones (recall).
    right = sum(g == p != "O" for g, p in zip(CH06C_GOLD, CH06C_PRED, strict=True))
    token_guess = [
        right / sum(p != "O" for p in CH06C_PRED),
        right / sum(g != "O" for g in CH06C_GOLD),
    ]
    if np.allclose(got, expected[[1, 0, 2]], atol=1e-3):
        raise AnswerError(
            _(
                "Not quite: precision and recall are swapped. Precision divides by "
                "what the tagger predicted, recall by what the gold standard holds."
            )
        )
    if np.allclose(got[:2], token_guess, atol=1e-3):
        raise AnswerError(
            _(
                "Not quite: those are character-level numbers. Count whole entities: "
                "an entity is found only when its start, end and type all match."
            )
        )
    if np.allclose(got[:2], [1.0, 2 / 3], atol=1e-3):
        raise AnswerError(
            _(
                "Not quite: the predicted LOC covers 北 only, while the gold LOC is "
                "北京. A partial match earns nothing at the entity level."
            )
        )
    raise AnswerError(_("Not quite. {hint}", hint=next_hint(HINTS["6c.1"])))


def ch06c_spans_to_bio(answer: object) -> None:
    """Exercise 6c.2: BIO tags of 江泽民访问香港新华社 with the entities CH06C_SPANS."""
    from lmbook import ner

    expected = ner.spans_to_bio(10, CH06C_SPANS)
    if answer is None or answer is Ellipsis:
        raise AnswerError(_("No answer yet: set answer_2 to a list of 10 tags."))
    if isinstance(answer, str) or not isinstance(answer, list | tuple):
        raise AnswerError(
            _(
                "answer_2 should be a list of 10 tags, got {kind}.",
                kind=type(answer).__name__,
            )
        )
    if len(answer) != 10:
        raise AnswerError(
            _(
                "answer_2 has {count} tags; the text has 10 characters.",
                count=len(answer),
            )
        )
    if list(answer) == expected:
        print(_("Correct: one tag per character, B- where each entity starts."))
        return
    if any(tag not in ner.TAGS for tag in answer):
        raise AnswerError(_("Every tag must be one of {tags}.", tags=ner.TAGS))
    if list(answer[:7]) == expected[:7] and answer[7] == "I-ORG":
        raise AnswerError(
            _(
                "Not quite: 新 starts a new entity right after the place 香港. "
                "Without a B- there, how would a reader know where the place ends?"
            )
        )
    raise AnswerError(_("Not quite. {hint}", hint=next_hint(HINTS["6c.2"])))


def ch06c_bio_errors(answer: object) -> None:
    """Exercise 6c.3: how many I- tags in CH06C_RAW do not continue an entity of
    their type.
    """
    from lmbook import ner

    if answer is None or answer is Ellipsis:
        raise AnswerError(_("No answer yet: set answer_3 to a whole number."))
    if isinstance(answer, bool) or not isinstance(answer, numbers.Integral):
        raise AnswerError(
            _(
                "answer_3 should be a whole number, got {answer}.",
                answer=repr(answer),
            )
        )
    expected = ner.count_bio_errors(CH06C_RAW)
    if int(answer) == expected:
        print(_("Correct: {expected} I- tags break the BIO rules.", expected=expected))
        return
    if int(answer) == sum(tag.startswith("I-") for tag in CH06C_RAW):
        raise AnswerError(
            _("Not quite: an I- tag after B- or I- of the same type is fine.")
        )
    hint = next_hint(HINTS["6c.3"])
    raise AnswerError(
        _("Not quite (too many). {hint}", hint=hint)
        if int(answer) > expected
        else _("Not quite (too few). {hint}", hint=hint)
    )


def _names(examples) -> list[tuple[str, str]]:
    """Every entity mention of tagged ``(text, tags)`` examples as (text, type)."""
    from lmbook import ner

    return [
        (text[start:end], kind)
        for text, tags in examples
        for start, end, kind in ner.bio_to_spans(tags)
    ]


def _seen_share(train, test) -> float:
    """The share of test entity mentions whose (text, type) is a training entity."""
    seen = set(_names(train))
    mentions = _names(test)
    return sum(name in seen for name in mentions) / len(mentions)


def _corpus(rng: np.random.Generator):
    """A small tagged corpus for Exercise 6c.4: (train, test) lists of (text, tags).

    The test set repeats a name seen in training, holds names never seen, and one
    seen string with another type, so that each usual mistake gives another number.
    """
    from lmbook import ner

    letters = list("甲乙丙丁戊己庚辛壬癸子丑寅卯辰巳午未申酉")
    kinds = list(ner.TYPES)
    pool = {}
    while len(pool) < 10:
        name = "".join(rng.choice(letters, size=int(rng.integers(2, 4))))
        pool.setdefault(name, kinds[int(rng.integers(3))])
    names = list(pool.items())
    known = names[:5]
    new = names[5 : 5 + int(rng.integers(1, 5))]
    retyped = (known[0][0], kinds[(kinds.index(known[0][1]) + 1) % 3])
    repeated = [known[1]] * int(rng.integers(2, 5))
    mentions = repeated + known[2 : 2 + int(rng.integers(1, 4))] + new + [retyped]
    rng.shuffle(mentions)

    def sentence(entities):
        text, spans = "", []
        for name, kind in entities:
            text += "的" * int(rng.integers(1, 3))
            spans.append((len(text), len(text) + len(name), kind))
            text += name
        text += "。"
        return text, ner.spans_to_bio(len(text), spans)

    train = [sentence(known[i : i + 2]) for i in range(0, 5, 2)] + [sentence(known)]
    test = [sentence(mentions[i : i + 3]) for i in range(0, len(mentions), 3)]
    return train, test


@functools.cache
def _peoples_daily_splits():
    """People's Daily cut into sentences, split by date as in the notebook, and a
    random split of the same sentences with the same sizes (seed 0).
    """
    from lmbook import ner

    examples = ner.load_peoples_daily()
    n = len(examples)
    parts = [examples[: int(0.8 * n)], examples[int(0.9 * n) :]]
    by_date = [
        [p for text, tags in part for p in ner.to_sentences(text, tags)]
        for part in parts
    ]
    pooled = [p for text, tags in examples for p in ner.to_sentences(text, tags)]
    order = np.random.default_rng(0).permutation(len(pooled))
    shuffled = [pooled[i] for i in order]
    random = [shuffled[: len(by_date[0])], shuffled[-len(by_date[1]) :]]
    return by_date, random


def ch06c_seen_names(answer: object, seed: int = 4) -> None:
    """Exercise 6c.4: a function answer_4(train, test) that returns the share of the
    test set's entity mentions whose text and type occur as an entity in training.

    It is tried on a small corpus drawn from ``seed``; if it is right there, it is run
    on People's Daily split by date and split at random, and the two shares printed.
    """
    signature = "answer_4(train, test)"
    function = as_function(answer, "answer_4", signature)
    train, test = _corpus(np.random.default_rng(seed))
    note = N_("It was called with two lists of (text, tags) pairs.")
    got = float(
        as_finite_array(
            call(function, signature, train, test, note=note), signature, ()
        )
    )
    expected = _seen_share(train, test)
    if abs(got - expected) < 1e-6:
        by_date, random = _peoples_daily_splits()
        shares = [
            float(as_finite_array(call(function, signature, *split), signature, ()))
            for split in (by_date, random)
        ]
        print(
            _(
                "Correct: {by_date:.1%} of People's Daily's test names are training "
                "names with the split by date, {random:.1%} with a random split.",
                by_date=shares[0],
                random=shares[1],
            )
        )
        return
    names = {"train": _names(train), "test": _names(test)}
    texts = {part: {text for text, _kind in found} for part, found in names.items()}
    distinct = set(names["test"])
    mistakes = [
        (
            100 * expected,
            N_("a share is a number between 0 and 1, not a percentage."),
        ),
        (
            sum(text in texts["train"] for text, _kind in names["test"])
            / len(names["test"]),
            N_(
                "a string seen with another type is not the same name: compare the "
                "type too."
            ),
        ),
        (
            len(distinct & set(names["train"])) / len(distinct),
            N_(
                "count every mention of the test set, repeats included, not each "
                "distinct name once."
            ),
        ),
        (
            _seen_share(test, train),
            N_(
                "the share is of the test set's names, looked up among the training "
                "names, not the other way round."
            ),
        ),
    ]
    for value, advice in mistakes:
        if abs(value - expected) > 1e-6 and abs(got - value) < 1e-6:
            raise AnswerError(_("Not quite: {advice}", advice=_(advice)))
    raise AnswerError(_("Not quite. {hint}", hint=next_hint(HINTS["6c.4"])))
