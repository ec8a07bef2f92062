"""The checkers of chapter 5 (``lmbook.checks.ch05``), audited."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import torch
from audit import AuditTests, Row, function, number

from lmbook import attention, checks
from lmbook.checks import ch05


def my_causal_mask(n):  # the notebook's solution
    return np.tril(np.ones((n, n), dtype=bool))


AUDIT = [
    function(
        checks.ch05_causal_mask,
        my_causal_mask,
        [
            (
                lambda n: np.triu(np.ones((n, n), dtype=bool), 1),
                "True where attention is forbidden",
            ),
            (lambda n: np.triu(np.ones((n, n), dtype=bool)), "see the future"),
            (lambda n: np.tril(np.ones((n, n), dtype=bool), -1), "attend to itself"),
            (lambda n: np.ones((n, n), dtype=bool), "never the future"),
            (lambda n: attention.causal_mask(n), "without lmbook.attention"),
            (attention.causal_mask, "without lmbook.attention"),
        ],
        [
            (lambda n: np.tril(np.ones((n, n))), "dtype float64"),
            (lambda n: np.ones(n, dtype=bool), "shape (n, n)"),
            (lambda n: None, "returned None"),
            (lambda n: 1 / 0, "ZeroDivisionError"),
            (lambda n: [[True] * (i + 1) for i in range(n)], "rows differ in length"),
        ],
        also_right=[lambda n: torch.tril(torch.ones(n, n, dtype=torch.bool))],
        generic=lambda n: np.ones((n, n), dtype=bool),
    ),
    number(
        checks.ch05_attention_flops,
        2 * 4096 * 4096 * 128 + 2 * 4096 * 4096 * 128,
        [
            (2 * 4096**2 * 128, "QKᵀ alone"),
            (4096**2 * 128 * 2 / 2, "2 FLOPs"),
            (4 * 4096**2 * 128 + 8 * 4096 * 128**2, "projections"),
            (4 * 4096 * 128**2, "n²·d"),
            (1e6, "multiply-adds"),
        ],
        solve=lambda n, d: 4 * n * n * d,
    ),
    number(
        checks.ch05_score_scale,
        1 / math.sqrt(64 * 4 * 4),
        [
            (1 / 8, "variance 4"),
            (1 / 16, "4·4"),
            (1 / 1024, "standard deviation"),
            (32, "below 1"),
            (0.5, "variances of its d_k products"),
        ],
        solve=lambda variance, d_k: 1 / (math.sqrt(d_k) * variance),
    ),
    Row(
        checks.ch05_position_experiment,
        {"with": 2.48, "without": 2.44, "better": "without"},
        [
            ({"with": 2.48, "without": 2.44, "better": "with"}, "by your own numbers"),
            ({"with": 2.1, "without": 2.6, "better": "without"}, "lower validation loss"),
            ({"with": 2.5, "without": 2.5, "better": "with"}, "did not differ"),
        ],
        [
            ({"with": 2.48, "without": 2.44}, "exactly the keys 'with', 'without', 'better'"),
            ({"with": 2.48, "without": None, "better": "with"}, "No answer yet"),
            ({"with": -1.0, "without": 2.44, "better": "with"}, "not a validation loss"),
            ({"with": 2.48, "without": 2.44, "better": True}, '"with" or "without"'),
            ((2.48, 2.44, "without"), "should be a dict"),
            (None, "No answer yet"),
        ],
        kind="value",
        # any outcome of the experiment, if the verdict follows from its numbers
        also_right=[
            {"with": 2.1, "without": 2.6, "better": "with"},
            {"with": 2.101, "without": 2.1, "better": " With"},  # a tie: either way
            {"with": np.float64(1.7), "without": torch.tensor(1.9), "better": "with"},
        ],
        generic={"with": 1.8, "without": 2.3, "better": "without"},
    ),
]


class TestAudit(AuditTests):
    module, rows = ch05, AUDIT


# Chapter 5 quotes chapter 4's LSTM ---------------------------------------------------


def _outputs(path):
    """The text outputs of a notebook's code cells, and its Markdown, as saved."""
    cells = _cells(path)
    outputs = "".join(
        "".join(output.get("text", ""))
        for cell in cells
        if cell["cell_type"] == "code"
        for output in cell.get("outputs", [])
    )
    markdown = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    return outputs, markdown


def test_chapter_5_quotes_chapter_4s_lstm_as_chapter_4_printed_it(root):
    """Chapter 5 compares its GPT with chapter 4's LSTM: the LSTM's number that
    chapter 5 prints, states and asserts must be the one chapter 4's saved output
    shows, so that the two chapters cannot drift apart."""
    (ch04,) = (root / "notebooks").glob("04_*.ipynb")
    (ch05,) = (root / "notebooks").glob("05_*.ipynb")
    out4, _ = _outputs(ch04)
    out5, md5 = _outputs(ch05)
    bits4 = re.findall(r"LSTM after 300 steps: (\d\.\d\d) bits", out4)
    assert len(bits4) == 1, "chapter 4 no longer prints its LSTM's validation bits"
    bits4 = bits4[0]
    # chapter 5 retrains chapter 4's recipe and prints the same figure ...
    retrained = re.findall(
        r"LSTM after 300 steps: (\d\.\d\d) bits = (\d\.\d+) nats per character "
        r"\(chapter 4 printed (\d\.\d\d) bits\)",
        out5,
    )
    assert len(retrained) == 1, "chapter 5 no longer prints the retrained LSTM"
    bits5, nats5, quoted = retrained[0]
    assert bits5 == bits4 and quoted == bits4
    assert abs(float(nats5) - float(bits4) * math.log(2)) < 0.006
    # ... and its prose quotes chapter 4's bits, and their value in nats, correctly
    nats4 = f"{float(bits4) * math.log(2):.2f}"
    stated = re.findall(r"(\d\.\d\d)\s+bits\s+(?:are|=)\s+(\d\.\d\d)\s+nats", md5)
    assert stated, "chapter 5's prose no longer converts chapter 4's bits to nats"
    assert all(pair == (bits4, nats4) for pair in stated), (stated, bits4, nats4)
    # the code cell that asserts the match uses chapter 4's number too
    sources = "".join("".join(c["source"]) for c in _cells(ch05) if c["cell_type"] == "code")
    assert f"- {bits4}) < 0.03" in sources


def _cells(path):
    return json.loads(path.read_text(encoding="utf-8"))["cells"]
