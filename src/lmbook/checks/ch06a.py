"""Checkers of notebook 6a, chapter 6 part 1: encoders and embeddings
(Exercises 6a.1–6a.4).

Notebook: ``notebooks/06a_encoders_and_embeddings.ipynb``. Each checker takes the
variable that the notebook's checker cell passes (``answer_1``, or the function the
learner wrote) and names that variable in its messages. Its keyword arguments are the
exercise's given values (or, for a function, the seed of its test inputs), with the
notebook's as defaults: the hidden test of :mod:`lmbook.checks.grading` calls it with
others (``SECOND_CASES``).
"""

from __future__ import annotations

import numpy as np

from lmbook.checks.core import (
    AnswerError,
    Hint,
    SecondCase,
    as_finite_array,
    as_function,
    as_number,
    call,
    check_close,
    next_hint,
)
from lmbook.checks.messages import N_, _

WORDPIECE_EXERCISE_VOCAB = (
    "un",
    "unh",
    "happy",
    "##h",
    "##ha",
    "##app",
    "##happ",
    "##iness",
    "##ness",
    "##y",
    "##i",
)

HINTS = {
    hint.exercise: hint
    for hint in (
        Hint(
            "6a.1",
            N_(
                "WordPiece is greedy: at each step it takes the longest vocabulary "
                "piece that matches, even if a shorter one would lead to longer "
                "pieces later."
            ),
            N_(
                "start at the first character and find the longest prefix of the "
                "word that is in the vocabulary; then continue from where it ended "
                "with the ## pieces, the longest first, until the word is used up."
            ),
        ),
        Hint(
            "6a.2",
            N_(
                "a BertModel is its embedding tables, L identical layers and the "
                "pooler; every linear layer has a bias and every LayerNorm a scale "
                "and a shift."
            ),
            N_(
                "add the embeddings ((vocabulary + positions + segment types) × H, "
                "and a LayerNorm), L times one layer (four H×H projections, an H→F→H "
                "feed-forward network, two LayerNorms) and the pooler "
                "(one H×H linear layer); the number of heads does not change the "
                "count."
            ),
        ),
        Hint(
            "6a.4",
            N_(
                "the [CLS] vector is the first token's vector of the last layer, and "
                "the search compares normalised vectors by their dot product."
            ),
            N_(
                "tokenize the corpus and the questions with padding, take "
                "last_hidden_state[:, 0], normalise each row to length 1, and count "
                "the questions whose highest-scoring corpus entry is their answer."
            ),
        ),
        Hint(
            "6a.3",
            N_(
                "a masked mean averages over the real tokens only: padding counts "
                "neither in the sum nor in the number of tokens."
            ),
            N_(
                "multiply the states by the mask (with a trailing axis), sum over the "
                "length axis, and divide by the sum of the mask over the same axis."
            ),
        ),
    )
}


def _draw_bert_shape(rng: np.random.Generator) -> dict[str, object]:
    """Another BERT's L, H and F for Exercise 6a.2 (F a multiple of H), not
    BERT-large's.
    """
    while True:
        hidden = 64 * int(rng.integers(4, 33))
        values = {
            "L": int(rng.integers(2, 49)),
            "H": hidden,
            "F": hidden * int(rng.integers(2, 5)),
        }
        if values != {"L": 24, "H": 1024, "F": 4096}:
            return values


SECOND_CASES = {
    "ch06a_wordpiece": SecondCase("answer_1"),  # worked by hand: no second case
    "ch06a_bert_large_parameters": SecondCase("answer_2", draw=_draw_bert_shape),
    "ch06a_mean_pool": SecondCase("answer_3", seeded=True),
    # Measured on the shipped model and the notebook's fixed corpus: no second case.
    "ch06a_cls_pooling": SecondCase("answer_4"),
}

# Section 6.4's help-desk corpus and questions (question: index of its answer).
HELP_DESK = (
    "How to reset your password if you have forgotten it.",
    "Refunds are paid back to the original card within five business days.",
    "Orders over 50 euros ship free of charge.",
    "You can change the delivery address until the parcel leaves the warehouse.",
    "Our stores open at nine in the morning and close at eight in the evening.",
    "Gift cards never expire and can be used online or in a store.",
    "To cancel a subscription, go to Account, then Plans, then Cancel.",
    "Damaged items can be returned within thirty days for a replacement.",
    "We accept Visa, Mastercard, PayPal and bank transfer.",
    "Two-factor authentication adds a code sent to your phone when you sign in.",
    "The warranty covers manufacturing defects for two years.",
    "Students get a ten percent discount with a valid university email.",
    "Tracking numbers are emailed as soon as the courier collects the parcel.",
    "Large furniture is delivered by appointment, usually within two weeks.",
    "You can delete your account and all personal data from the privacy settings.",
    "Prices include VAT for deliveries inside the European Union.",
)
QUESTIONS = {
    "I can't remember my login details": 0,
    "When will I get my money back?": 1,
    "Do I pay postage on a big order?": 2,
    "What time do your shops shut?": 4,
    "How do I stop my monthly plan?": 6,
    "The vase arrived broken": 7,
    "Which payment methods can I use?": 8,
    "How long is my guarantee valid?": 10,
    "Is there a deal for college kids?": 11,
    "Where is my package right now?": 12,
    "Remove all my information from your systems": 14,
    "Is tax part of the price?": 15,
}


def ch06a_wordpiece(answer: object) -> None:
    """Exercise 6a.1: WordPiece of "unhappiness" with a small vocabulary, by hand."""
    from lmbook import text

    if answer is None or answer is Ellipsis:
        raise AnswerError(
            _("No answer yet: set answer_1 to a list of strings and run the cell.")
        )
    if not isinstance(answer, list | tuple) or not all(
        isinstance(p, str) for p in answer
    ):
        raise AnswerError(
            _(
                "answer_1 should be a list of strings such as "
                "['un', '##...'], got {answer}",
                answer=repr(answer),
            )
        )
    pieces = list(answer)
    vocab = dict.fromkeys(WORDPIECE_EXERCISE_VOCAB, 0)
    expected = text.wordpiece("unhappiness", vocab)
    if pieces == expected:
        print(_("Correct: {expected}.", expected=expected))
        return
    if "".join(p.removeprefix("##") for p in pieces) != "unhappiness":
        raise AnswerError(
            _(
                "Not quite: the pieces, without their ## prefixes, "
                "must spell 'unhappiness'."
            )
        )
    if any(p.startswith("##") == (i == 0) for i, p in enumerate(pieces)):
        raise AnswerError(
            _(
                "Not quite: the first piece starts the word and has no ##; every "
                "later piece continues it and has the ## prefix."
            )
        )
    if any(p not in vocab for p in pieces):
        raise AnswerError(
            _("Not quite: every piece must be an entry of the given vocabulary.")
        )
    raise AnswerError(
        _(
            "Not quite: that is a valid split into vocabulary pieces, but not "
            "WordPiece's. {hint}",
            hint=next_hint(HINTS["6a.1"]),
        )
    )


def ch06a_bert_large_parameters(
    answer: object, L: int = 24, H: int = 1024, F: int = 4096
) -> None:
    """Exercise 6a.2: the parameters of a BertModel with L layers, width H,
    feed-forward F.

    The vocabulary (30,522 entries), the 512 positions and the 2 segment types are
    BERT's; the pooler is included.
    """
    from lmbook import text

    config = {
        "vocab_size": 30_522,
        "hidden_size": H,
        "num_hidden_layers": L,
        "intermediate_size": F,
        "max_position_embeddings": 512,
        "type_vocab_size": 2,
    }
    counts = text.bert_parameter_counts(config)
    check_close(
        answer,
        counts["total"],
        name="answer_2",
        unit=N_("parameters"),
        rel_tol=1e-7,
        hint=HINTS["6a.2"],
        hints=[
            (
                counts["total"] - counts["pooler"],
                N_("the question includes the pooler."),
            ),
            (counts["total"] - counts["embeddings"], N_("add the embedding tables.")),
            (
                counts["total"] - L * (4 * H + F + H),
                N_("each linear layer has a bias vector too."),
            ),
            (
                counts["total"] - (2 * L + 1) * 2 * H,
                N_("each LayerNorm has 2H parameters."),
            ),
            (counts["total"] - L * 2 * H, N_("each layer has two LayerNorms.")),
        ],
    )


def ch06a_mean_pool(answer: object, seed: int = 6) -> None:
    """Exercise 6a.3: a function pool(states, mask) that returns the masked mean.

    It is tried on a batch of three sequences drawn from ``seed``: one without padding,
    one with some, and one with a single real token.
    """
    import torch

    from lmbook import text

    signature = "answer_3(states, mask)"
    function = as_function(answer, "answer_3", signature)
    rng = np.random.default_rng(seed)
    length, hidden = int(rng.integers(4, 9)), int(rng.integers(3, 7))
    states = torch.from_numpy(
        rng.standard_normal((3, length, hidden)).astype(np.float32)
    )
    real = [length, int(rng.integers(2, length)), 1]  # tokens before the padding
    mask = torch.tensor([[int(i < r) for i in range(length)] for r in real])
    result = call(function, signature, states.clone(), mask.clone())
    got = as_finite_array(result, signature, (3, hidden))
    expected = text.mean_pool(states, mask).numpy()
    if np.allclose(got, expected, atol=1e-5):
        print(_("Correct: the mean over real tokens, padding left out."))
        return
    if np.allclose(got, states.mean(dim=1).numpy(), atol=1e-5):
        raise AnswerError(
            _(
                "Not quite: your mean counts the padding. Hint: "
                "weight each token by its mask."
            )
        )
    if np.allclose(got, (states * mask[..., None]).sum(1).numpy() / length, atol=1e-5):
        raise AnswerError(
            _(
                "Not quite: you leave the padding out of the sum but divide by the "
                "full length. Hint: divide by the number of real tokens of each "
                "sequence."
            )
        )
    if np.allclose(np.linalg.norm(got, axis=1), 1, atol=1e-4):
        raise AnswerError(
            _("Not quite: the exercise asks for the mean before normalising.")
        )
    raise AnswerError(_("Not quite. {hint}", hint=next_hint(HINTS["6a.3"])))


def _search_hits(pooling: str) -> int:
    """How many help-desk questions find their answer (top-1) with all-MiniLM-L6-v2's
    vectors pooled by ``pooling``: "cls" or "mean".
    """
    import torch

    from lmbook import text

    tokenizer, encoder = text.load_minilm()

    def vectors(texts: list[str]) -> torch.Tensor:
        encoded = tokenizer(texts, padding=True, return_tensors="pt")
        with torch.no_grad():
            states = encoder(**encoded).last_hidden_state
        pooled = (
            states[:, 0]
            if pooling == "cls"
            else text.mean_pool(states, encoded.attention_mask)
        )
        return torch.nn.functional.normalize(pooled, dim=1)

    top = (vectors(list(QUESTIONS)) @ vectors(list(HELP_DESK)).T).argmax(dim=1)
    return int((top.numpy() == np.array(list(QUESTIONS.values()))).sum())


def ch06a_cls_pooling(answer: object) -> None:
    """Exercise 6a.4: how many of the twelve help-desk questions of section 6.4 the
    normalised [CLS] vectors of all-MiniLM-L6-v2 answer right (top-1).

    The count is measured on the shipped model, so any correct measurement is the same
    whole number.
    """
    value = as_number(answer, "answer_4", N_("questions"))
    if not 0 <= value <= len(QUESTIONS):
        raise AnswerError(
            _(
                "answer_4 should be a number of questions from 0 to "
                "{count}, got {answer}",
                count=len(QUESTIONS),
                answer=repr(answer),
            )
        )
    if value != int(value):
        raise AnswerError(
            _(
                "Not quite: answer_4 counts questions, so it is a whole number. {hint}",
                hint=next_hint(HINTS["6a.4"]),
            )
        )
    expected = _search_hits("cls")
    if int(value) == expected:
        print(
            _(
                "Correct: {expected} of {count} with [CLS] vectors, fewer than "
                "with the mean pooling the model was trained with.",
                expected=expected,
                count=len(QUESTIONS),
            )
        )
        return
    if int(value) == _search_hits("mean"):
        raise AnswerError(
            _(
                "Not quite: that is the count of the mean-pooled embeddings of "
                "section 6.4. Hint: take the first token's vector, "
                "last_hidden_state[:, 0]."
            )
        )
    raise AnswerError(_("Not quite. {hint}", hint=next_hint(HINTS["6a.4"])))
