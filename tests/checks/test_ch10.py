"""The checkers of chapter 10 (``lmbook.checks.ch10``), audited."""

from __future__ import annotations

import pytest
from audit import AuditTests, number

from lmbook import checks, economics
from lmbook.checks import ch10

BREAK_EVEN_PRICE, BREAK_EVEN_REPLICA = 0.50 / 1e6, 2.00 * 730
TRAINING_GPU_HOURS = 6 * 70e9 * 15e12 / (0.40 * 989e12 * 3600)
DECODE_TOKENS = 2 * 3.35e12 / (70.6e9 * 2)

AUDIT = [
    number(
        checks.ch10_break_even,
        (2 * BREAK_EVEN_REPLICA + 3000) / BREAK_EVEN_PRICE,
        [
            ((BREAK_EVEN_REPLICA + 3000) / BREAK_EVEN_PRICE, "Count the replicas"),
            (BREAK_EVEN_REPLICA / BREAK_EVEN_PRICE, "fixed monthly cost"),
            (3000 / BREAK_EVEN_PRICE, "billed on top"),
            ((2 * BREAK_EVEN_REPLICA + 3000) / BREAK_EVEN_PRICE * 1e6, "per million tokens"),
            (5000 * 3600 * 730, "full load"),
            (1e9, "fewest replicas"),
        ],
        [([1, 2], "single number")],
        also_right=[economics.break_even_tokens(**ch10.CH10_BREAK_EVEN)],
    ),
    number(
        checks.ch10_training_cost,
        TRAINING_GPU_HOURS * 2.0,
        [
            (TRAINING_GPU_HOURS * 2.0 * 0.4, "40 %"),
            (TRAINING_GPU_HOURS * 2.0 / 3, "6 FLOPs"),
            (TRAINING_GPU_HOURS, "number of GPU-hours"),
            (TRAINING_GPU_HOURS * 2.0 * 3600, "3,600 seconds"),
            (1e5, "6·N·D"),
        ],
        [([1, 2], "single number")],
    ),
    number(
        checks.ch10_decode_tokens,
        DECODE_TOKENS,
        [
            (DECODE_TOKENS / 2, "two GPUs each read half"),
            (2 * DECODE_TOKENS, "2 bytes"),
            (2 * 989e12 / (2 * 70.6e9), "compute limit"),
            (1000 / DECODE_TOKENS, "milliseconds"),
            (1.0, "summed bandwidth"),
        ],
        [([1, 2], "single number")],
    ),
]


class TestAudit(AuditTests):
    module, rows = ch10, AUDIT


def test_the_break_even_volume_is_the_chapters():
    assert AUDIT[0].right == pytest.approx(1.184e10)
