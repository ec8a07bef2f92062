"""Attention in NumPy and in PyTorch: scaled dot-product, multi-head, masks, positions
(chapter 5).

Chapter 5 ("Attention and Transformers") derives each formula here and checks
each function against ``torch.nn.functional.scaled_dot_product_attention``,
``torch.nn.MultiheadAttention`` and ``keras.layers.MultiHeadAttention``.

Shapes follow PyTorch's batch-first conventions:

- queries ``q`` are ``(..., n_q, d_k)``, keys ``k`` ``(..., n_k, d_k)``, values
  ``v`` ``(..., n_k, d_v)``; the leading axes (batch, heads) must match;
- the attention scores and weights are ``(..., n_q, n_k)``: row i says how
  much query i takes from each key;
- multi-head attention takes ``(batch, n, embed_dim)`` and weights in the layout
  of ``torch.nn.MultiheadAttention``: ``in_proj_weight`` (3E, E) stacks W_q, W_k,
  W_v; ``in_proj_bias`` (3E,); ``out_proj_weight`` (E, E); ``out_proj_bias`` (E,).

**Mask convention** (the one of ``F.scaled_dot_product_attention`` and Keras):

- a *boolean* mask says who takes part: True = "this query may attend to this
  key", False = "masked out";
- a *float* mask is *added* to the scores QKᵀ/√d_k before the softmax: 0 keeps
  a key, ``-inf`` removes it, a finite value nudges it.

``torch.nn.MultiheadAttention`` reads booleans the other way round (True = masked
out) for both ``attn_mask`` and ``key_padding_mask``: give it ``~mask``.

**Fully masked rows.** A query whose keys are all masked out gets weights 0 and
output 0 (before the output projection), as ``F.scaled_dot_product_attention``
gives in recent PyTorch (the tests check it); ``torch.nn.MultiheadAttention``
returns NaN there. A large finite negative value (say -1e9) is not a mask of
the whole row: the softmax is shift-invariant, so such a row stays a distribution.

The NumPy functions need only NumPy; the ``*_torch`` functions import PyTorch
when called and are written with plain tensor operations, so that autograd
differentiates them and they run on a GPU.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

from lmbook import validate
from lmbook.nn import softmax

# For the annotations only: torch is imported by the functions that use it.
if TYPE_CHECKING:
    import torch

PARAM_NAMES = ("in_proj_weight", "in_proj_bias", "out_proj_weight", "out_proj_bias")
FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))

# Checks --------------------------------------------------------------------


def _check_options(
    causal: object, scale: object, return_weights: object, d_k: int
) -> tuple:
    """Validated (causal, scale, return_weights); ``scale`` defaults to 1/√d_k."""
    causal = validate.flag("causal", causal)
    return_weights = validate.flag("return_weights", return_weights)
    scale = 1.0 / math.sqrt(d_k) if scale is None else validate.positive("scale", scale)
    return causal, scale, return_weights


def _check_same_dtype(names: str, *xs) -> None:
    if len({x.dtype for x in xs}) > 1:
        raise TypeError(
            f"{names} must share one dtype, got {', '.join(str(x.dtype) for x in xs)}"
        )


def _numpy_input(name: str, value: object) -> np.ndarray:
    """A float32 or float64 NumPy array; a torch tensor is sent to the
    ``*_torch`` function.
    """
    if hasattr(value, "detach"):
        raise TypeError(
            f"{name} must be a NumPy array, got {type(value).__name__} "
            "(for a torch tensor use the *_torch function)"
        )
    return validate.float_array(name, value)


def _check_qkv_shapes(q, k, v) -> tuple:
    """Check the shapes of q, k, v (arrays or tensors); return the scores' shape."""
    for name, x in (("q", q), ("k", k), ("v", v)):
        if x.ndim < 2:
            raise ValueError(
                f"{name} must have at least 2 dimensions (..., n, d), "
                f"got shape {tuple(x.shape)}"
            )
        if 0 in tuple(x.shape):
            raise ValueError(f"{name} has an empty dimension: shape {tuple(x.shape)}")
    if not q.ndim == k.ndim == v.ndim:
        raise ValueError(
            f"q, k and v must have the same number of dimensions, got shapes "
            f"{tuple(q.shape)}, {tuple(k.shape)} and {tuple(v.shape)}"
        )
    if not tuple(q.shape[:-2]) == tuple(k.shape[:-2]) == tuple(v.shape[:-2]):
        raise ValueError(
            f"q, k and v must share their leading (batch, heads) axes, got "
            f"{tuple(q.shape[:-2])}, {tuple(k.shape[:-2])} and {tuple(v.shape[:-2])}"
        )
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(
            f"q and k must have the same feature size d_k (last axis) to form QKᵀ, "
            f"got q {tuple(q.shape)} and k {tuple(k.shape)}"
        )
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(
            f"k and v must have the same number of positions n_k (axis -2), "
            f"got k {tuple(k.shape)} and v {tuple(v.shape)}"
        )
    return (*tuple(q.shape[:-1]), int(k.shape[-2]))


def _check_mask_shape(
    mask_shape: tuple, scores_shape: tuple, name: str = "mask"
) -> None:
    ok = len(mask_shape) <= len(scores_shape)
    if ok:
        try:
            ok = np.broadcast_shapes(mask_shape, scores_shape) == scores_shape
        except ValueError:
            ok = False
    if not ok:
        raise ValueError(
            f"{name} has shape {mask_shape}, which does not broadcast to the attention "
            f"scores' shape (..., n_q, n_k) = {scores_shape}"
        )


def _check_mask_values(mask: object, name: str = "mask") -> np.ndarray | None:
    """Type, dtype and values of a NumPy mask (its shape is checked by the caller)."""
    if mask is None:
        return None
    if not isinstance(mask, np.ndarray):
        raise TypeError(
            f"{name} must be a NumPy array or None, got {type(mask).__name__}"
        )
    if mask.dtype != np.bool_ and not np.issubdtype(mask.dtype, np.floating):
        raise TypeError(
            f"{name} must be boolean (True = attend) or float (added to the scores), "
            f"got dtype {mask.dtype}"
        )
    if mask.dtype != np.bool_ and (np.isnan(mask).any() or np.isposinf(mask).any()):
        raise ValueError(
            f"a float {name} is added to the scores: use finite values or -inf"
        )
    return mask


# Masks ---------------------------------------------------------------------


def causal_mask(n_queries: int, n_keys: int | None = None) -> np.ndarray:
    """Boolean (n_queries, n_keys) mask, True on and below the diagonal (chapter 5).

    Query i may attend to keys 0..i, never to the future. With ``n_keys`` larger
    than ``n_queries`` the diagonal starts at the top left, as ``is_causal=True``
    in ``F.scaled_dot_product_attention``.
    """
    n_queries = validate.count("n_queries", n_queries)
    n_keys = n_queries if n_keys is None else validate.count("n_keys", n_keys)
    return np.tril(np.ones((n_queries, n_keys), dtype=bool))


def padding_mask(lengths: object, n_keys: int | None = None) -> np.ndarray:
    """Boolean (batch, n_keys) key-padding mask from sequence lengths (chapter 5).

    Row b is True at the first ``lengths[b]`` positions (real tokens) and False
    on the padding after them. ``n_keys`` defaults to the longest length. Use
    ``mask[:, None, None, :]`` to broadcast it over heads and queries, or pass it
    as ``key_padding_mask`` to :func:`multi_head_attention`.
    """
    lengths = np.asarray(lengths)
    if lengths.size and not np.issubdtype(lengths.dtype, np.integer):
        raise TypeError(
            f"lengths must be integers, got dtype {lengths.dtype}: {lengths.tolist()!r}"
        )
    if lengths.ndim != 1 or lengths.size == 0:
        raise ValueError(
            "lengths must be a non-empty 1-D sequence of integers, "
            f"got {lengths.tolist()!r}"
        )
    if lengths.min() < 0:
        raise ValueError(f"lengths must be non-negative, got {lengths.tolist()}")
    if n_keys is None and lengths.max() == 0:
        raise ValueError("every length is 0: give n_keys, the padded length")
    n_keys = int(lengths.max()) if n_keys is None else validate.count("n_keys", n_keys)
    if lengths.max() > n_keys:
        raise ValueError(
            f"a length of {lengths.max()} does not fit in n_keys = {n_keys}"
        )
    return np.arange(n_keys)[None, :] < lengths[:, None]


# Scaled dot-product attention --------------------------------------------------


def _to_additive_numpy(mask: np.ndarray, dtype) -> np.ndarray:
    if mask.dtype == np.bool_:
        return np.where(mask, 0.0, -np.inf).astype(dtype)
    return mask.astype(dtype, copy=False)


def scaled_dot_product_attention(
    q: np.ndarray,
    k: np.ndarray,
    v: np.ndarray,
    mask: np.ndarray | None = None,
    *,
    causal: bool = False,
    scale: float | None = None,
    return_weights: bool = False,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """softmax(QKᵀ/√d_k + mask) V in NumPy (chapter 5).

    ``mask`` (boolean: True = attend; float: added to the scores) must broadcast
    to the scores' shape ``(..., n_q, n_k)``; ``causal=True`` also hides the
    future (it combines with ``mask``). ``scale`` replaces 1/√d_k. Returns the
    output ``(..., n_q, d_v)``, and the weights ``(..., n_q, n_k)`` too when
    ``return_weights``. Rows with every key masked get weights 0 and output 0.
    """
    q, k, v = _numpy_input("q", q), _numpy_input("k", k), _numpy_input("v", v)
    _check_same_dtype("q, k and v", q, k, v)
    scores_shape = _check_qkv_shapes(q, k, v)
    mask = _check_mask_values(mask)
    if mask is not None:
        _check_mask_shape(mask.shape, scores_shape)
    causal, scale, return_weights = _check_options(
        causal, scale, return_weights, q.shape[-1]
    )
    scores = (q @ np.swapaxes(k, -1, -2)) * q.dtype.type(scale)
    if mask is not None:
        scores = scores + _to_additive_numpy(mask, q.dtype)
    if causal:
        scores = np.where(causal_mask(*scores_shape[-2:]), scores, -np.inf)
    dead = np.all(np.isneginf(scores), axis=-1, keepdims=True)  # every key masked out
    weights = np.where(dead, 0.0, softmax(np.where(dead, 0.0, scores), axis=-1)).astype(
        q.dtype
    )
    out = weights @ v
    return (out, weights) if return_weights else out


# Multi-head attention -----------------------------------------------------------


def _check_embed(query, key, value, num_heads) -> tuple[int, int, int, int]:
    """Shapes for multi-head attention; return (batch, n_q, n_k, embed_dim)."""
    for name, x in (("query", query), ("key", key), ("value", value)):
        if x.ndim != 3 or 0 in tuple(x.shape):
            raise ValueError(
                f"{name} must be 3-D (batch, n, embed_dim) without empty axes, "
                f"got shape {tuple(x.shape)}"
                + ("; add a batch axis with x[None]" if x.ndim == 2 else "")
            )
    batch, n_q, embed = (int(s) for s in query.shape)
    if tuple(key.shape) != tuple(value.shape):
        raise ValueError(
            f"key and value must have the same shape, got {tuple(key.shape)} and "
            f"{tuple(value.shape)}"
        )
    if key.shape[0] != batch or key.shape[2] != embed:
        raise ValueError(
            f"key must be (batch, n_k, embed_dim) with batch = {batch} and "
            f"embed_dim = {embed} as the query, got {tuple(key.shape)}"
        )
    num_heads = validate.count("num_heads", num_heads)
    if embed % num_heads:
        raise ValueError(
            f"num_heads = {num_heads} does not divide embed_dim = {embed}; each head "
            f"gets embed_dim / num_heads features"
        )
    return batch, n_q, int(key.shape[1]), embed


def _check_param_shapes(params: object, embed: int) -> None:
    if not isinstance(params, Mapping):
        raise TypeError(f"params must be a dict of arrays, got {type(params).__name__}")
    missing = [name for name in PARAM_NAMES if name not in params]
    if missing:
        raise ValueError(
            f"params lack {missing}; expected the keys {list(PARAM_NAMES)}"
        )
    expected = {
        "in_proj_weight": (3 * embed, embed),
        "in_proj_bias": (3 * embed,),
        "out_proj_weight": (embed, embed),
        "out_proj_bias": (embed,),
    }
    for name, shape in expected.items():
        if not hasattr(params[name], "shape"):
            raise TypeError(
                f"params[{name!r}] must be an array, got {type(params[name]).__name__}"
            )
        if tuple(params[name].shape) != shape:
            raise ValueError(
                f"params[{name!r}] has shape {tuple(params[name].shape)}, expected "
                f"{shape} for embed_dim = {embed}"
            )


def _mha_masks(attn_mask, key_padding_mask, batch, heads, n_q, n_k) -> list:
    """The masks of multi-head attention, each reshaped to broadcast to
    (B, H, n_q, n_k).
    """
    masks = []
    if attn_mask is not None:
        shape = tuple(attn_mask.shape)
        allowed = {2: (n_q, n_k), 3: (batch, n_q, n_k)}
        if attn_mask.ndim in allowed and shape != allowed[attn_mask.ndim]:
            raise ValueError(
                f"attn_mask has shape {shape}; expected (n_q, n_k) = {(n_q, n_k)}, "
                f"(batch, n_q, n_k) = {(batch, n_q, n_k)} or a 4-D mask that "
                f"broadcasts to (batch, heads, n_q, n_k) = {(batch, heads, n_q, n_k)}"
            )
        if attn_mask.ndim not in (2, 3, 4):
            raise ValueError(f"attn_mask must be 2-, 3- or 4-D, got shape {shape}")
        # A heads axis.
        attn_mask = attn_mask[:, None] if attn_mask.ndim == 3 else attn_mask
        _check_mask_shape(tuple(attn_mask.shape), (batch, heads, n_q, n_k), "attn_mask")
        masks.append(attn_mask)
    if key_padding_mask is not None:
        if tuple(key_padding_mask.shape) != (batch, n_k):
            raise ValueError(
                f"key_padding_mask must have shape (batch, n_k) = {(batch, n_k)}, "
                f"got {tuple(key_padding_mask.shape)}"
            )
        masks.append(key_padding_mask[:, None, None, :])
    return masks


def _combine_numpy(masks: list[np.ndarray]) -> np.ndarray | None:
    """One mask from several: AND of booleans, else the sum of the additive forms."""
    if not masks:
        return None
    if all(m.dtype == np.bool_ for m in masks):
        return masks[0] if len(masks) == 1 else masks[0] & masks[1]
    return sum(_to_additive_numpy(m, np.float64) for m in masks)


def multi_head_attention(
    query: np.ndarray,
    key: np.ndarray,
    value: np.ndarray,
    params: Mapping[str, np.ndarray],
    num_heads: int,
    *,
    attn_mask: np.ndarray | None = None,
    key_padding_mask: np.ndarray | None = None,
    causal: bool = False,
    return_weights: bool = False,
    average_attn_weights: bool = True,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Multi-head attention in NumPy, as
    ``torch.nn.MultiheadAttention(batch_first=True)``.

    Project the inputs with W_q, W_k, W_v (stacked in ``params["in_proj_weight"]``),
    split the E features into ``num_heads`` heads of E / num_heads, attend in each
    head with :func:`scaled_dot_product_attention`, concatenate the heads and
    project with ``out_proj`` (chapter 5). Inputs are ``(batch, n, E)``.

    Masks follow this module's convention (True = attend): ``attn_mask`` is
    (n_q, n_k), (batch, n_q, n_k) (as Keras, *not* torch's (batch·heads, n_q, n_k))
    or 4-D broadcasting to (batch, heads, n_q, n_k); ``key_padding_mask`` is
    (batch, n_k), e.g. from :func:`padding_mask`. Returns the output
    (batch, n_q, E) and, with ``return_weights``, the weights, averaged over the
    heads (batch, n_q, n_k) or per head (batch, heads, n_q, n_k).
    """
    for name, x in (("query", query), ("key", key), ("value", value)):
        _numpy_input(name, x)
    _check_same_dtype("query, key and value", query, key, value)
    dims = _check_embed(query, key, value, num_heads)
    batch, n_q, n_k, embed = dims
    _check_param_shapes(params, embed)
    for name in PARAM_NAMES:
        validate.float_array(f"params[{name!r}]", params[name])
    average = validate.flag("average_attn_weights", average_attn_weights)
    return_weights = validate.flag("return_weights", return_weights)
    attn_mask = _check_mask_values(attn_mask, "attn_mask")
    key_padding_mask = _check_mask_values(key_padding_mask, "key_padding_mask")
    mask = _combine_numpy(
        _mha_masks(attn_mask, key_padding_mask, batch, num_heads, n_q, n_k)
    )
    dtype = query.dtype
    w_q, w_k, w_v = np.split(params["in_proj_weight"].astype(dtype, copy=False), 3)
    b_q, b_k, b_v = np.split(params["in_proj_bias"].astype(dtype, copy=False), 3)
    head_dim = embed // num_heads

    def heads(x, w, b):  # (batch, n, E) -> (batch, heads, n, head_dim)
        return (
            (x @ w.T + b).reshape(batch, -1, num_heads, head_dim).transpose(0, 2, 1, 3)
        )

    q, k, v = heads(query, w_q, b_q), heads(key, w_k, b_k), heads(value, w_v, b_v)
    if mask is not None and mask.dtype != np.bool_:
        mask = mask.astype(dtype)
    out, weights = scaled_dot_product_attention(
        q, k, v, mask, causal=causal, return_weights=True
    )
    out = out.transpose(0, 2, 1, 3).reshape(batch, n_q, embed)  # concatenate the heads
    out = out @ params["out_proj_weight"].astype(dtype).T + params[
        "out_proj_bias"
    ].astype(dtype)
    if not return_weights:
        return out
    return out, weights.mean(axis=1) if average else weights


def init_mha_params(
    embed_dim: int, *, seed: int = 0, dtype: type = np.float64
) -> dict[str, np.ndarray]:
    """Random multi-head attention weights in the layout of
    ``torch.nn.MultiheadAttention``.

    As PyTorch: ``in_proj_weight`` Xavier-uniform, ``out_proj_weight`` uniform in
    ±1/√E, biases zero (chapter 5).
    """
    embed_dim = validate.count("embed_dim", embed_dim)
    if np.dtype(dtype) not in FLOAT_DTYPES:
        raise ValueError(f"dtype must be float32 or float64, got {np.dtype(dtype)}")
    rng = np.random.default_rng(seed)
    xavier = math.sqrt(6.0 / (embed_dim + 3 * embed_dim))
    bound = 1.0 / math.sqrt(embed_dim)
    return {
        "in_proj_weight": rng.uniform(
            -xavier, xavier, (3 * embed_dim, embed_dim)
        ).astype(dtype),
        "in_proj_bias": np.zeros(3 * embed_dim, dtype=dtype),
        "out_proj_weight": rng.uniform(-bound, bound, (embed_dim, embed_dim)).astype(
            dtype
        ),
        "out_proj_bias": np.zeros(embed_dim, dtype=dtype),
    }


def mha_params_from_torch(
    module: torch.nn.MultiheadAttention, *, dtype: type = np.float64
) -> dict[str, np.ndarray]:
    """Copy the weights of a ``torch.nn.MultiheadAttention`` into a dict of arrays
    (chapter 5).

    Only the common case is supported: keys and values of the query's width
    (``kdim = vdim = embed_dim``), no ``add_bias_kv``; ``bias=False`` gives zero biases.
    """
    import torch

    if not isinstance(module, torch.nn.MultiheadAttention):
        raise TypeError(
            f"module must be a torch.nn.MultiheadAttention, got {type(module).__name__}"
        )
    if not module.kdim == module.vdim == module.embed_dim:
        raise ValueError(
            "kdim and vdim must equal embed_dim; other widths are not supported"
        )
    if module.bias_k is not None or module.add_zero_attn:
        raise ValueError("add_bias_kv and add_zero_attn are not supported")
    embed = module.embed_dim

    def get(tensor, size):
        if tensor is None:
            return np.zeros(size, dtype=dtype)
        return tensor.detach().cpu().to(torch.float64).numpy().astype(dtype)

    return {
        "in_proj_weight": get(module.in_proj_weight, (3 * embed, embed)),
        "in_proj_bias": get(module.in_proj_bias, 3 * embed),
        "out_proj_weight": get(module.out_proj.weight, (embed, embed)),
        "out_proj_bias": get(module.out_proj.bias, embed),
    }


def mha_params_from_keras(layer, *, dtype: type = np.float64) -> dict[str, np.ndarray]:
    """Copy the weights of a built ``keras.layers.MultiHeadAttention`` into our layout
    (chapter 5).

    Keras keeps one kernel per projection with the heads as an axis:
    ``query``/``key``/``value`` kernels are (E, heads, head_dim) with biases
    (heads, head_dim); the ``attention_output`` kernel is (heads, head_dim, E).
    PyTorch's layout is the transposed, flattened form: W_q = kernel.reshape(E, E).T.
    Requires ``heads · key_dim = E`` and ``value_dim = key_dim``.
    """
    if not hasattr(layer, "weights") or type(layer).__name__ != "MultiHeadAttention":
        raise TypeError(
            "layer must be a keras.layers.MultiHeadAttention, "
            f"got {type(layer).__name__}"
        )
    found = {}
    for variable in layer.weights:
        path = getattr(variable, "path", variable.name).split(":")[0].split("/")
        found[tuple(path[-2:])] = np.asarray(variable.numpy(), dtype=np.float64)
    if ("query", "kernel") not in found:
        raise ValueError(
            "the layer has no weights yet: call it once on data to build it"
        )
    embed, heads, head_dim = found[("query", "kernel")].shape
    if heads * head_dim != embed:
        raise ValueError(
            f"num_heads · key_dim = {heads} · {head_dim} must equal the width "
            f"E = {embed} to copy into torch's layout"
        )
    shapes = {"query": (embed, heads, head_dim), "key": (embed, heads, head_dim)}
    shapes |= {
        "value": (embed, heads, head_dim),
        "attention_output": (heads, head_dim, embed),
    }
    for name, shape in shapes.items():
        if found[(name, "kernel")].shape != shape:
            raise ValueError(
                f"the {name} kernel has shape {found[(name, 'kernel')].shape}, "
                f"expected {shape}"
            )

    def bias(name, size):
        return found.get((name, "bias"), np.zeros(size)).reshape(size)

    in_w = [
        found[(name, "kernel")].reshape(embed, embed).T
        for name in ("query", "key", "value")
    ]
    in_b = [bias(name, embed) for name in ("query", "key", "value")]
    return {
        "in_proj_weight": np.concatenate(in_w).astype(dtype),
        "in_proj_bias": np.concatenate(in_b).astype(dtype),
        "out_proj_weight": found[("attention_output", "kernel")]
        .reshape(embed, embed)
        .T.astype(dtype),
        "out_proj_bias": bias("attention_output", embed).astype(dtype),
    }


# The same in PyTorch --------------------------------------------------------------


def _check_tensor(torch, name: str, value: object):
    if not isinstance(value, torch.Tensor):
        hint = (
            "; convert it with torch.from_numpy"
            if isinstance(value, np.ndarray)
            else ""
        )
        raise TypeError(
            f"{name} must be a torch.Tensor, got {type(value).__name__}{hint}"
        )
    if not value.is_floating_point():
        raise TypeError(f"{name} must hold floats, got dtype {value.dtype}")
    return value


def _check_mask_torch(torch, mask: object, device, name: str = "mask"):
    """A mask as a tensor on ``device``, its type, dtype and values checked
    (not its shape).
    """
    if mask is None:
        return None
    if isinstance(mask, np.ndarray):
        mask = torch.from_numpy(mask)
    if not isinstance(mask, torch.Tensor):
        raise TypeError(
            f"{name} must be a torch.Tensor, a NumPy array or None, "
            f"got {type(mask).__name__}"
        )
    if mask.dtype != torch.bool and not mask.is_floating_point():
        raise TypeError(
            f"{name} must be boolean (True = attend) or float (added to the scores), "
            f"got dtype {mask.dtype}"
        )
    if mask.is_floating_point() and bool(mask.isnan().any() or mask.isposinf().any()):
        raise ValueError(
            f"a float {name} is added to the scores: use finite values or -inf"
        )
    return mask.to(device)


def scaled_dot_product_attention_torch(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    mask: torch.Tensor | np.ndarray | None = None,
    *,
    causal: bool = False,
    scale: float | None = None,
    return_weights: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """:func:`scaled_dot_product_attention` with PyTorch tensors (autograd, GPU)
    (chapter 5).

    The same arguments and conventions; ``mask`` may be a tensor or a NumPy array.
    Plain tensor operations, so that each step can be inspected; it matches
    ``F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=causal)``.
    """
    import torch

    q, k, v = (_check_tensor(torch, n, x) for n, x in (("q", q), ("k", k), ("v", v)))
    _check_same_dtype("q, k and v", q, k, v)
    if not q.device == k.device == v.device:
        raise ValueError(
            f"q, k and v must be on one device, got {q.device}, {k.device}, {v.device}"
        )
    scores_shape = _check_qkv_shapes(q, k, v)
    mask = _check_mask_torch(torch, mask, q.device)
    if mask is not None:
        _check_mask_shape(tuple(mask.shape), scores_shape)
    causal, scale, return_weights = _check_options(
        causal, scale, return_weights, q.shape[-1]
    )
    scores = (q @ k.transpose(-2, -1)) * scale
    if mask is not None:
        if mask.dtype == torch.bool:
            scores = scores.masked_fill(~mask, float("-inf"))
        else:
            scores = scores + mask.to(q.dtype)
    if causal:
        keep = torch.ones(scores_shape[-2:], dtype=torch.bool, device=q.device).tril()
        scores = scores.masked_fill(~keep, float("-inf"))
    dead = torch.isneginf(scores).all(dim=-1, keepdim=True)  # every key masked out
    weights = torch.softmax(scores.masked_fill(dead, 0.0), dim=-1).masked_fill(
        dead, 0.0
    )
    out = weights @ v
    return (out, weights) if return_weights else out


def multi_head_attention_torch(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    params: Mapping[str, torch.Tensor | np.ndarray],
    num_heads: int,
    *,
    attn_mask: torch.Tensor | np.ndarray | None = None,
    key_padding_mask: torch.Tensor | np.ndarray | None = None,
    causal: bool = False,
    return_weights: bool = False,
    average_attn_weights: bool = True,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """:func:`multi_head_attention` with PyTorch tensors (chapter 5).

    ``params`` holds tensors (or NumPy arrays, converted) under the names of
    ``PARAM_NAMES``; masks follow this module's convention (True = attend).
    """
    import torch

    for name, x in (("query", query), ("key", key), ("value", value)):
        _check_tensor(torch, name, x)
    _check_same_dtype("query, key and value", query, key, value)
    dims = _check_embed(query, key, value, num_heads)
    batch, n_q, n_k, embed = dims
    _check_param_shapes(params, embed)
    p = {
        name: torch.as_tensor(params[name]).to(device=query.device, dtype=query.dtype)
        for name in PARAM_NAMES
    }
    average = validate.flag("average_attn_weights", average_attn_weights)
    return_weights = validate.flag("return_weights", return_weights)
    attn_mask = _check_mask_torch(torch, attn_mask, query.device, "attn_mask")
    key_padding_mask = _check_mask_torch(
        torch, key_padding_mask, query.device, "key_padding_mask"
    )
    masks = _mha_masks(attn_mask, key_padding_mask, batch, num_heads, n_q, n_k)
    mask = None
    if masks and all(m.dtype == torch.bool for m in masks):
        mask = masks[0] if len(masks) == 1 else masks[0] & masks[1]
    elif masks:  # at least one additive mask: add them all up
        zero = torch.zeros((), dtype=query.dtype, device=query.device)
        mask = sum(
            zero.masked_fill(~m, float("-inf"))
            if m.dtype == torch.bool
            else m.to(query.dtype)
            for m in masks
        )
    w_q, w_k, w_v = p["in_proj_weight"].chunk(3)
    b_q, b_k, b_v = p["in_proj_bias"].chunk(3)
    head_dim = embed // num_heads

    def heads(x, w, b):  # (batch, n, E) -> (batch, heads, n, head_dim)
        return (x @ w.T + b).view(batch, -1, num_heads, head_dim).transpose(1, 2)

    q, k, v = heads(query, w_q, b_q), heads(key, w_k, b_k), heads(value, w_v, b_v)
    out, weights = scaled_dot_product_attention_torch(
        q, k, v, mask, causal=causal, return_weights=True
    )
    out = (
        out.transpose(1, 2).reshape(batch, n_q, embed) @ p["out_proj_weight"].T
        + p["out_proj_bias"]
    )
    if not return_weights:
        return out
    return out, weights.mean(dim=1) if average else weights


# Positions and cost ----------------------------------------------------------------


def sinusoidal_positional_encoding(
    n_positions: int, d_model: int, *, base: float = 10000.0, dtype: type = np.float64
) -> np.ndarray:
    """The (n_positions, d_model) sinusoidal encoding of Vaswani et al. (2017)
    (chapter 5).

    PE[pos, 2i] = sin(pos / base^(2i/d_model)) and PE[pos, 2i+1] = cos(pos /
    base^(2i/d_model)): each pair of columns turns at its own frequency, so PE[pos + k]
    is PE[pos] rotated by an angle that depends on k only. ``d_model`` must be even.
    """
    n_positions = validate.count("n_positions", n_positions)
    d_model = validate.count("d_model", d_model)
    if d_model % 2:
        raise ValueError(
            "d_model must be even for sinusoidal encoding (sin and cos columns come "
            f"in pairs), got {d_model}"
        )
    base = validate.number("base", base, low=1.0, low_open=True)
    if np.dtype(dtype) not in FLOAT_DTYPES:
        raise ValueError(f"dtype must be float32 or float64, got {np.dtype(dtype)}")
    positions = np.arange(n_positions, dtype=np.float64)[:, None]
    frequencies = base ** (-np.arange(0, d_model, 2, dtype=np.float64) / d_model)
    angles = positions * frequencies  # (n_positions, d_model / 2)
    pe = np.empty((n_positions, d_model))
    pe[:, 0::2], pe[:, 1::2] = np.sin(angles), np.cos(angles)
    return pe.astype(dtype)


def attention_cost(
    n: int, d: int, heads: int = 1, *, batch: int = 1, bytes_per_element: int = 4
) -> dict[str, int]:
    """FLOPs and score-matrix memory of one multi-head self-attention layer (chapter 5).

    For ``batch`` sequences of ``n`` tokens of width ``d`` split into ``heads``
    heads (a multiply-add counts as 2 FLOPs; the softmax, scaling and biases are
    left out, they are O(n²·heads) and O(n·d)):

    - ``score_flops`` = 2·n²·d per sequence for QKᵀ (all heads together),
    - ``mix_flops`` = 2·n²·d for the weighted sum of the values,
    - ``projection_flops`` = 8·n·d² for W_q, W_k, W_v and W_o,
    - ``total_flops``, their sum: O(n²·d + n·d²),
    - ``score_elements`` = batch·heads·n² and ``score_bytes``, the memory of the
      attention matrix, which grows as n².
    """
    n, d = validate.count("n", n), validate.count("d", d)
    heads = validate.count("heads", heads)
    batch = validate.count("batch", batch)
    bytes_per_element = validate.count("bytes_per_element", bytes_per_element)
    if d % heads:
        raise ValueError(f"heads = {heads} does not divide the width d = {d}")
    cost = {
        "score_flops": 2 * batch * n * n * d,
        "mix_flops": 2 * batch * n * n * d,
        "projection_flops": 8 * batch * n * d * d,
    }
    cost["total_flops"] = sum(cost.values())
    cost["score_elements"] = batch * heads * n * n
    cost["score_bytes"] = cost["score_elements"] * bytes_per_element
    return cost
