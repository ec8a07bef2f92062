"""The arithmetic of training and serving at scale: memory, compute, time, GPUs
(chapter 8).

- :data:`ACCELERATORS`: datasheet figures of the GPUs used in the examples.
- :func:`bytes_per_parameter`, :func:`model_state_bytes`: weights, gradients and
  optimizer states per parameter, and per GPU under ZeRO sharding
  (Rajbhandari et al., 2020).
- :func:`activation_bytes`: activations a Transformer keeps for the backward pass
  (Korthikanti et al., 2022), with and without recomputation.
- :func:`training_time`, :func:`model_flops_utilization`: compute, cluster and time.
- :func:`ring_all_reduce_time`: the cost of averaging gradients.
- :func:`min_gpus_training`, :func:`min_gpus_inference`: the smallest cluster that
  holds a model.

Training compute itself, C ≈ 6·N·D, is :func:`lmbook.scaling.training_compute`
(chapter 1).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from lmbook import validate


@dataclass(frozen=True)
class Accelerator:
    """A GPU's datasheet figures (chapter 8.1).

    ``peak_tflops`` is the dense 16-bit tensor-core peak (bf16; fp16 where the GPU has
    no bf16), without the 2:4 sparsity that datasheets often quote at twice the value;
    ``fp32_tflops`` is the plain fp32 peak, for comparison.
    ``memory_gb`` is the datasheet's figure in 10^9 bytes; a little of it goes to the
    CUDA context. ``source`` is the BibTeX key of the datasheet.
    """

    name: str
    year: int
    memory_gb: float
    peak_tflops: float
    fp32_tflops: float
    bandwidth_gb_s: float
    source: str

    @property
    def memory_bytes(self) -> float:
        return self.memory_gb * 1e9

    @property
    def peak_flops(self) -> float:
        return self.peak_tflops * 1e12

    @property
    def bandwidth_bytes_s(self) -> float:
        return self.bandwidth_gb_s * 1e9


ACCELERATORS = {
    "V100": Accelerator(
        "NVIDIA V100 SXM2 32 GB", 2017, 32, 125, 15.7, 900, "nvidia2017v100"
    ),
    "T4": Accelerator("NVIDIA T4", 2018, 16, 65, 8.1, 320, "nvidia2018t4"),
    "A100": Accelerator(
        "NVIDIA A100 SXM 80 GB", 2020, 80, 312, 19.5, 2039, "nvidia2020a100"
    ),
    "H100": Accelerator("NVIDIA H100 SXM", 2022, 80, 989, 67, 3350, "nvidia2022h100"),
    "H200": Accelerator("NVIDIA H200 SXM", 2024, 141, 989, 67, 4800, "nvidia2024h200"),
}

# Bytes of optimizer state per parameter, kept in fp32: Adam keeps two moments.
OPTIMIZER_BYTES = {"adam": 8, "sgd_momentum": 4, "sgd": 0}


def get_accelerator(accelerator: Accelerator | str) -> Accelerator:
    """An :class:`Accelerator` itself, or the one :data:`ACCELERATORS` holds
    under a name.
    """
    if isinstance(accelerator, Accelerator):
        return accelerator
    if isinstance(accelerator, str) and accelerator in ACCELERATORS:
        return ACCELERATORS[accelerator]
    raise ValueError(
        "accelerator must be an Accelerator or one of "
        f"{sorted(ACCELERATORS)}, got {accelerator!r}"
    )


def check_fraction(name: str, value: object) -> float:
    """``value`` as a float in (0, 1]; a clear error otherwise (e.g. 45 for 45%)."""
    number = validate.positive(name, value)
    if number > 1:
        hint = f" (did you mean {number / 100:g}?)" if number <= 100 else ""
        raise ValueError(f"{name} must be a fraction in (0, 1], got {value!r}{hint}")
    return number


def bytes_per_parameter(
    precision: str = "mixed", optimizer: str = "adam"
) -> dict[str, int]:
    """Bytes each parameter costs during training, by what holds them (chapter 8.1).

    ``"mixed"``: 16-bit weights and gradients for the forward and backward passes, an
    fp32 master copy of the weights for the update, fp32 optimizer states
    (Micikevicius et al., 2018). ``"fp32"``: everything in fp32, no master copy.
    """
    validate.choice("optimizer", optimizer, sorted(OPTIMIZER_BYTES))
    validate.choice("precision", precision, ["mixed", "fp32"])
    width, master = (2, 4) if precision == "mixed" else (4, 0)
    return {
        "weights": width,
        "gradients": width,
        "master weights": master,
        "optimizer": OPTIMIZER_BYTES[optimizer],
    }


def _state_split(zero_stage: int, precision: str, optimizer: str) -> tuple[int, int]:
    """Bytes per parameter (kept on every GPU, sharded over the GPUs) under ZeRO."""
    zero_stage = validate.integer("zero_stage", zero_stage, minimum=0, maximum=3)
    per = bytes_per_parameter(precision, optimizer)
    states = per["master weights"] + per["optimizer"]
    sharded = [0, states, states + per["gradients"], sum(per.values())][zero_stage]
    return sum(per.values()) - sharded, sharded


def model_state_bytes(
    parameters,
    *,
    zero_stage: int = 0,
    data_parallel=1,
    precision: str = "mixed",
    optimizer: str = "adam",
):
    """Bytes of weights, gradients and optimizer states on each GPU (chapter 8.1).

    ZeRO stage 1 shards the optimizer states (with the master copy) over the
    ``data_parallel`` GPUs, stage 2 the gradients too, stage 3 (like PyTorch FSDP) the
    weights too. Stage 0 is plain data parallelism: every GPU holds everything.
    Works on arrays of ``parameters`` and ``data_parallel``.
    """
    n = validate.positive_array("parameters", parameters)
    d = validate.positive_array("data_parallel", data_parallel)
    if np.any(d != np.round(d)):
        raise ValueError(
            f"data_parallel must be whole numbers of GPUs, got {data_parallel!r}"
        )
    replicated, sharded = _state_split(zero_stage, precision, optimizer)
    return validate.scalar_or_array(n * replicated + n * sharded / d)


def activation_bytes(
    *,
    seq_len: int,
    batch_size: int,
    hidden: int,
    heads: int,
    layers: int,
    bytes_per_value: int = 2,
    dropout_mask_bytes: int = 1,
    recompute: str = "none",
) -> int:
    """Bytes of activations a GPT-style Transformer keeps for its backward pass
    (chapter 8.7).

    Per layer, with s = seq_len, b = batch_size, h = hidden, a = heads, 16-bit values
    and 1-byte dropout masks this is s·b·h·(34 + 5·a·s/h), eq. (1) of Korthikanti
    et al. (2022). ``dropout_mask_bytes = 0`` means no dropout. ``recompute``:
    ``"none"``; ``"selective"`` recomputes the attention scores (drops the a·s² terms);
    ``"full"`` keeps only each layer's input and recomputes the rest. Embeddings and the
    output layer are not counted.
    """
    s, b = validate.count("seq_len", seq_len), validate.count("batch_size", batch_size)
    h, a = validate.count("hidden", hidden), validate.count("heads", heads)
    n_layers = validate.count("layers", layers)
    value = validate.count("bytes_per_value", bytes_per_value)
    mask = validate.integer("dropout_mask_bytes", dropout_mask_bytes, minimum=0)
    if mask not in (0, 1, 2, 4):
        raise ValueError(
            f"dropout_mask_bytes must be 0 (no dropout), 1, 2 or 4, got {mask}"
        )
    validate.choice("recompute", recompute, ["none", "selective", "full"])
    # Kept per token: 2 LayerNorm inputs (h each), the QKV input (h), Q, K, V (3h), the
    # output-projection input (h), the MLP input (h), the GELU input and output
    # (4h each), plus a dropout mask after attention and after the MLP.
    per_token = s * b * h * (16 * value + 2 * mask)
    # Per head and pair of positions: the softmax output, and with dropout its mask and
    # the dropped-out copy that multiplies V.
    per_score = a * s * s * b * (2 * value + mask if mask else value)
    per_layer = {
        "none": per_token + per_score,
        "selective": per_token,
        "full": s * b * h * value,
    }
    return n_layers * per_layer[recompute]


def training_time(flops, *, gpus, peak_flops, mfu):
    """Seconds to do ``flops`` of training on ``gpus`` GPUs that reach ``mfu`` of
    their peak.

    MFU, model FLOPs utilisation (Chowdhery et al., 2022), is the share of the peak
    spent on the model's own FLOPs (6·N per token); 0.3–0.5 is typical of large runs.
    Works on arrays.
    """
    c = validate.positive_array("flops", flops)
    g = validate.positive_array("gpus", gpus)
    peak = validate.positive_array("peak_flops", peak_flops)
    return validate.scalar_or_array(c / (g * peak * check_fraction("mfu", mfu)))


def model_flops_utilization(*, parameters, tokens_per_second, gpus, peak_flops):
    """MFU from a measured throughput: 6·N·(tokens per second) / (GPUs · peak)
    (chapter 8.2).
    """
    n = validate.positive_array("parameters", parameters)
    rate = validate.positive_array("tokens_per_second", tokens_per_second)
    g = validate.positive_array("gpus", gpus)
    peak = validate.positive_array("peak_flops", peak_flops)
    mfu = 6.0 * n * rate / (g * peak)
    if np.any(mfu > 1):
        raise ValueError(
            f"that throughput needs {float(np.max(mfu)):.2f}× the peak: check the "
            "units (tokens per second for the whole cluster, FLOP/s per GPU)"
        )
    return validate.scalar_or_array(mfu)


def ring_all_reduce_time(nbytes, *, gpus, bandwidth):
    """Seconds for a ring all-reduce of ``nbytes`` over ``gpus`` GPUs (chapter 8.3).

    Each GPU sends (and receives) 2·(p − 1)/p of the buffer: p − 1 steps of
    reduce-scatter and p − 1 of all-gather, each moving 1/p of it. ``bandwidth`` is
    each GPU's link in bytes per second; latency is ignored.
    """
    size = validate.positive_array("nbytes", nbytes)
    p = validate.positive_array("gpus", gpus)
    if np.any(p != np.round(p)):
        raise ValueError(f"gpus must be whole numbers, got {gpus!r}")
    link = validate.positive_array("bandwidth", bandwidth)
    return validate.scalar_or_array(2.0 * (p - 1) / p * size / link)


def min_gpus_training(
    parameters: float,
    accelerator: Accelerator | str,
    *,
    zero_stage: int = 3,
    activation_bytes_per_gpu: float = 0.0,
    precision: str = "mixed",
    optimizer: str = "adam",
) -> int:
    """The fewest GPUs whose memory holds the model states for training (chapter 8.1).

    A lower bound: it adds ``activation_bytes_per_gpu`` but no framework overhead or
    fragmentation. Raises if no number of GPUs suffices (e.g. without sharding).
    """
    gpu = get_accelerator(accelerator)
    n = validate.positive("parameters", parameters)
    room = gpu.memory_bytes - validate.non_negative(
        "activation_bytes_per_gpu", activation_bytes_per_gpu
    )
    if room <= 0:
        raise ValueError(
            f"activation_bytes_per_gpu = {activation_bytes_per_gpu:.3g} leaves no room "
            f"in the {gpu.memory_gb:g} GB of a {gpu.name}"
        )
    replicated, sharded = (
        n * k for k in _state_split(zero_stage, precision, optimizer)
    )
    if replicated >= room:
        raise ValueError(
            f"the {replicated / 1e9:.0f} GB that ZeRO stage {zero_stage} keeps on "
            f"every GPU do not fit in {room / 1e9:.0f} GB; shard more "
            "(a higher zero_stage) or add tensor or pipeline parallelism"
        )
    return max(1, math.ceil(sharded / (room - replicated) - 1e-9))


def min_gpus_inference(
    parameters: float,
    accelerator: Accelerator | str,
    *,
    bytes_per_weight: float = 2.0,
    extra_bytes: float = 0.0,
) -> int:
    """The fewest GPUs whose memory holds the weights and ``extra_bytes`` (chapter 8.1).

    ``extra_bytes`` is what else must fit, e.g. a key/value cache (chapter 9).
    """
    gpu = get_accelerator(accelerator)
    n = validate.positive("parameters", parameters)
    width = validate.positive("bytes_per_weight", bytes_per_weight)
    extra = validate.non_negative("extra_bytes", extra_bytes)
    return math.ceil((n * width + extra) / gpu.memory_bytes - 1e-9)
