"""Checkers of notebook 6d, chapter 6 part 4: text generation (Exercises 6d.1–6d.3).

Notebook: ``notebooks/06d_text_generation.ipynb``. Each checker takes the variable that
the notebook's checker cell passes (``answer_1``, or the function the learner
wrote) and names that variable in its messages.
"""

from __future__ import annotations

import math

import numpy as np

from lmbook import nn
from lmbook.checks.core import AnswerError, as_finite_array, check_close

CH06D_TOKEN_PROBS = (0.5, 0.25, 0.1, 0.4)  # Exercise 6d.1
CH06D_NEXT_TOKENS = {"the": 0.42, "a": 0.25, "his": 0.13, "her": 0.09, "my": 0.06, "this": 0.05}
CH06D_LOGITS, CH06D_TEMPERATURE = (2.0, 1.0, 0.0), 0.5  # Exercise 6d.3


def ch06d_perplexity_from_probs(answer: object) -> None:
    """Exercise 6d.1: the perplexity of four tokens given probabilities 0.5, 0.25, 0.1, 0.4."""
    p = np.array(CH06D_TOKEN_PROBS)
    nll = -np.log(p).mean()
    check_close(
        answer,
        math.exp(nll),
        name="answer_1",
        unit="(a perplexity)",
        rel_tol=0.005,
        hints=[
            (nll, "that is the mean negative log-likelihood in nats; perplexity is its exp."),
            (nll / math.log(2), "that is the cross-entropy in bits per token; raise 2 to it."),
            (math.exp(-nll), "mind the sign: the perplexity is at least 1."),
            ((1 / p).mean(), "average the log-probabilities, not the inverse probabilities."),
            (math.exp(-np.log(p).sum()), "take the mean over the tokens, not the sum."),
        ],
        default_hint="perplexity = exp(-(1/N) Σ log p(token)), N the number of scored tokens.",
    )


def ch06d_top_p_survivors(answer: object) -> None:
    """Exercise 6d.2: which of six next tokens survive nucleus filtering with top_p = 0.9."""
    if answer is None or answer is Ellipsis:
        raise AnswerError("No answer yet: set answer_2 to a list of tokens and run the cell.")
    is_collection = isinstance(answer, list | tuple | set | frozenset)
    if not is_collection or not all(isinstance(token, str) for token in answer):
        raise AnswerError(
            f"answer_2 should be a list (or set) of tokens such as ['the', 'a'], "
            f"got {type(answer).__name__}: {answer!r}"
        )
    got = set(answer)
    unknown = got - CH06D_NEXT_TOKENS.keys()
    if unknown:
        raise AnswerError(
            f"{sorted(map(str, unknown))} are not among the six tokens "
            f"{list(CH06D_NEXT_TOKENS)}; write them exactly as given."
        )
    ranked = sorted(CH06D_NEXT_TOKENS, key=CH06D_NEXT_TOKENS.get, reverse=True)
    mass_before = np.cumsum([CH06D_NEXT_TOKENS[t] for t in ranked]) - [
        CH06D_NEXT_TOKENS[t] for t in ranked
    ]
    expected = {t for t, before in zip(ranked, mass_before, strict=True) if before < 0.9}
    if got == expected:
        print(f"Correct: {len(expected)} tokens survive, holding 0.95 of the probability.")
        return
    mass = sum(CH06D_NEXT_TOKENS[t] for t in got)
    if got < expected and got == set(ranked[: len(got)]):
        hint = (
            f"your tokens hold {mass:.2f} of the probability, less than p = 0.9; the nucleus is "
            "the smallest set whose mass reaches p, so keep the token that crosses it."
        )
    elif got > expected and got == set(ranked[: len(got)]):
        hint = "the nucleus is the smallest such set: stop adding tokens once the mass reaches p."
    else:
        hint = "sort the tokens by probability and keep the most likely ones, in that order."
    raise AnswerError(f"Not quite: {hint}")


def ch06d_temperature_probs(answer: object) -> None:
    """Exercise 6d.3: softmax of the logits (2, 1, 0) at temperature 0.5."""
    if answer is None or answer is Ellipsis:
        raise AnswerError("No answer yet: set answer_3 to three probabilities and run the cell.")
    got = as_finite_array(answer, "answer_3", (3,))
    logits = np.array(CH06D_LOGITS)
    expected = nn.softmax(logits / CH06D_TEMPERATURE)
    if np.allclose(got, expected, rtol=0, atol=0.005 + 1e-9):  # two decimals, as asked
        print(f"Correct: {np.round(expected, 3).tolist()}; the top token gains at T < 1.")
        return
    mistakes = [
        (nn.softmax(logits), "that is the softmax at temperature 1; divide the logits by T first."),
        (nn.softmax(logits * CH06D_TEMPERATURE), "divide the logits by T = 0.5, do not multiply."),
        (logits / CH06D_TEMPERATURE, "turn the scaled logits into probabilities with a softmax."),
        (np.exp(logits / CH06D_TEMPERATURE), "normalise: the three probabilities must sum to 1."),
    ]
    for wrong, hint in mistakes:
        if np.allclose(got, wrong, atol=2e-3):
            raise AnswerError(f"Not quite: {hint}")
    if not np.isclose(got.sum(), 1, atol=2e-3):
        raise AnswerError(
            f"Not quite: your numbers sum to {got.sum():.3f}; probabilities sum to 1."
        )
    raise AnswerError("Not quite. Hint: p_i = exp(z_i / T) / Σ_j exp(z_j / T).")
