"""Efficient deployment: bytes, quantization, pruning, distillation and the KV cache
(chapter 9).

Each technique is written from scratch in a few lines (NumPy for quantization, plain
PyTorch for the rest) and checked in the tests and in the notebook against PyTorch's
own: ``torch.fake_quantize_per_*``, ``torch.ao.quantization.quantize_dynamic``,
``torch.nn.utils.prune`` and the key/value cache of ``transformers``. Training-side
memory (gradients, optimizer states) is chapter 8's subject, in :mod:`lmbook.scale`;
this module counts what inference needs: the weights and the cache.
"""

from __future__ import annotations

import copy
import math
import os
import tempfile
import time
import warnings
from collections.abc import Callable, Mapping

import numpy as np
import torch
from torch.nn import functional as F

from lmbook import train, validate

# Storage per parameter (chapter 9.1). int4 packs two values into a byte; the
# scales and zero points that quantized formats also store are not counted here.
BYTES_PER_PARAMETER = {"fp32": 4.0, "fp16": 2.0, "bf16": 2.0, "int8": 1.0, "int4": 0.5}


def weight_bytes(parameters: float, dtype: str = "fp32") -> float:
    """The bytes that ``parameters`` weights take when stored as ``dtype``
    (chapter 9.1).
    """
    validate.choice("dtype", dtype, BYTES_PER_PARAMETER)
    return validate.positive("parameters", parameters) * BYTES_PER_PARAMETER[dtype]


# Quantization (chapter 9.2) --------------------------------------------------


def check_bits(bits: object) -> int:
    """``bits`` as an int from 2 to 16 (chapter 9.2).

    A TypeError if it is not an integer (``8.0``, ``"8"``), a ValueError outside 2..16:
    1 bit cannot hold a zero point and a sign; above 16, floating point is the choice.
    """
    return validate.integer("bits", bits, minimum=2, maximum=16)


def integer_range(bits: int, signed: bool) -> tuple[int, int]:
    """The smallest and largest integer of a ``bits``-bit type: [-2^(b-1), 2^(b-1) - 1]
    or [0, 2^b - 1] (chapter 9.2)."""
    bits = check_bits(bits)
    validate.flag("signed", signed)
    return (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2**bits - 1)


def affine_qparams(
    x_min, x_max, bits: int = 8, *, signed: bool = False, symmetric: bool = False
):
    """The scale and zero point that map [x_min, x_max] onto ``bits``-bit integers
    (chapter 9.2).

    As PyTorch's min/max observers do: the range is first widened to contain 0, so
    that zero is exactly representable; then ``scale = (max - min) / (q_max - q_min)``
    and ``zero_point = q_min - round(min / scale)``. ``symmetric`` uses
    ``scale = max(|min|, max) / ((q_max - q_min) / 2)`` and puts the zero point in the
    middle (0 for signed types). Arrays of minima and maxima give per-channel
    parameters. Returns ``(scale, zero_point)`` as float32 and int64 arrays (0-d for
    one range).
    """
    q_min, q_max = integer_range(bits, signed)
    validate.flag("symmetric", symmetric)
    x_min, x_max = (
        validate.finite_array("x_min", x_min),
        validate.finite_array("x_max", x_max),
    )
    if x_min.shape != x_max.shape:
        raise ValueError(
            "x_min and x_max must have the same shape, got "
            f"{x_min.shape} and {x_max.shape}"
        )
    if np.any(x_min > x_max):
        raise ValueError("x_min must not exceed x_max")
    low = np.minimum(x_min.astype(np.float32), 0)
    high = np.maximum(x_max.astype(np.float32), 0)
    eps = np.finfo(np.float32).eps
    if symmetric:
        scale = np.maximum(
            np.maximum(-low, high) / np.float32((q_max - q_min) / 2), eps
        )
        zero_point = np.full(scale.shape, 0 if signed else (q_min + q_max + 1) // 2)
    else:
        scale = np.maximum((high - low) / np.float32(q_max - q_min), eps)
        zero_point = np.clip(q_min - np.round(low / scale), q_min, q_max)
    return scale.astype(np.float32), zero_point.astype(np.int64)


def _broadcast(values, x: np.ndarray, axis: int | None) -> np.ndarray:
    """Per-channel parameters reshaped to broadcast along ``axis`` of ``x``."""
    values = np.asarray(values)
    if axis is None:
        if values.ndim:
            raise ValueError(
                "per-tensor quantization takes one scale and one zero point"
            )
        return values
    if values.shape != (x.shape[axis],):
        raise ValueError(
            f"per-channel parameters along axis {axis} need {x.shape[axis]} values, "
            f"got shape {values.shape}"
        )
    shape = [1] * x.ndim
    shape[axis] = -1
    return values.reshape(shape)


def quantize(x, scale, zero_point, bits: int = 8, *, signed: bool = False, axis=None):
    """The integers ``clip(round(x / scale) + zero_point, q_min, q_max)`` (chapter 9.2).

    Rounds half to even, as PyTorch does; with ``axis``, ``scale`` and ``zero_point``
    hold one value per slice along that axis (per-channel quantization).
    """
    q_min, q_max = integer_range(bits, signed)
    x = np.asarray(x, dtype=np.float32)
    scale, zero_point = _broadcast(scale, x, axis), _broadcast(zero_point, x, axis)
    if np.any(scale <= 0):
        raise ValueError("scale must be positive")
    # x * (1 / scale) in float32, exactly as PyTorch's kernels compute it
    q = np.round(x * (np.float32(1) / scale.astype(np.float32))) + zero_point
    return np.clip(q, q_min, q_max).astype(np.int64)


def dequantize(q, scale, zero_point, *, axis=None):
    """The real numbers ``(q - zero_point) * scale`` that integers ``q`` stand for
    (chapter 9.2).
    """
    q = np.asarray(q)
    if not np.issubdtype(q.dtype, np.integer):
        raise TypeError(f"q must hold integers, got {q.dtype}")
    scale, zero_point = _broadcast(scale, q, axis), _broadcast(zero_point, q, axis)
    return ((q - zero_point) * scale).astype(np.float32)


def fake_quantize(
    x, bits: int = 8, *, axis=None, signed: bool = False, symmetric: bool = False
):
    """Quantize ``x`` with its own min/max range, then dequantize (chapter 9.2).

    Per tensor when ``axis`` is None; per channel (one scale and zero point for each
    slice along ``axis``) otherwise. Returns ``(x_hat, scale, zero_point)``; the
    error ``x_hat - x`` is at most ``scale / 2`` in every element.
    """
    x = np.asarray(x, dtype=np.float32)
    if x.size == 0:
        raise ValueError("x is empty; nothing to quantize")
    if axis is None:
        low, high = x.min(), x.max()
    else:
        axis = (
            validate.integer("axis", axis, minimum=-x.ndim, maximum=x.ndim - 1) % x.ndim
        )
        others = tuple(a for a in range(x.ndim) if a != axis)
        low, high = x.min(axis=others), x.max(axis=others)
    scale, zero_point = affine_qparams(
        low, high, bits, signed=signed, symmetric=symmetric
    )
    q = quantize(x, scale, zero_point, bits, signed=signed, axis=axis)
    return dequantize(q, scale, zero_point, axis=axis), scale, zero_point


def dynamic_quantized_linear(x, weight, bias=None, *, per_channel: bool = False):
    """A linear layer as dynamic int8 quantization computes it, in NumPy (chapter 9.3).

    The weights are quantized once, symmetric int8 (per tensor or per output row);
    each input batch is quantized on the fly with its own min/max range to unsigned
    integers. On x86 PyTorch uses 7 of the 8 bits for the inputs (``reduce_range``),
    so that the sums of products that the integer instructions form in 16 bits
    cannot overflow. The integer matrix product is exact; one multiplication by the
    two scales returns to real numbers.
    """
    validate.flag("per_channel", per_channel)
    x = np.asarray(x, dtype=np.float32)
    weight = np.asarray(weight, dtype=np.float32)
    if x.ndim != 2 or weight.ndim != 2 or x.shape[1] != weight.shape[1]:
        raise ValueError(
            "expected x (batch, in) and weight (out, in), got "
            f"{x.shape} and {weight.shape}"
        )
    x_scale, x_zero = affine_qparams(x.min(), x.max(), 7)  # reduce_range: 0..127
    # The kernels add the zero point *before* rounding, in one fused multiply-add: exact
    # in float64, then one rounding to float32. (quantize() rounds first, as
    # fake_quantize does; the two differ only for a value within float32 precision of a
    # .5 boundary.)
    fused = (x.astype(np.float64) * (np.float32(1) / x_scale) + x_zero).astype(
        np.float32
    )
    x_q = np.clip(np.rint(fused), 0, 127).astype(np.int64)
    axis = 0 if per_channel else None
    w_range = np.abs(weight).max(axis=1) if per_channel else np.abs(weight).max()
    w_scale, w_zero = affine_qparams(-w_range, w_range, 8, signed=True, symmetric=True)
    w_q = quantize(weight, w_scale, w_zero, 8, signed=True, axis=axis)
    accumulated = (
        x_q - x_zero
    ) @ w_q.T  # exact integer arithmetic (int32 in the kernels)
    # Per-channel scales broadcast over the columns.
    y = accumulated * (x_scale * w_scale)
    return (y if bias is None else y + np.asarray(bias, dtype=np.float32)).astype(
        np.float32
    )


def quantize_dynamic_int8(model: torch.nn.Module, *, per_channel: bool = False):
    """A copy of ``model`` whose ``nn.Linear`` layers run in int8 (chapter 9.3).

    A thin wrapper over ``torch.ao.quantization.quantize_dynamic``. PyTorch 2.13
    marks that namespace as deprecated in favour of the separate ``torchao`` package,
    but it still works on CPUs; the deprecation warnings are silenced here and the
    notebook says so. Needs a CPU quantization engine (x86/fbgemm, or qnnpack on ARM).
    """
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    validate.flag("per_channel", per_channel)
    if torch.backends.quantized.engine == "none":
        raise RuntimeError(
            "this PyTorch build has no quantized CPU engine; supported engines: "
            f"{torch.backends.quantized.supported_engines}"
        )
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*deprecated.*")
        from torch.ao.quantization import (
            default_dynamic_qconfig,
            per_channel_dynamic_qconfig,
            quantize_dynamic,
        )

        qconfig = (
            per_channel_dynamic_qconfig if per_channel else default_dynamic_qconfig
        )
        return quantize_dynamic(
            copy.deepcopy(model), {torch.nn.Linear: qconfig}, dtype=torch.qint8
        ).eval()


def saved_bytes(model: torch.nn.Module) -> int:
    """The size of the file that ``torch.save(model.state_dict())`` writes
    (chapter 9.3).
    """
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "weights.pt")
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*deprecated.*")
            torch.save(model.state_dict(), path)
        return os.path.getsize(path)


def best_time(
    function: Callable,
    *args,
    repeat: int = 5,
    clock: Callable[[], float] = time.process_time,
) -> float:
    """The shortest of ``repeat`` timings of ``function(*args)``, in seconds
    (chapter 9.3).

    The default clock is the CPU time of this process, which does not count the moments
    when other programs hold the processor (with several threads it adds up their
    times); pass ``time.perf_counter`` for wall-clock time. The minimum over repeats is
    the timing least disturbed by other work on the machine.
    """
    if not callable(function) or not callable(clock):
        raise TypeError("function and clock must be callable")
    validate.count("repeat", repeat)
    times = []
    for _ in range(repeat):
        start = clock()
        function(*args)
        times.append(clock() - start)
    return min(times)


def best_times(
    calls: Mapping[str, Callable[[], object]],
    *,
    repeat: int = 15,
    clock: Callable[[], float] = time.process_time,
) -> dict[str, float]:
    """The shortest of ``repeat`` timings of each call, in seconds, measured in turns
    (chapter 9.4).

    One round times every call once, and ``repeat`` rounds follow each other, so a slow
    spell on a shared machine hits all the calls alike instead of one of them.
    """
    if (
        not isinstance(calls, Mapping)
        or not calls
        or not all(map(callable, calls.values()))
    ):
        raise TypeError(
            "calls must be a non-empty dict of name -> function of no arguments"
        )
    validate.count("repeat", repeat)
    best = dict.fromkeys(calls, math.inf)
    for _ in range(repeat):
        for name, call in calls.items():
            best[name] = min(best[name], best_time(call, repeat=1, clock=clock))
    return best


# Pruning (chapter 9.4) -------------------------------------------------------


def check_sparsity(sparsity: object) -> float:
    """``sparsity``, the share of weights set to zero, as a float in [0, 1)
    (chapter 9.4).

    A TypeError if it is not a number, a ValueError outside [0, 1): a sparsity of 1
    would remove every weight.
    """
    return validate.probability("sparsity", sparsity, one=False)


def _check_weight(weight: object, ndim: int | None = None) -> torch.Tensor:
    if not isinstance(weight, torch.Tensor) or not weight.is_floating_point():
        raise TypeError("weight must be a floating-point torch.Tensor")
    if weight.numel() == 0 or (ndim is not None and weight.ndim < ndim):
        raise ValueError(
            f"weight must be a non-empty tensor, got shape {tuple(weight.shape)}"
        )
    return weight


def magnitude_mask(weight: torch.Tensor, sparsity: float) -> torch.Tensor:
    """Unstructured magnitude pruning: 0 for the ``round(sparsity · n)`` smallest
    |w|, else 1.

    The mask ``torch.nn.utils.prune.l1_unstructured`` computes (chapter 9.4).
    """
    weight = _check_weight(weight)
    count = round(check_sparsity(sparsity) * weight.numel())
    mask = torch.ones_like(weight)
    if count:
        mask.view(-1)[
            torch.topk(weight.abs().flatten(), count, largest=False).indices
        ] = 0
    return mask


def structured_mask(weight: torch.Tensor, sparsity: float) -> torch.Tensor:
    """Structured pruning: 0 for whole rows, the ``round(sparsity · rows)`` of
    smallest L2 norm.

    A row of an ``nn.Linear`` weight is one output unit; the mask is the one
    ``torch.nn.utils.prune.ln_structured(n=2, dim=0)`` computes (chapter 9.4).
    """
    weight = _check_weight(weight, ndim=2)
    count = round(check_sparsity(sparsity) * weight.shape[0])
    norms = weight.flatten(1).norm(dim=1)
    keep = torch.topk(norms, weight.shape[0] - count).indices
    mask = torch.zeros_like(weight)
    mask[keep] = 1
    return mask


def zero_share(tensors) -> float:
    """The share of exact zeros in a tensor, or in all the parameters of a module
    (chapter 9.4).
    """
    if isinstance(tensors, torch.nn.Module):
        tensors = list(tensors.parameters())
    elif isinstance(tensors, torch.Tensor):
        tensors = [tensors]
    total = sum(t.numel() for t in tensors)
    if not total:
        raise ValueError("no values to count")
    return sum(int((t == 0).sum()) for t in tensors) / total


def remove_hidden_units(first: torch.nn.Linear, second: torch.nn.Linear, keep) -> tuple:
    """Two smaller linear layers without the hidden units not in ``keep`` (chapter 9.4).

    ``first`` computes the hidden units (its rows) and ``second`` reads them (its
    columns); the units dropped are gone from both, so the matrices shrink and the
    network computes the same function as with those units' rows set to zero.
    """
    if not (isinstance(first, torch.nn.Linear) and isinstance(second, torch.nn.Linear)):
        raise TypeError("first and second must be torch.nn.Linear layers")
    if first.out_features != second.in_features:
        raise ValueError(
            f"first has {first.out_features} outputs but second "
            f"reads {second.in_features}"
        )
    keep = torch.as_tensor(keep, dtype=torch.long).flatten()
    if keep.numel() == 0 or keep.min() < 0 or keep.max() >= first.out_features:
        raise ValueError(f"keep must list hidden units in 0..{first.out_features - 1}")
    small_first = torch.nn.Linear(
        first.in_features, len(keep), bias=first.bias is not None
    )
    small_second = torch.nn.Linear(
        len(keep), second.out_features, bias=second.bias is not None
    )
    with torch.no_grad():
        small_first.weight.copy_(first.weight[keep])
        small_second.weight.copy_(second.weight[:, keep])
        if first.bias is not None:
            small_first.bias.copy_(first.bias[keep])
        if second.bias is not None:
            small_second.bias.copy_(second.bias)
    return small_first, small_second


# Distillation (chapter 9.5) ---------------------------------------------------


def distillation_loss(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    labels: torch.Tensor,
    *,
    temperature: float = 4.0,
    alpha: float = 0.9,
) -> torch.Tensor:
    """Hinton et al.'s loss:
    α·T²·KL(teacher_T ‖ student_T) + (1 - α)·CE(student, labels).

    ``teacher_T`` and ``student_T`` are the softmaxes of the logits divided by the
    temperature T. The soft term's gradient shrinks like 1/T², so it is multiplied
    by T² to keep its weight when T changes (chapter 9.5).
    """
    temperature = validate.positive("temperature", temperature)
    alpha = validate.probability("alpha", alpha)
    if student_logits.ndim != 2 or student_logits.shape != teacher_logits.shape:
        raise ValueError(
            "student_logits and teacher_logits must both be (batch, classes), got "
            f"{tuple(student_logits.shape)} and {tuple(teacher_logits.shape)}"
        )
    soft = F.kl_div(
        F.log_softmax(student_logits / temperature, dim=1),
        F.log_softmax(teacher_logits / temperature, dim=1),
        reduction="batchmean",
        log_target=True,
    )
    hard = (
        F.cross_entropy(student_logits, labels)
        if alpha < 1
        else student_logits.new_zeros(())
    )
    return alpha * temperature**2 * soft + (1 - alpha) * hard


def train_classifier(
    model: torch.nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    epochs: int,
    lr: float = 1e-3,
    batch_size: int = 100,
    seed: int = 0,
    teacher_logits: torch.Tensor | None = None,
    temperature: float = 4.0,
    alpha: float = 0.9,
) -> torch.nn.Module:
    """Train ``model`` with Adam on (x, y), from hard labels or a teacher's logits
    (chapter 9.5).

    Without ``teacher_logits`` the loss is cross-entropy; with them (one row per
    example of ``x``), :func:`distillation_loss`. The loop is
    :func:`lmbook.train.fit`'s, over :class:`lmbook.train.Batches` seeded with ``seed``;
    the weights' initialisation is the caller's (seed PyTorch before building the
    model). Returns the model in eval mode.
    """
    if x.ndim < 2 or y.ndim != 1 or len(x) != len(y) or len(x) == 0:
        raise ValueError(
            f"x (n, ...) and y (n,) must be non-empty with the same n, got "
            f"{tuple(x.shape)} and {tuple(y.shape)}"
        )
    if teacher_logits is not None and len(teacher_logits) != len(x):
        raise ValueError(
            f"teacher_logits has {len(teacher_logits)} rows for {len(x)} examples"
        )
    optimizer = torch.optim.Adam(model.parameters(), lr=validate.positive("lr", lr))
    if teacher_logits is None:
        batches, loss_fn = train.Batches(x, y, batch_size, seed=seed), None
    else:
        batches = train.Batches(x, (y, teacher_logits), batch_size, seed=seed)

        def loss_fn(logits, labels, teacher):
            return distillation_loss(
                logits, teacher, labels, temperature=temperature, alpha=alpha
            )

    train.fit(model, batches, optimizer, epochs=epochs, loss_fn=loss_fn, progress=False)
    return model.eval()


# Serving: the key/value cache (chapter 9.6) -----------------------------------


def kv_cache_bytes(
    *,
    layers: int,
    kv_heads: int,
    head_dim: int,
    tokens: int,
    batch: int = 1,
    bytes_per_value: float = 2,
) -> float:
    """2 · layers · kv_heads · head_dim · tokens · batch · bytes: the key/value cache
    (chapter 9.6).

    The 2 counts keys and values. With grouped-query attention ``kv_heads`` is the
    number of key/value heads, fewer than the query heads.
    """
    sizes = [
        validate.count(name, value)
        for name, value in [
            ("layers", layers),
            ("kv_heads", kv_heads),
            ("head_dim", head_dim),
            ("tokens", tokens),
            ("batch", batch),
        ]
    ]
    return 2 * math.prod(sizes) * validate.positive("bytes_per_value", bytes_per_value)


def cache_tensors(past_key_values) -> list[torch.Tensor]:
    """The key and value tensors of a ``transformers`` cache, layer by layer
    (chapter 9.6).

    Each has shape (batch, kv_heads, tokens, head_dim). Reads the cache classes of
    recent ``transformers`` (``.layers``), older ones (``.key_cache``, ``.value_cache``)
    and the legacy tuple of (key, value) pairs.
    """
    if getattr(past_key_values, "layers", None) is not None:
        pairs = [(layer.keys, layer.values) for layer in past_key_values.layers]
    elif hasattr(past_key_values, "key_cache"):
        pairs = list(
            zip(past_key_values.key_cache, past_key_values.value_cache, strict=True)
        )
    elif isinstance(past_key_values, list | tuple):
        pairs = list(past_key_values)
    else:
        raise TypeError(
            "past_key_values must be a transformers Cache or a tuple of (key, value) "
            f"pairs, got {type(past_key_values).__name__}"
        )
    tensors = [t for pair in pairs for t in pair]
    if not tensors or not all(isinstance(t, torch.Tensor) for t in tensors):
        raise ValueError(
            "the cache holds no tensors yet; run a forward pass with use_cache=True"
        )
    return tensors


def cache_tensor_bytes(past_key_values) -> int:
    """The bytes held by the key and value tensors of a ``transformers`` cache
    (chapter 9.6).
    """
    return sum(t.numel() * t.element_size() for t in cache_tensors(past_key_values))
