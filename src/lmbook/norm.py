"""Batch and layer normalisation in NumPy, forward and backward (chapter 3).

Chapter 3 ("Batch and layer normalisation") derives every formula here and checks
each function against ``torch.nn.functional.batch_norm``, ``torch.nn.BatchNorm2d``,
``torch.nn.functional.layer_norm`` and autograd. Chapter 5's pre-LN Transformer block
uses the layer normalisation defined here.

Both normalise x to x̂ = (x − μ) / √(σ² + ε) and return y = γ·x̂ + β; they differ in
the numbers μ and σ² average over:

- **batch normalisation** averages over the batch, per feature: over N for a dense
  layer's (N, C) output, over N, H and W for a convolution's (N, C, H, W) maps, so a
  channel has one μ and one σ². γ and β have shape (C,). In training it uses the
  batch's statistics and updates running averages of them; in evaluation it uses
  the running averages, so an example's output no longer depends on its batch.
- **layer normalisation** averages over the last axes of each example (those of
  γ's shape), the features of one token or one image, and never over the batch: it
  is the same in training and evaluation.

σ² is the biased variance (divided by m, the count averaged over), as in PyTorch; the
running variance stores the unbiased one (divided by m − 1), as PyTorch does too.
Arrays must be float32 or float64; results keep that dtype.
"""

from __future__ import annotations

import numpy as np

from lmbook import validate

Cache = tuple[np.ndarray, np.ndarray, np.ndarray, tuple[int, ...]]


def _check_affine(x: np.ndarray, gamma: object, beta: object, shape: tuple) -> tuple:
    gamma = validate.float_array("gamma", gamma)
    beta = validate.float_array("beta", beta)
    for name, array in (("gamma", gamma), ("beta", beta)):
        if array.dtype != x.dtype:
            raise TypeError(
                f"{name} is {array.dtype} but x is {x.dtype}; cast one so both match"
            )
        if array.shape != shape:
            raise ValueError(f"{name} must have shape {shape}, got {array.shape}")
    return gamma, beta


def _bn_axes(x: object) -> tuple[np.ndarray, tuple[int, ...]]:
    """x, checked to be (N, C) or (N, C, H, W), and the axes batch norm averages."""
    x = validate.float_array("x", x)
    if x.ndim not in (2, 4):
        raise ValueError(
            "x must be a 2-D array (N, C) of dense features or a 4-D array "
            f"(N, C, H, W) of feature maps, got shape {x.shape}"
        )
    if 0 in x.shape:
        raise ValueError(f"x must have no empty dimension, got shape {x.shape}")
    return x, (0,) if x.ndim == 2 else (0, 2, 3)


def _per_channel(array: np.ndarray, ndim: int) -> np.ndarray:
    """A (C,) array shaped to broadcast against (N, C) or (N, C, H, W)."""
    return array.reshape((1, -1) + (1,) * (ndim - 2))


def _normalise(x: np.ndarray, axes: tuple[int, ...], eps: float) -> tuple:
    mean = x.mean(axis=axes, keepdims=True)
    var = x.var(axis=axes, keepdims=True)  # biased: divided by m
    inv_std = 1.0 / np.sqrt(var + eps)
    return (x - mean) * inv_std, inv_std, mean, var


def _normalise_backward(
    dxhat: np.ndarray, xhat: np.ndarray, inv_std: np.ndarray, axes: tuple[int, ...]
) -> np.ndarray:
    """dx = (1/σ̂)·(dx̂ − mean(dx̂) − x̂·mean(dx̂·x̂)), means over the normalised axes."""
    mean_dxhat = dxhat.mean(axis=axes, keepdims=True)
    mean_dxhat_xhat = (dxhat * xhat).mean(axis=axes, keepdims=True)
    return inv_std * (dxhat - mean_dxhat - xhat * mean_dxhat_xhat)


def batch_norm(
    x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float = 1e-5
) -> tuple[np.ndarray, Cache]:
    """Batch normalisation in training mode, with the batch's statistics (chapter 3).

    x is (N, C) or (N, C, H, W); each channel c is normalised by the mean and biased
    variance of its m = N (or N·H·W) values, then scaled by gamma[c] and shifted by
    beta[c]. Returns y and the cache that ``batch_norm_backward`` needs.
    """
    x, axes = _bn_axes(x)
    gamma, beta = _check_affine(x, gamma, beta, (x.shape[1],))
    eps = validate.positive("eps", eps)
    if x.size // x.shape[1] < 2:
        raise ValueError(
            "batch norm in training needs more than one value per channel to "
            f"estimate a variance, got x of shape {x.shape}"
        )
    xhat, inv_std, _, _ = _normalise(x, axes, eps)
    y = _per_channel(gamma, x.ndim) * xhat + _per_channel(beta, x.ndim)
    return y.astype(x.dtype), (xhat, inv_std, gamma, axes)


def _check_cache(cache: object, dy: object) -> tuple:
    if not (isinstance(cache, tuple) and len(cache) == 4):
        raise TypeError(
            "cache must be the second value that the forward function returned"
        )
    xhat, inv_std, gamma, axes = cache
    dy = validate.float_array("dy", dy)
    if dy.shape != xhat.shape:
        raise ValueError(
            f"dy must have the output's shape {xhat.shape}, got {dy.shape}"
        )
    if dy.dtype != xhat.dtype:
        raise TypeError(f"dy is {dy.dtype} but the forward pass ran in {xhat.dtype}")
    return dy, xhat, inv_std, gamma, axes


def batch_norm_backward(
    dy: np.ndarray, cache: Cache
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients (dx, dgamma, dbeta) of ``batch_norm``, given dy = ∂L/∂y (chapter 3).

    dβ_c = Σ dy and dγ_c = Σ dy·x̂ over the m positions of channel c; the input
    gradient is the compact formula
    dx = (γ_c / (m·σ̂_c)) · (m·dy − Σ dy − x̂·Σ dy·x̂),
    which holds because μ and σ² depend on every x of the channel.
    """
    dy, xhat, inv_std, gamma, axes = _check_cache(cache, dy)
    dbeta = dy.sum(axis=axes)
    dgamma = (dy * xhat).sum(axis=axes)
    dx = _normalise_backward(dy * _per_channel(gamma, dy.ndim), xhat, inv_std, axes)
    return dx.astype(dy.dtype), dgamma, dbeta


def update_running_stats(
    x: np.ndarray,
    running_mean: np.ndarray,
    running_var: np.ndarray,
    momentum: float = 0.1,
) -> tuple[np.ndarray, np.ndarray]:
    """The running mean and variance after one training batch x, as PyTorch keeps
    them (chapter 3).

    new = (1 − momentum)·old + momentum·batch, where the batch variance is the
    unbiased one, divided by m − 1. Returns new arrays; the inputs are not changed.
    """
    x, axes = _bn_axes(x)
    running_mean, running_var = _check_affine(
        x, running_mean, running_var, (x.shape[1],)
    )
    momentum = validate.probability("momentum", momentum)
    m = x.size // x.shape[1]
    if m < 2:
        raise ValueError(
            f"an unbiased variance needs at least 2 values per channel, got {m}"
        )
    batch_var = x.var(axis=axes, ddof=1)
    new_mean = (1 - momentum) * running_mean + momentum * x.mean(axis=axes)
    new_var = (1 - momentum) * running_var + momentum * batch_var
    return new_mean.astype(x.dtype), new_var.astype(x.dtype)


def batch_norm_eval(
    x: np.ndarray,
    gamma: np.ndarray,
    beta: np.ndarray,
    running_mean: np.ndarray,
    running_var: np.ndarray,
    eps: float = 1e-5,
) -> np.ndarray:
    """Batch normalisation in evaluation mode, with the running statistics (chapter 3).

    y = gamma·(x − running_mean) / √(running_var + eps) + beta, channel by channel:
    a fixed affine map, so each example's output is independent of its batch.
    """
    x, _ = _bn_axes(x)
    shape = (x.shape[1],)
    gamma, beta = _check_affine(x, gamma, beta, shape)
    running_mean, running_var = _check_affine(x, running_mean, running_var, shape)
    if np.any(running_var < 0):
        raise ValueError("running_var must be ≥ 0 everywhere")
    eps = validate.positive("eps", eps)
    scale = gamma / np.sqrt(running_var + eps)
    y = _per_channel(scale, x.ndim) * (x - _per_channel(running_mean, x.ndim))
    return (y + _per_channel(beta, x.ndim)).astype(x.dtype)


def layer_norm(
    x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float = 1e-5
) -> tuple[np.ndarray, Cache]:
    """Layer normalisation of each example over its last axes (chapter 3; chapter 5).

    The normalised axes are the last ``gamma.ndim`` ones, whose shape gamma and beta
    have (PyTorch's ``normalized_shape``): (E,) for the tokens (N, T, E) of a
    Transformer, (C, H, W) for whole feature maps. Returns y and the cache that
    ``layer_norm_backward`` needs.
    """
    x = validate.float_array("x", x)
    gamma = validate.float_array("gamma", gamma)
    if gamma.ndim == 0 or gamma.ndim > x.ndim:
        raise ValueError(
            f"gamma must have between 1 and x.ndim = {x.ndim} axes (the normalised "
            f"shape), got shape {gamma.shape}"
        )
    gamma, beta = _check_affine(x, gamma, beta, x.shape[x.ndim - gamma.ndim :])
    if gamma.size < 2:
        raise ValueError(
            f"layer norm needs at least 2 values to normalise over, got {gamma.shape}"
        )
    eps = validate.positive("eps", eps)
    axes = tuple(range(x.ndim - gamma.ndim, x.ndim))
    xhat, inv_std, _, _ = _normalise(x, axes, eps)
    return (gamma * xhat + beta).astype(x.dtype), (xhat, inv_std, gamma, axes)


def layer_norm_backward(
    dy: np.ndarray, cache: Cache
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients (dx, dgamma, dbeta) of ``layer_norm``, given dy = ∂L/∂y (chapter 3).

    The same compact formula as batch norm's, with the means taken over each
    example's normalised axes and dx̂ = dy·γ; dγ and dβ sum over the other axes (the
    batch and, for tokens, the positions).
    """
    dy, xhat, inv_std, gamma, axes = _check_cache(cache, dy)
    others = tuple(range(dy.ndim - gamma.ndim))
    dbeta = dy.sum(axis=others)
    dgamma = (dy * xhat).sum(axis=others)
    dx = _normalise_backward(dy * gamma, xhat, inv_std, axes)
    return dx.astype(dy.dtype), dgamma, dbeta
