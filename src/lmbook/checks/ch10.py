"""Checkers of chapter 10: the business of large models (Exercises 10.1–10.3).

Notebook: ``notebooks/10_business_of_large_models.ipynb``. Each checker takes the
variable that the notebook's checker cell passes (``answer_1``) and names it in its
messages. Its keyword arguments are the exercise's given values, with the notebook's as
defaults: the hidden test of :mod:`lmbook.checks.grading` calls it with others
(``SECOND_CASES``).
"""

from __future__ import annotations

import math

import numpy as np

from lmbook import economics, scale
from lmbook.checks.core import Hint, SecondCase, check_close
from lmbook.checks.messages import N_, _

HINTS = {
    hint.exercise: hint
    for hint in (
        Hint(
            "10.1",
            N_(
                "self-hosting costs whole replicas plus a fixed monthly cost, and each "
                "replica serves only so many tokens a month at your traffic's load."
            ),
            N_(
                "with p the API price per token, a replica costs c = GPU price × hours "
                "a month and serves K = tokens/s × load × 3600 × hours tokens; find "
                "the fewest replicas k with k·(p·K − c) ≥ F, the fixed cost, then V = "
                "(k·c + F) / p."
            ),
        ),
        Hint(
            "10.2",
            N_(
                "the cost follows from the FLOPs of one training run and the FLOP/s "
                "that each GPU actually delivers."
            ),
            N_(
                "C = 6·N·D FLOPs; one GPU delivers MFU × peak FLOP/s; "
                "GPU-hours = C / (that × 3600); dollars = GPU-hours × the "
                "price of a GPU-hour."
            ),
        ),
        Hint(
            "10.3",
            N_(
                "at batch 1 every generated token needs every weight read from memory "
                "once, so the memory bandwidth bounds the speed."
            ),
            N_(
                "time per token = parameters × bytes per parameter / (GPUs × bandwidth "
                "of one GPU); tokens per second is one over that time."
            ),
        ),
    )
}


def _costs(
    api_usd_per_million: float,
    usd_per_gpu_hour: float,
    hours_per_month: float,
    tokens_per_second: float,
    average_load: float,
    fixed_usd_per_month: float,
) -> tuple[float, float, float, int]:
    """(price per token p, a replica's month c, its monthly capacity K,
    replicas k) of 10.1.

    k is the fewest replicas whose savings against the API pay the fixed cost F,
    k·(p·K − c) ≥ F (:func:`lmbook.economics.break_even_tokens`, with the hours given);
    0 if a loaded replica costs more per token than the API, so that self-hosting never
    pays.
    """
    price = api_usd_per_million / 1e6
    replica = usd_per_gpu_hour * hours_per_month
    capacity = (
        tokens_per_second * average_load * economics.SECONDS_PER_HOUR * hours_per_month
    )
    margin = price * capacity - replica
    replicas = max(1, math.ceil(fixed_usd_per_month / margin)) if margin > 0 else 0
    return price, replica, capacity, replicas


def _draw_break_even(rng: np.random.Generator) -> dict[str, object]:
    """Other prices, speed, load and fixed cost, where a loaded replica
    beats the API.
    """
    price, replica, _capacity, replicas = _costs(0.50, 2.00, 730.0, 5000.0, 0.5, 3000.0)
    public = (replicas * replica + 3000.0) / price
    while True:
        values = {
            "api_usd_per_million": int(rng.integers(2, 21)) / 10,
            "usd_per_gpu_hour": int(rng.integers(10, 41)) / 10,
            "hours_per_month": float(rng.choice([720, 730, 744])),
            "tokens_per_second": float(rng.integers(10, 101) * 100),
            "average_load": int(rng.integers(2, 9)) / 10,
            "fixed_usd_per_month": float(rng.integers(1, 21) * 500),
        }
        price, replica, capacity, replicas = _costs(**values)
        if price * capacity < 1.2 * replica or replicas > 10:  # the API wins, or nearly
            continue
        volume = (replicas * replica + values["fixed_usd_per_month"]) / price
        if abs(volume / public - 1) > 0.05:
            return values


def _gpu_hours(
    parameters: float, tokens: float, peak_flops: float, mfu: float
) -> float:
    """GPU-hours of one training run, C = 6·N·D at ``mfu`` of ``peak_flops`` (10.2)."""
    return 6 * parameters * tokens / (mfu * peak_flops * economics.SECONDS_PER_HOUR)


def _draw_training(rng: np.random.Generator) -> dict[str, object]:
    """Another model, data set, GPU, utilisation and price (Exercise 10.2)."""
    public = _gpu_hours(70e9, 15e12, 989e12, 0.40) * 2.0
    while True:
        values = {
            "parameters": float(rng.integers(1, 400)) * 1e9,
            "tokens": float(rng.integers(1, 30)) * 1e12,
            "peak_flops": float(rng.choice([312e12, 989e12, 2250e12])),
            "mfu": float(rng.choice([0.3, 0.35, 0.4, 0.45, 0.5])),
            "price_per_gpu_hour": int(rng.integers(15, 51)) / 10,
        }
        hours = _gpu_hours(
            values["parameters"], values["tokens"], values["peak_flops"], values["mfu"]
        )
        if abs(hours * values["price_per_gpu_hour"] / public - 1) > 0.05:
            return values


def _draw_decode(rng: np.random.Generator) -> dict[str, object]:
    """Another model, precision, GPU count and bandwidth, with the weights in
    80 GB GPUs.
    """
    public = 2 * 3.35e12 / (70.6e9 * 2)
    while True:
        values = {
            "weights": float(rng.integers(10, 1000)) * 1e8,
            "bytes_per_weight": int(rng.choice([1, 2])),
            "gpus": int(rng.choice([1, 2, 4, 8])),
            "bandwidth": float(rng.choice([2.0e12, 3.35e12, 4.8e12])),
        }
        weight_bytes = values["weights"] * values["bytes_per_weight"]
        speed = values["gpus"] * values["bandwidth"] / weight_bytes
        if (
            weight_bytes <= 0.9 * values["gpus"] * 80e9
            and abs(speed / public - 1) > 0.05
        ):
            return values


SECOND_CASES = {
    "ch10_break_even": SecondCase("answer_1", draw=_draw_break_even),
    "ch10_training_cost": SecondCase("answer_2", draw=_draw_training),
    "ch10_decode_tokens": SecondCase("answer_3", draw=_draw_decode),
}


def ch10_break_even(
    answer: object,
    api_usd_per_million: float = 0.50,
    usd_per_gpu_hour: float = 2.00,
    hours_per_month: float = 730.0,
    tokens_per_second: float = 5000.0,
    average_load: float = 0.5,
    fixed_usd_per_month: float = 3000.0,
) -> None:
    """Exercise 10.1: the monthly token volume at which self-hosting breaks even."""
    fixed = fixed_usd_per_month
    price, replica, _capacity, replicas = _costs(
        api_usd_per_million,
        usd_per_gpu_hour,
        hours_per_month,
        tokens_per_second,
        average_load,
        fixed,
    )
    expected = (replicas * replica + fixed) / price
    full = tokens_per_second * economics.SECONDS_PER_HOUR * hours_per_month
    check_close(
        answer,
        expected,
        name="answer_1",
        unit=N_("tokens per month"),
        rel_tol=0.01,
        hint=HINTS["10.1"],
        hints=[
            (
                (replica + fixed) / price,
                _(
                    "one replica costs that much, but can it serve that volume at "
                    "{load:g} % load? Count the replicas the volume needs.",
                    load=average_load * 100,
                ),
            ),
            (replica / price, N_("the fixed monthly cost must be paid too.")),
            (fixed / price, N_("the GPUs are billed on top of the fixed cost.")),
            (
                expected * 1e6,
                N_("the API price is per million tokens; your answer is in millions."),
            ),
            (
                full,
                N_(
                    "that is one replica's capacity at full load, "
                    "not the break-even volume."
                ),
            ),
        ],
    )


def ch10_training_cost(
    answer: object,
    parameters: float = 70e9,
    tokens: float = 15e12,
    peak_flops: float = 989e12,
    mfu: float = 0.40,
    price_per_gpu_hour: float = 2.0,
) -> None:
    """Exercise 10.2: dollars to train ``parameters`` on ``tokens`` at ``mfu`` of
    ``peak_flops``.
    """
    gpu_hours = _gpu_hours(parameters, tokens, peak_flops, mfu)
    usd = gpu_hours * price_per_gpu_hour
    check_close(
        answer,
        usd,
        name="answer_2",
        unit=N_("US dollars"),
        rel_tol=0.02,
        hint=HINTS["10.2"],
        hints=[
            (
                usd * mfu,
                _(
                    "the GPUs deliver only {mfu:g} % of their "
                    "peak (divide by the MFU).",
                    mfu=mfu * 100,
                ),
            ),
            (usd / 3, N_("training costs 6 FLOPs per parameter per token, not 2.")),
            (
                gpu_hours,
                _(
                    "that is the number of GPU-hours; the question asks for dollars, "
                    "at ${price:g} per GPU-hour.",
                    price=price_per_gpu_hour,
                ),
            ),
            (
                usd * 3600,
                N_("a GPU-hour has 3,600 seconds: divide FLOPs by FLOP/s × 3600."),
            ),
        ],
    )


def ch10_decode_tokens(
    answer: object,
    weights: float = 70.6e9,
    bytes_per_weight: float = 2,
    gpus: int = 2,
    bandwidth: float = 3.35e12,
) -> None:
    """Exercise 10.3: upper bound on batch-1 decoding speed: GPUs' bandwidth over
    weight bytes.
    """
    step_seconds = weights * bytes_per_weight / (gpus * bandwidth)
    expected = 1 / step_seconds
    hints = []
    if gpus > 1:
        hints.append(
            (
                expected / gpus,
                _(
                    "with tensor parallelism the {gpus} GPUs read their shares of "
                    "every weight matrix at the same time; taking turns is pipeline "
                    "parallelism.",
                    gpus=gpus,
                ),
            )
        )
    if bytes_per_weight != 1:
        hints.append(
            (
                expected * bytes_per_weight,
                _(
                    "each parameter takes {bytes_per_weight:g} bytes, not 1.",
                    bytes_per_weight=bytes_per_weight,
                ),
            )
        )
    hints += [
        (
            gpus * scale.ACCELERATORS["H100"].peak_flops / (2 * weights),
            N_(
                "that is the compute limit; at batch 1 reading the "
                "weights takes far longer."
            ),
        ),
        (
            1000 * step_seconds,
            N_("that is the time per token in milliseconds; invert it."),
        ),
    ]
    check_close(
        answer,
        expected,
        name="answer_3",
        unit=N_("tokens per second"),
        rel_tol=0.02,
        hint=HINTS["10.3"],
        hints=hints,
    )
