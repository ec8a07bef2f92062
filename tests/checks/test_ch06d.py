"""The checkers of notebook 6d, text generation (``lmbook.checks.ch06d``), audited."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from audit import AuditTests, Row, number, verdict

from lmbook import checks, generation, nn
from lmbook.checks import ch06d

PROBABILITIES = (0.5, 0.25, 0.1, 0.4)
PERPLEXITY_NLL = -np.mean(np.log(PROBABILITIES))
TOP_P_RANKED = ["the", "a", "his", "her", "my", "this"]
TEMPERATURE_LOGITS = np.array([2.0, 1.0, 0.0])
# The answer computed as chapter 6d does, with lmbook.generation and torch.
TEMPERATURE_PROBS = torch.softmax(
    generation.apply_temperature(torch.tensor(TEMPERATURE_LOGITS), 0.5), -1
)

AUDIT = [
    number(
        checks.ch06d_perplexity_from_probs,
        math.exp(PERPLEXITY_NLL),
        [
            (PERPLEXITY_NLL, "its exp"),
            (PERPLEXITY_NLL / math.log(2), "bits per token"),
            (math.exp(-PERPLEXITY_NLL), "at least 1"),
            (np.mean([2, 4, 10, 2.5]), "inverse probabilities"),
            (1.0, "mean negative log-likelihood of the scored tokens"),
        ],
        also_right=[float(np.prod(PROBABILITIES) ** (-1 / 4))],
        solve=lambda probabilities: math.exp(-np.mean(np.log(probabilities))),
    ),
    Row(
        checks.ch06d_top_p_survivors,
        ["the", "a", "his", "her", "my"],
        [
            (TOP_P_RANKED[:4], "keep the token that crosses it"),
            (TOP_P_RANKED, "smallest such set"),
            (["the", "a", "his", "her", "this"], "smallest set of most likely tokens"),
            (["the", "his"], "smallest set of most likely tokens"),
        ],
        [
            (None, "No answer yet"),
            ("the a his her my", "list (or set) of tokens"),
            (["the", 1], "list (or set) of tokens"),
            ({"the": 0.42}, "list (or set) of tokens"),
            (["The"], "not among the six tokens"),
        ],
        also_right=[{"my", "her", "his", "a", "the"}, ("the", "a", "his", "her", "my")],
        generic=["the", "his"],
    ),
    Row(
        checks.ch06d_temperature_probs,
        # A list: the audit's rounding test builds type(right)(numbers), which an array
        # cannot do; the array that the solution cell computes is among also_right.
        (np.exp(TEMPERATURE_LOGITS / 0.5) / np.exp(TEMPERATURE_LOGITS / 0.5).sum()).tolist(),
        [
            (nn.softmax(TEMPERATURE_LOGITS), "temperature 1"),
            (nn.softmax(TEMPERATURE_LOGITS * 0.5), "do not multiply"),
            (TEMPERATURE_LOGITS / 0.5, "with a softmax"),
            (np.exp(TEMPERATURE_LOGITS / 0.5), "must sum to 1"),
            ([0.5, 0.3, 0.1], "probabilities sum to 1"),
            ([0.5, 0.5, 0.5], "probabilities sum to 1"),
            ([0.6, 0.3, 0.1], "divides the logits before the softmax"),
            ([0.86, 0.12, 0.02], "divides the logits before the softmax"),  # 0.867 rounded down
        ],
        [
            (None, "No answer yet"),
            ([0.8, 0.2], "shape (3,)"),
            ([float("nan")] * 3, "nan or inf"),
            ({"the": 0.867}, "not an array of numbers"),
        ],
        also_right=[
            np.exp(TEMPERATURE_LOGITS / 0.5) / np.exp(TEMPERATURE_LOGITS / 0.5).sum(),
            TEMPERATURE_PROBS,
            TEMPERATURE_PROBS.tolist(),
            TEMPERATURE_PROBS.numpy(),
            [0.87, 0.12, 0.02],  # two decimals, summing to 1.01
            [0.867, 0.117, 0.016],  # three decimals ("or more")
        ],
        generic=[0.6, 0.3, 0.1],
        solve=lambda logits, temperature: nn.softmax(np.array(logits) / temperature),
    ),
]


class TestAudit(AuditTests):
    module, rows = ch06d, AUDIT


@pytest.mark.parametrize("decimals", [2, 3, 4])
def test_the_temperature_checker_takes_rounded_answers_in_every_second_case(decimals):
    """Exercise 6d.3 asks for two decimals or more: its answer rounded so is accepted for
    the notebook's values and for every drawn second case, and an answer 0.02 off in one
    probability is not."""
    case = ch06d.SECOND_CASES["ch06d_temperature_probs"]
    draws = [{"logits": (2.0, 1.0, 0.0), "temperature": 0.5}]
    draws += [case.draw(np.random.default_rng(seed)) for seed in range(200)]
    for values in draws:
        expected = nn.softmax(np.array(values["logits"]) / values["temperature"])
        rounded = np.round(expected, decimals)
        off = rounded.copy()
        off[np.argmax(expected)] -= 0.02
        checked = [
            verdict(checks.ch06d_temperature_probs, a.tolist(), **values) for a in (rounded, off)
        ]
        assert checked[0] == "accepted", (values, rounded)
        assert checked[1] != "accepted", (values, off)


def test_the_temperature_checker_takes_either_rounding_of_a_half_way_value():
    """Probabilities (0.75, 0.125, 0.125): 0.125 rounds to 0.12 (Python and NumPy round
    half to even) or to 0.13 (by hand, half up); both are correctly rounded."""
    values = {"logits": (math.log(6), 0.0, 0.0), "temperature": 1.0}
    for answer in ([0.75, 0.12, 0.12], [0.75, 0.13, 0.13], [0.75, 0.125, 0.125]):
        assert verdict(checks.ch06d_temperature_probs, answer, **values) == "accepted", answer
    assert verdict(checks.ch06d_temperature_probs, [0.75, 0.14, 0.11], **values) != "accepted"
