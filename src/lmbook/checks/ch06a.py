"""Checkers of notebook 6a, chapter 6 part 1: encoders and embeddings (Exercises 6a.1–6a.3).

Notebook: ``notebooks/06a_encoders_and_embeddings.ipynb``. Each checker takes the variable that
the notebook's checker cell passes (``answer_1``, or the function the learner
wrote) and names that variable in its messages.
"""

from __future__ import annotations

import numpy as np

from lmbook.checks.core import AnswerError, as_finite_array, as_function, call, check_close

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


def ch06a_wordpiece(answer: object) -> None:
    """Exercise 6a.1: WordPiece of "unhappiness" with a small vocabulary, by hand."""
    from lmbook import text

    if answer is None or answer is Ellipsis:
        raise AnswerError("No answer yet: set answer_1 to a list of strings and run the cell.")
    if not isinstance(answer, list | tuple) or not all(isinstance(p, str) for p in answer):
        raise AnswerError(
            f"answer_1 should be a list of strings such as ['un', '##...'], got {answer!r}"
        )
    pieces = list(answer)
    vocab = dict.fromkeys(WORDPIECE_EXERCISE_VOCAB, 0)
    expected = text.wordpiece("unhappiness", vocab)
    if pieces == expected:
        print(f"Correct: {expected}.")
        return
    if "".join(p.removeprefix("##") for p in pieces) != "unhappiness":
        raise AnswerError(
            "Not quite: the pieces, without their ## prefixes, must spell 'unhappiness'."
        )
    if any(p.startswith("##") == (i == 0) for i, p in enumerate(pieces)):
        raise AnswerError(
            "Not quite: the first piece starts the word and has no ##; every later piece "
            "continues it and has the ## prefix."
        )
    if any(p not in vocab for p in pieces):
        raise AnswerError("Not quite: every piece must be an entry of the given vocabulary.")
    raise AnswerError(
        "Not quite: that is a valid split, but not WordPiece's. Hint: at each step take the "
        "longest vocabulary piece that matches, even if a shorter one would lead to "
        "longer pieces later."
    )


def ch06a_bert_large_parameters(answer: object) -> None:
    """Exercise 6a.2: the parameters of BERT-large's BertModel, pooler included."""
    from lmbook import text

    config = {
        "vocab_size": 30_522,
        "hidden_size": 1024,
        "num_hidden_layers": 24,
        "intermediate_size": 4096,
        "max_position_embeddings": 512,
        "type_vocab_size": 2,
    }
    counts = text.bert_parameter_counts(config)
    h, f, layers = 1024, 4096, 24
    check_close(
        answer,
        counts["total"],
        name="answer_2",
        unit="parameters",
        rel_tol=1e-7,
        hints=[
            (counts["total"] - counts["pooler"], "the question includes the pooler."),
            (counts["total"] - counts["embeddings"], "add the embedding tables."),
            (
                counts["total"] - layers * (4 * h + f + h),
                "each linear layer has a bias vector too.",
            ),
            (counts["total"] - (2 * layers + 1) * 2 * h, "each LayerNorm has 2H parameters."),
            (counts["total"] - layers * 2 * h, "each layer has two LayerNorms."),
        ],
        default_hint="add the embeddings, 24 times one layer (attention, feed-forward, two "
        "LayerNorms) and the pooler; the number of heads does not change the count.",
    )


def ch06a_mean_pool(answer: object) -> None:
    """Exercise 6a.3: a function pool(states, mask) that returns the masked mean."""
    import torch

    from lmbook import text

    signature = "answer_3(states, mask)"
    function = as_function(answer, "answer_3", signature)
    generator = torch.Generator().manual_seed(6)
    states = torch.randn(3, 5, 4, generator=generator)
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0], [1, 0, 0, 0, 0]])
    result = call(function, signature, states.clone(), mask.clone())
    got = as_finite_array(result, signature, (3, 4))
    expected = text.mean_pool(states, mask).numpy()
    if np.allclose(got, expected, atol=1e-5):
        print("Correct: the mean over real tokens, padding left out.")
        return
    if np.allclose(got, states.mean(dim=1).numpy(), atol=1e-5):
        raise AnswerError(
            "Not quite: your mean counts the padding. Hint: weight each token by its mask."
        )
    if np.allclose(got, (states * mask[..., None]).sum(1).numpy() / 5, atol=1e-5):
        raise AnswerError(
            "Not quite: you leave the padding out of the sum but divide by the full length. "
            "Hint: divide by the number of real tokens of each sequence."
        )
    if np.allclose(np.linalg.norm(got, axis=1), 1, atol=1e-4):
        raise AnswerError("Not quite: the exercise asks for the mean before normalising.")
    raise AnswerError(
        "Not quite. Hint: multiply the states by the mask (with a trailing axis), sum over the "
        "length axis, and divide by the sum of the mask."
    )
