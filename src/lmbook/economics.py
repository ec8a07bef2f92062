"""What large models cost: dated prices, training and serving costs, API versus
self-hosting.

Chapter 10 ("The business of large models") derives and uses each of these:

- :data:`GPU_HOUR_PRICES` and :data:`API_PRICES`: prices in US dollars, each with the
  date it applied from, the date it lapsed where the source says so, and the BibTeX key
  of its source (chapter 10.5); :func:`dated_figures` puts them and
  :data:`MARKET_FIGURES` in one table, the one the chapter prints and the tests check.
- :func:`training_cost`: C = 6·N·D FLOPs, then GPU-hours and dollars (chapter 10.6).
- :func:`prefill_tokens_per_second`, :func:`decode_tokens_per_second`,
  :func:`mixed_tokens_per_second` and :func:`cost_per_million_tokens`: what one replica
  serves, from the roofline of its GPUs, and what a token then costs (chapter 10.7).
- :func:`blended_price`, :func:`api_monthly_cost`, :func:`self_hosting_monthly_cost` and
  :func:`break_even_tokens`: when running a model yourself beats paying per token
  (chapter 10.8); :func:`break_even_gpu_price` is the GPU price above which it never
  does; :func:`sensitivity` varies one input at a time (chapter 10.8).
- :func:`market_figures`: a few market estimates, dated and cited (chapter 10.9).

GPU datasheet figures come from :data:`lmbook.scale.ACCELERATORS`; training FLOPs from
:func:`lmbook.scaling.training_compute`. Prices change month by month: every price here
is a default that a caller can override, and the chapter shows the range.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from lmbook import scale, scaling, validate

HOURS_PER_MONTH = 730.0  # 365 days · 24 hours / 12 months
SECONDS_PER_HOUR = 3600.0


@dataclass(frozen=True)
class GpuPrice:
    """The rental price of one GPU for one hour (chapter 10.5)."""

    gpu: str  # key of lmbook.scale.ACCELERATORS
    usd_per_hour: float
    date: str  # when the price applied, ISO year-month
    source: str  # BibTeX key
    note: str
    until: str | None = None  # when it lapsed, if the source says; None: no end known


@dataclass(frozen=True)
class ApiPrice:
    """A model's API price in dollars per million input and output tokens
    (chapter 10.5).
    """

    model: str
    input_usd_per_million: float
    output_usd_per_million: float
    date: str  # when the price took effect, ISO year-month(-day)
    source: str  # BibTeX key
    note: str
    until: str | None = None  # when it lapsed, if the source says; None: no end known


GPU_HOUR_PRICES = {
    "deepseek-h800": GpuPrice(
        "H100",
        2.00,
        "2024-12",
        "deepseekai2024v3",
        "the rental price of an H800 that DeepSeek-V3's report assumes; the H800 is "
        "the export version of the H100, with the same tensor cores "
        "and a slower interconnect",
    ),
    "aws-h100": GpuPrice(
        "H100",
        4.916,
        "2024-12",
        "aws2024capacityblocks",
        "AWS EC2 Capacity Blocks, p5.48xlarge (8 H100), US East, price per GPU-hour in "
        "force until 1 January 2025",
        "2025-01-01",
    ),
    "aws-h200": GpuPrice(
        "H200",
        5.408,
        "2024-12",
        "aws2024capacityblocks",
        "AWS EC2 Capacity Blocks, 8 H200, US East (Ohio), per GPU-hour",
        "2025-01-01",
    ),
    "aws-a100": GpuPrice(
        "A100",
        1.844,
        "2024-12",
        "aws2024capacityblocks",
        "AWS EC2 Capacity Blocks, p4d.24xlarge (8 A100 40 GB), per GPU-hour",
        "2025-01-01",
    ),
}
"""GPU rental prices with their dates and sources. They differ by provider, by
commitment (on demand, reserved, spot) and by month; treat each as one observation, not
as *the* price."""

DEFAULT_GPU_HOUR_PRICE = GPU_HOUR_PRICES["deepseek-h800"].usd_per_hour

API_PRICES = {
    "gpt-4o-mini": ApiPrice(
        "gpt-4o-mini",
        0.15,
        0.60,
        "2024-07-18",
        "openai2024gpt4omini",
        "OpenAI's small model at its launch price",
    ),
    "gpt-4o": ApiPrice(
        "gpt-4o",
        2.50,
        10.00,
        "2024-08-06",
        "openai2024structured",
        "the gpt-4o-2024-08-06 snapshot",
    ),
    "deepseek-v3": ApiPrice(
        "deepseek-chat (DeepSeek-V3)",
        0.27,
        1.10,
        "2025-02-08",
        "deepseek2025pricing",
        "standard price after the launch discount, input tokens "
        "that miss the context cache",
        "2025-09-05",
    ),
    "deepseek-v3.1": ApiPrice(
        "deepseek-chat (DeepSeek-V3.1)",
        0.56,
        1.68,
        "2025-09-05",
        "deepseek2025pricing",
        "one price at every hour (the night discount ended), input "
        "tokens that miss the cache",
        "2025-09-29",
    ),
    "deepseek-v3.2": ApiPrice(
        "deepseek-chat (DeepSeek-V3.2)",
        0.28,
        0.42,
        "2025-09-29",
        "deepseek2025v32exp",
        "the price cut announced with DeepSeek-V3.2-Exp, input "
        "tokens that miss the cache",
    ),
}
"""Per-token API prices, each with the date it took effect, the date it lapsed where
known, and its source."""

TRAINING_MFU = 0.40
"""Model FLOPs utilisation of a well-run large training job: Llama 3 405B reached
38-43 % in bf16 on 8,192 to 16,384 H100s (Grattafiori et al. 2024, table 4)."""


# Input checks -------------------------------------------------------------------------


def _volumes(name: str, value: object) -> np.ndarray:
    """Token volumes: a number or an array of them, each ≥ 0 (a month without
    traffic is one).
    """
    volume = validate.finite_array(name, value)
    if volume.size == 0 or np.any(volume < 0):
        raise ValueError(f"{name} must be one or more token volumes ≥ 0, got {value!r}")
    return volume


# Training (chapter 10.6) --------------------------------------------------------------


@dataclass(frozen=True)
class TrainingCost:
    """Result of :func:`training_cost`."""

    flops: float
    gpu_hours: float
    usd: float
    gpu: str
    mfu: float
    usd_per_gpu_hour: float

    def days(self, gpus: int) -> float:
        """Wall-clock days on ``gpus`` GPUs, if they all sustain the same
        utilisation.
        """
        return self.gpu_hours / validate.count("gpus", gpus) / 24.0


def training_cost(
    parameters: float,
    tokens: float,
    *,
    gpu: str | scale.Accelerator = "H100",
    mfu: float = TRAINING_MFU,
    usd_per_gpu_hour: float = DEFAULT_GPU_HOUR_PRICE,
) -> TrainingCost:
    """Cost of training N parameters on D tokens (chapter 10.6).

    FLOPs C = 6·N·D (:func:`lmbook.scaling.training_compute`); one GPU delivers
    ``mfu`` × its dense 16-bit peak, so GPU-hours = C / (mfu · peak · 3600), and dollars
    are GPU-hours × ``usd_per_gpu_hour``. For a mixture of experts pass the parameters
    active per token. The result counts one training run only: no failed runs,
    experiments, data or staff.
    """
    device = scale.get_accelerator(gpu)
    price = validate.positive("usd_per_gpu_hour", usd_per_gpu_hour)
    flops = scaling.training_compute(
        validate.positive("parameters", parameters), validate.positive("tokens", tokens)
    )
    seconds = scale.training_time(flops, gpus=1, peak_flops=device.peak_flops, mfu=mfu)
    gpu_hours = seconds / SECONDS_PER_HOUR
    return TrainingCost(
        flops, gpu_hours, gpu_hours * price, device.name, float(mfu), price
    )


def implied_mfu(
    parameters: float,
    tokens: float,
    gpu_hours: float,
    gpu: str | scale.Accelerator = "H100",
) -> float:
    """The utilisation a reported number of GPU-hours implies:
    6·N·D / (GPU-hours · peak).

    The average over the whole run (chapter 10.6), from the tokens per GPU-second, with
    :func:`lmbook.scale.model_flops_utilization`.
    """
    device = scale.get_accelerator(gpu)
    seconds = validate.positive("gpu_hours", gpu_hours) * SECONDS_PER_HOUR
    return scale.model_flops_utilization(
        parameters=validate.positive("parameters", parameters),
        tokens_per_second=validate.positive("tokens", tokens) / seconds,
        gpus=1,
        peak_flops=device.peak_flops,
    )


# Serving (chapter 10.7) ---------------------------------------------------------------


def prefill_tokens_per_second(
    parameters: float,
    *,
    gpu: str | scale.Accelerator = "H100",
    gpus: int = 1,
    mfu: float = 1.0,
) -> float:
    """Prompt tokens one replica reads per second: ``gpus``·mfu·peak / (2·N)
    (chapter 10.7).

    A forward pass costs about 2 FLOPs per parameter per token. The prompt's tokens are
    processed together, as matrix-matrix products, so prefill is limited by arithmetic.
    ``mfu`` = 1 is the datasheet bound; real servers reach a fraction of it. The
    attention scores over the context (about 4·layers·context·width FLOPs per token) are
    left out, which is fair for contexts much shorter than 6·N / (layers · width).
    """
    device = scale.get_accelerator(gpu)
    flops_per_token = 2.0 * validate.positive("parameters", parameters)
    return (
        validate.count("gpus", gpus)
        * scale.check_fraction("mfu", mfu)
        * device.peak_flops
        / flops_per_token
    )


@dataclass(frozen=True)
class DecodeThroughput:
    """Result of :func:`decode_tokens_per_second`: one decoding step of a batch."""

    tokens_per_second: float
    step_seconds: float
    memory_seconds: float  # time to read the weights and the KV cache once
    compute_seconds: float  # time for the step's 2·N FLOPs per sequence
    bytes_per_step: float  # weights plus KV cache, all read once per step

    @property
    def bound(self) -> str:
        """Which roof limits the step: "memory" (bandwidth) or "compute"."""
        return "memory" if self.memory_seconds >= self.compute_seconds else "compute"


def decode_tokens_per_second(
    parameters: float,
    *,
    gpu: str | scale.Accelerator = "H100",
    gpus: int = 1,
    batch_size: int = 1,
    bytes_per_parameter: float = 2.0,
    context_tokens: float = 0.0,
    kv_bytes_per_token: float = 0.0,
    bandwidth_efficiency: float = 1.0,
    mfu: float = 1.0,
) -> DecodeThroughput:
    """Tokens per second one replica generates, from the roofline of its GPUs
    (chapter 10.7).

    Each decoding step produces one token for each of ``batch_size`` sequences. It must
    read every weight once (N · ``bytes_per_parameter`` bytes) and each sequence's KV
    cache (``context_tokens`` · ``kv_bytes_per_token`` bytes per sequence), and do 2·N
    FLOPs per sequence. The step takes the longer of the memory time and the compute
    time; the throughput is batch / step. At small batches the weights dominate the
    bytes, so throughput grows almost in proportion to the batch for free.

    ``gpus`` GPUs split the model (tensor parallelism) and are treated as one device
    with their summed bandwidth, compute and memory: an upper bound that ignores
    communication. Raises if the weights and the KV cache do not fit in the GPUs'
    memory.
    """
    device = scale.get_accelerator(gpu)
    n = validate.positive("parameters", parameters)
    gpus = validate.count("gpus", gpus)
    batch = validate.count("batch_size", batch_size)
    weight_bytes = n * validate.positive("bytes_per_parameter", bytes_per_parameter)
    kv_bytes = (
        batch
        * validate.non_negative("context_tokens", context_tokens)
        * validate.non_negative("kv_bytes_per_token", kv_bytes_per_token)
    )
    needed = weight_bytes + kv_bytes
    available = gpus * device.memory_bytes
    bytes_per_weight = weight_bytes / n
    if (
        scale.min_gpus_inference(
            n, device, bytes_per_weight=bytes_per_weight, extra_bytes=kv_bytes
        )
        > gpus
    ):
        raise ValueError(
            f"the weights ({weight_bytes / 1e9:.1f} GB) and KV cache "
            f"({kv_bytes / 1e9:.1f} GB) need {needed / 1e9:.1f} GB but "
            f"{gpus} × {device.name} hold {available / 1e9:.0f} GB: use more GPUs, "
            "fewer bytes per parameter, a smaller batch or a shorter context"
        )
    bandwidth = (
        gpus
        * device.bandwidth_bytes_s
        * scale.check_fraction("bandwidth_efficiency", bandwidth_efficiency)
    )
    memory_seconds = needed / bandwidth
    compute_seconds = (
        batch * 2.0 * n / (gpus * device.peak_flops * scale.check_fraction("mfu", mfu))
    )
    step = max(memory_seconds, compute_seconds)
    return DecodeThroughput(batch / step, step, memory_seconds, compute_seconds, needed)


def mixed_tokens_per_second(
    prefill_tokens_per_s: float, decode_tokens_per_s: float, input_share: float
) -> float:
    """Tokens per second (input and output together) when a replica serves a
    mix of both.

    If a fraction ``input_share`` of all tokens are prompt tokens, one token costs on
    average input_share / prefill + (1 − input_share) / decode seconds: a weighted
    harmonic mean. It assumes prefill and decoding take turns on the GPU; servers that
    overlap them (chunked prefill) do somewhat better.
    """
    share = validate.probability("input_share", input_share)
    prefill = validate.positive("prefill_tokens_per_s", prefill_tokens_per_s)
    decode = validate.positive("decode_tokens_per_s", decode_tokens_per_s)
    return 1.0 / (share / prefill + (1.0 - share) / decode)


def cost_per_million_tokens(
    tokens_per_second: float,
    usd_per_gpu_hour: float = DEFAULT_GPU_HOUR_PRICE,
    gpus: int = 1,
) -> float:
    """Dollars per million tokens for a replica of ``gpus`` GPUs kept fully
    busy (10.7).
    """
    hourly = validate.positive("usd_per_gpu_hour", usd_per_gpu_hour) * validate.count(
        "gpus", gpus
    )
    rate = validate.positive("tokens_per_second", tokens_per_second)
    return hourly / (rate * SECONDS_PER_HOUR) * 1e6


# API versus self-hosting (chapter 10.8) -----------------------------------------------


def blended_price(
    input_usd_per_million: float, output_usd_per_million: float, input_share: float
):
    """Dollars per million tokens of a mix in which ``input_share`` of the tokens
    are input.
    """
    share = validate.probability("input_share", input_share)
    return share * validate.non_negative(
        "input_usd_per_million", input_usd_per_million
    ) + (1.0 - share) * validate.non_negative(
        "output_usd_per_million", output_usd_per_million
    )


def api_monthly_cost(tokens_per_month, usd_per_million: float):
    """Monthly bill of an API priced per token: volume × price (chapter 10.8). Works
    on arrays.
    """
    volume = _volumes("tokens_per_month", tokens_per_month)
    price = validate.non_negative("usd_per_million", usd_per_million)
    return validate.scalar_or_array(volume / 1e6 * price)


def replica_capacity(tokens_per_second: float, average_load: float = 1.0) -> float:
    """Tokens one replica serves in a month at an average load
    (a fraction of its peak).
    """
    return (
        validate.positive("tokens_per_second", tokens_per_second)
        * scale.check_fraction("average_load", average_load)
        * SECONDS_PER_HOUR
        * HOURS_PER_MONTH
    )


def _replica_month(usd_per_gpu_hour: float, gpus_per_replica: int) -> float:
    """What one replica costs in a month when its GPUs are rented every hour."""
    price = validate.positive("usd_per_gpu_hour", usd_per_gpu_hour)
    return (
        price * validate.count("gpus_per_replica", gpus_per_replica) * HOURS_PER_MONTH
    )


def self_hosting_monthly_cost(
    tokens_per_month,
    *,
    tokens_per_second: float,
    usd_per_gpu_hour: float = DEFAULT_GPU_HOUR_PRICE,
    gpus_per_replica: int = 1,
    average_load: float = 1.0,
    fixed_usd_per_month: float = 0.0,
    min_replicas: int = 1,
):
    """Monthly cost of serving a volume on rented GPUs kept on all month (chapter 10.8).

    A replica (``gpus_per_replica`` GPUs) serves ``tokens_per_second`` at full load;
    traffic comes in bursts, so on average it runs at ``average_load`` of that. The
    volume needs max(min_replicas, ⌈volume / monthly capacity⌉) replicas, each billed
    every hour of the month, plus ``fixed_usd_per_month`` (people, monitoring, storage).
    Works on arrays.
    """
    volume = _volumes("tokens_per_month", tokens_per_month)
    capacity = replica_capacity(tokens_per_second, average_load)
    replica_month = _replica_month(usd_per_gpu_hour, gpus_per_replica)
    replicas = np.maximum(
        validate.count("min_replicas", min_replicas), np.ceil(volume / capacity)
    )
    fixed = validate.non_negative("fixed_usd_per_month", fixed_usd_per_month)
    return validate.scalar_or_array(replicas * replica_month + fixed)


def break_even_tokens(
    api_usd_per_million: float,
    *,
    tokens_per_second: float,
    usd_per_gpu_hour: float = DEFAULT_GPU_HOUR_PRICE,
    gpus_per_replica: int = 1,
    average_load: float = 1.0,
    fixed_usd_per_month: float = 0.0,
    min_replicas: int = 1,
) -> float:
    """The smallest monthly volume at which self-hosting costs no more than the
    API (10.8).

    With p the API price per token, c a replica's monthly cost, K its monthly capacity
    and F the fixed cost, k replicas serve up to k·K tokens for k·c + F. Self-hosting
    pays at volume V = (k·c + F) / p if that V fits on k replicas, V ≤ k·K, that is if
    k·(p·K − c) ≥ F. So the first k is max(min_replicas, ⌈F / (p·K − c)⌉) and the volume
    (k·c + F) / p. If p·K ≤ c, a fully loaded replica costs more per token than the API
    and self-hosting never pays: the result is ``math.inf``. Because replicas come
    whole, slightly larger volumes can favour the API again just after a new replica is
    added.
    """
    price = validate.positive("api_usd_per_million", api_usd_per_million) / 1e6
    capacity = replica_capacity(tokens_per_second, average_load)
    replica_month = _replica_month(usd_per_gpu_hour, gpus_per_replica)
    fixed = validate.non_negative("fixed_usd_per_month", fixed_usd_per_month)
    min_replicas = validate.count("min_replicas", min_replicas)
    # What a full replica saves against the API.
    margin = price * capacity - replica_month
    if margin <= 0:
        return math.inf
    replicas = max(min_replicas, math.ceil(fixed / margin))
    return (replicas * replica_month + fixed) / price


def break_even_gpu_price(
    api_usd_per_million: float,
    *,
    tokens_per_second: float,
    gpus_per_replica: int = 1,
    average_load: float = 1.0,
) -> float:
    """The GPU-hour price above which self-hosting never beats the API (chapter 10.8).

    A replica pays for itself only if the API would charge more for what it serves in a
    month, p·K, than its GPUs cost, c = price · gpus_per_replica · 730 hours: the price
    at which p·K = c. No volume and no fixed cost changes this threshold, so it is the
    first number to compare with a GPU quote; :func:`break_even_tokens` then finds the
    volume.
    """
    price = validate.positive("api_usd_per_million", api_usd_per_million) / 1e6
    capacity = replica_capacity(tokens_per_second, average_load)
    gpus = validate.count("gpus_per_replica", gpus_per_replica)
    return price * capacity / (gpus * HOURS_PER_MONTH)


def sensitivity(
    function: Callable[..., float],
    base: Mapping[str, float],
    ranges: Mapping[str, tuple[float, float]],
):
    """One-at-a-time sensitivity: ``function(**base)`` with each input set to its
    low and high.

    Returns a DataFrame with one row per input (``input``, ``low``, ``high``,
    ``at_low``, ``at_high``, ``swing``), sorted by the swing |at_high − at_low|, largest
    first (ties keep the order of ``ranges``): the order of a tornado chart
    (chapter 10.8). A result may be ``math.inf``, as :func:`break_even_tokens` returns
    when a case never pays.
    """
    import pandas as pd

    unknown = sorted(set(ranges) - set(base))
    if unknown:
        raise ValueError(f"ranges names inputs that base does not have: {unknown}")
    rows = []
    for name, bounds in ranges.items():
        if len(bounds) != 2:
            raise ValueError(f"the range of {name} must be (low, high), got {bounds!r}")
        low, high = bounds
        at = [function(**{**base, name: value}) for value in (low, high)]
        rows.append(
            {
                "input": name,
                "low": low,
                "high": high,
                "at_low": at[0],
                "at_high": at[1],
                "swing": abs(at[1] - at[0]),
            }
        )
    table = pd.DataFrame(rows)
    return table.sort_values("swing", ascending=False, ignore_index=True, kind="stable")


# Market figures (chapter 10.9) --------------------------------------------------------

MARKET_FIGURES = (
    (
        "McKinsey Global Institute",
        "2023-06",
        "value generative AI could add per year, 63 use cases",
        "$2.6–4.4 trillion per year",
        "mckinsey2023economic",
    ),
    (
        "Goldman Sachs (Briggs and Kodnani)",
        "2023-03",
        "rise in the level of world GDP, 10 years after wide adoption",
        "about 7 % (about $7 trillion)",
        "briggs2023potentially",
    ),
    (
        "Acemoglu",
        "2024-05",
        "rise in US total factor productivity over 10 years",
        "at most 0.66 % (0.53 % with hard tasks); GDP 0.93–1.56 % in total",
        "acemoglu2024simple",
    ),
    (
        "AI Index 2024 (with Epoch AI)",
        "2024-04",
        "compute cost of training, cloud rental prices",
        "GPT-4 $78 million; Gemini Ultra $191 million",
        "maslej2024aiindex",
    ),
    (
        "Cottier et al. (Epoch AI)",
        "2024-05",
        "growth of the amortised cost of the largest training runs",
        "2.4× per year since 2016",
        "cottier2024rising",
    ),
    (
        "AI Index 2025",
        "2025-04",
        "price of inference at GPT-3.5 level (MMLU 64.8)",
        "$20 (Nov 2022) to $0.07 (Oct 2024) per million tokens",
        "maslej2025aiindex",
    ),
    (
        "Epoch AI",
        "2025-03",
        "yearly fall of the price for a fixed benchmark score",
        "9× to 900× per year, depending on the task",
        "epoch2025inferenceprices",
    ),
)
"""(who, date, what is estimated, figure, BibTeX key): a few market figures, dated."""


def market_figures():
    """:data:`MARKET_FIGURES` as a DataFrame with columns source, date, estimate,
    figure, key.
    """
    import pandas as pd

    return pd.DataFrame(
        MARKET_FIGURES, columns=["source", "date", "estimate", "figure", "key"]
    )


def dated_figures():
    """Every market figure of chapter 10 in one table: prices and estimates
    (chapter 10.5).

    One row per figure, with columns ``kind``, ``key``, ``what``, ``figure``, ``as_of``
    (the date it applied from or was published), ``until`` (the date it lapsed, empty
    when no end is known) and ``source`` (a BibTeX key of ``book/references.bib``). The
    tests fail when a row lacks a date or a source.
    """
    import pandas as pd

    rows = [
        (
            "GPU-hour price",
            key,
            f"{p.gpu}: {p.note}",
            f"${p.usd_per_hour:g} per GPU-hour",
            p.date,
            p.until or "",
            p.source,
        )
        for key, p in GPU_HOUR_PRICES.items()
    ]
    rows += [
        (
            "API price",
            key,
            p.model,
            f"${p.input_usd_per_million:g} in, ${p.output_usd_per_million:g} "
            "out per M tokens",
            p.date,
            p.until or "",
            p.source,
        )
        for key, p in API_PRICES.items()
    ]
    rows += [
        ("market estimate", key, f"{who}: {what}", figure, date, "", key)
        for who, date, what, figure, key in MARKET_FIGURES
    ]
    columns = ["kind", "key", "what", "figure", "as_of", "until", "source"]
    return pd.DataFrame(rows, columns=columns)
