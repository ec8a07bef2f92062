"""The checkers of chapter 10 (``lmbook.checks.ch10``), audited."""

from __future__ import annotations

import math

import numpy as np
import pytest
from audit import AuditTests, number

from lmbook import checks, economics
from lmbook.checks import ch10

BREAK_EVEN_PRICE, BREAK_EVEN_REPLICA = 0.50 / 1e6, 2.00 * 730
TRAINING_GPU_HOURS = 6 * 70e9 * 15e12 / (0.40 * 989e12 * 3600)
DECODE_TOKENS = 2 * 3.35e12 / (70.6e9 * 2)


def break_even(
    api_usd_per_million,
    usd_per_gpu_hour,
    hours_per_month,
    tokens_per_second,
    average_load,
    fixed_usd_per_month,
):
    """The notebook's solution of Exercise 10.1."""
    price = api_usd_per_million / 1e6
    replica_month = usd_per_gpu_hour * hours_per_month
    capacity_month = tokens_per_second * average_load * 3600 * hours_per_month
    replicas = max(1, math.ceil(fixed_usd_per_month / (price * capacity_month - replica_month)))
    return (replicas * replica_month + fixed_usd_per_month) / price


AUDIT = [
    number(
        checks.ch10_break_even,
        (2 * BREAK_EVEN_REPLICA + 3000) / BREAK_EVEN_PRICE,
        [
            ((BREAK_EVEN_REPLICA + 3000) / BREAK_EVEN_PRICE, "at 50 % load? Count the replicas"),
            (BREAK_EVEN_REPLICA / BREAK_EVEN_PRICE, "fixed monthly cost"),
            (3000 / BREAK_EVEN_PRICE, "billed on top"),
            ((2 * BREAK_EVEN_REPLICA + 3000) / BREAK_EVEN_PRICE * 1e6, "per million tokens"),
            (5000 * 3600 * 730, "full load"),
            (1e9, "whole replicas plus a fixed monthly cost"),
        ],
        [([1, 2], "single number")],
        also_right=[
            economics.break_even_tokens(
                0.50,
                tokens_per_second=5000,
                usd_per_gpu_hour=2.00,
                average_load=0.5,
                fixed_usd_per_month=3000,
            )
        ],
        solve=break_even,
    ),
    number(
        checks.ch10_training_cost,
        TRAINING_GPU_HOURS * 2.0,
        [
            (TRAINING_GPU_HOURS * 2.0 * 0.4, "only 40 % of their peak"),
            (TRAINING_GPU_HOURS * 2.0 / 3, "6 FLOPs"),
            (TRAINING_GPU_HOURS, "number of GPU-hours; the question asks for dollars, at $2"),
            (TRAINING_GPU_HOURS * 2.0 * 3600, "3,600 seconds"),
            (1e5, "FLOP/s that each GPU actually delivers"),
        ],
        [([1, 2], "single number")],
        solve=lambda parameters, tokens, peak_flops, mfu, price_per_gpu_hour: (
            6 * parameters * tokens / (mfu * peak_flops * 3600) * price_per_gpu_hour
        ),
    ),
    number(
        checks.ch10_decode_tokens,
        DECODE_TOKENS,
        [
            (DECODE_TOKENS / 2, "tensor parallelism the 2 GPUs read their shares"),
            (2 * DECODE_TOKENS, "2 bytes, not 1"),
            (2 * 989e12 / (2 * 70.6e9), "compute limit"),
            (1000 / DECODE_TOKENS, "milliseconds"),
            (1.0, "memory bandwidth bounds the speed"),
        ],
        [([1, 2], "single number")],
        solve=lambda weights, bytes_per_weight, gpus, bandwidth: (
            gpus * bandwidth / (weights * bytes_per_weight)
        ),
    ),
]


class TestAudit(AuditTests):
    module, rows = ch10, AUDIT


def test_the_break_even_volume_is_the_chapters():
    assert AUDIT[0].right == pytest.approx(1.184e10)


@pytest.mark.parametrize("seed", range(20))
def test_the_second_case_of_10_1_is_one_where_self_hosting_pays(seed):
    """A loaded replica is cheaper per token than the API, and the book's function agrees."""
    values = ch10.SECOND_CASES["ch10_break_even"].draw(np.random.default_rng(seed))
    price = values["api_usd_per_million"] / 1e6
    capacity = values["tokens_per_second"] * values["average_load"] * 3600
    capacity *= values["hours_per_month"]
    assert price * capacity > values["usd_per_gpu_hour"] * values["hours_per_month"]
    if values["hours_per_month"] == 730:
        expected = economics.break_even_tokens(
            values["api_usd_per_million"],
            tokens_per_second=values["tokens_per_second"],
            usd_per_gpu_hour=values["usd_per_gpu_hour"],
            average_load=values["average_load"],
            fixed_usd_per_month=values["fixed_usd_per_month"],
        )
        assert break_even(**values) == pytest.approx(expected)
