"""Checkers of chapter 10: the business of large models (Exercises 10.1–10.3).

Notebook: ``notebooks/10_business_of_large_models.ipynb``. Each checker takes the variable that
the notebook's checker cell passes (``answer_1``, or the function the learner
wrote) and names that variable in its messages.
"""

from __future__ import annotations

from lmbook import economics, scale
from lmbook.checks.core import check_close

CH10_BREAK_EVEN = {
    "api_usd_per_million": 0.50,
    "tokens_per_second": 5000.0,
    "usd_per_gpu_hour": 2.00,
    "average_load": 0.5,
    "fixed_usd_per_month": 3000.0,
}


def ch10_break_even(answer: object) -> None:
    """Exercise 10.1: the monthly token volume at which self-hosting breaks even."""
    case = CH10_BREAK_EVEN
    price = case["api_usd_per_million"] / 1e6
    replica = case["usd_per_gpu_hour"] * economics.HOURS_PER_MONTH
    full = case["tokens_per_second"] * economics.SECONDS_PER_HOUR * economics.HOURS_PER_MONTH
    check_close(
        answer,
        economics.break_even_tokens(**case),
        name="answer_1",
        unit="tokens per month",
        rel_tol=0.01,
        hints=[
            (
                (replica + case["fixed_usd_per_month"]) / price,
                "one replica costs that much, but can it serve that volume at 50 % load? "
                "Count the replicas the volume needs.",
            ),
            (replica / price, "the fixed monthly cost must be paid too."),
            (case["fixed_usd_per_month"] / price, "the GPUs are billed on top of the fixed cost."),
            (
                (2 * replica + case["fixed_usd_per_month"]) / price * 1e6,
                "the API price is per million tokens; your answer is in millions.",
            ),
            (full, "that is one replica's capacity at full load, not the break-even volume."),
        ],
        default_hint="a replica costs $2 × 730 h a month and serves tokens/s × 0.5 × 3600 × 730 "
        "tokens; find the fewest replicas k with k·(p·K − c) ≥ F, then V = (k·c + F) / p.",
    )


def ch10_training_cost(answer: object) -> None:
    """Exercise 10.2: dollars to train 70e9 parameters on 15e12 tokens on H100s."""
    cost = economics.training_cost(70e9, 15e12, gpu="H100", mfu=0.4, usd_per_gpu_hour=2.0)
    check_close(
        answer,
        cost.usd,
        name="answer_2",
        unit="US dollars",
        rel_tol=0.02,
        hints=[
            (cost.usd * 0.4, "the GPUs deliver only 40 % of their peak (divide by the MFU)."),
            (cost.usd / 3, "training costs 6 FLOPs per parameter per token, not 2."),
            (
                cost.gpu_hours,  # the same number as cost.usd / 2: the price was left out
                "that is the number of GPU-hours; the question asks for dollars, at $2 per "
                "GPU-hour.",
            ),
            (cost.usd * 3600, "a GPU-hour has 3,600 seconds: divide FLOPs by FLOP/s × 3600."),
        ],
        default_hint="C = 6·N·D FLOPs; an H100 gives 0.4 × 989e12 FLOP/s; "
        "GPU-hours = C / (that × 3600); dollars = GPU-hours × $2.",
    )


def ch10_decode_tokens(answer: object) -> None:
    """Exercise 10.3: upper bound on batch-1 decoding speed of a 70.6e9-parameter model."""
    bound = economics.decode_tokens_per_second(70.6e9, gpu="H100", gpus=2, batch_size=1)
    h100 = scale.ACCELERATORS["H100"]
    check_close(
        answer,
        bound.tokens_per_second,
        name="answer_3",
        unit="tokens per second",
        rel_tol=0.02,
        hints=[
            (bound.tokens_per_second / 2, "two GPUs each read half of the weights, in parallel."),
            (2 * bound.tokens_per_second, "bf16 stores each parameter in 2 bytes, not 1."),
            (
                2 * h100.peak_flops / (2 * 70.6e9),
                "that is the compute limit; at batch 1 reading the weights takes far longer.",
            ),
            (1000 * bound.step_seconds, "that is the time per token in milliseconds; invert it."),
        ],
        default_hint="each token needs every weight read once: 70.6e9 × 2 bytes over the two "
        "GPUs' summed bandwidth (2 × 3.35e12 B/s); tokens/s is one over that time.",
    )
