"""The checkers of notebook 6d, text generation (``lmbook.checks.ch06d``), audited."""

from __future__ import annotations

import math

import numpy as np
import torch
from audit import AuditTests, Row, number

from lmbook import checks, generation, nn
from lmbook.checks import ch06d

PERPLEXITY_NLL = -np.mean(np.log(ch06d.CH06D_TOKEN_PROBS))
TOP_P_RANKED = ["the", "a", "his", "her", "my", "this"]
TEMPERATURE_LOGITS = np.array([2.0, 1.0, 0.0])
# The answer computed as chapter 6d does, with lmbook.generation and torch.
TEMPERATURE_PROBS = torch.softmax(
    generation.apply_temperature(torch.tensor(ch06d.CH06D_LOGITS), ch06d.CH06D_TEMPERATURE), -1
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
            (1.0, "exp(-(1/N)"),
        ],
        also_right=[float(np.prod(ch06d.CH06D_TOKEN_PROBS) ** (-1 / 4))],
    ),
    Row(
        checks.ch06d_top_p_survivors,
        ["the", "a", "his", "her", "my"],
        [
            (TOP_P_RANKED[:4], "keep the token that crosses it"),
            (TOP_P_RANKED, "smallest such set"),
            (["the", "a", "his", "her", "this"], "sort the tokens"),
            (["the", "his"], "sort the tokens"),
        ],
        [
            (None, "No answer yet"),
            ("the a his her my", "list (or set) of tokens"),
            (["the", 1], "list (or set) of tokens"),
            ({"the": 0.42}, "list (or set) of tokens"),
            (["The"], "not among the six tokens"),
        ],
        also_right=[{"my", "her", "his", "a", "the"}, ("the", "a", "his", "her", "my")],
    ),
    Row(
        checks.ch06d_temperature_probs,
        np.exp(TEMPERATURE_LOGITS / 0.5) / np.exp(TEMPERATURE_LOGITS / 0.5).sum(),
        [
            (nn.softmax(TEMPERATURE_LOGITS), "temperature 1"),
            (nn.softmax(TEMPERATURE_LOGITS * 0.5), "do not multiply"),
            (TEMPERATURE_LOGITS / 0.5, "with a softmax"),
            (np.exp(TEMPERATURE_LOGITS / 0.5), "must sum to 1"),
            ([0.5, 0.3, 0.1], "probabilities sum to 1"),
            ([0.5, 0.5, 0.5], "probabilities sum to 1"),
            ([0.6, 0.3, 0.1], "exp(z_i / T)"),
            ([0.86, 0.12, 0.02], "exp(z_i / T)"),  # 0.867 rounded down
        ],
        [
            (None, "No answer yet"),
            ([0.8, 0.2], "shape (3,)"),
            ([float("nan")] * 3, "nan or inf"),
            ({"the": 0.867}, "not an array of numbers"),
        ],
        also_right=[
            TEMPERATURE_PROBS,
            TEMPERATURE_PROBS.tolist(),
            TEMPERATURE_PROBS.numpy(),
            [0.87, 0.12, 0.02],  # two decimals, summing to 1.01
        ],
    ),
]


class TestAudit(AuditTests):
    module, rows = ch06d, AUDIT
