"""Privacy in training: DP-SGD, its privacy accountant, and federated averaging
(chapter 11).

- :func:`per_example_gradients`, :func:`clip_per_example`, :func:`dp_sgd_train`: the
  DP-SGD algorithm of Abadi et al. (2016): clip every example's gradient to norm C,
  sum, add Gaussian noise of standard deviation σ·C, divide by the expected batch size.
- :func:`rdp_sampled_gaussian`, :func:`epsilon_from_rdp`, :func:`dp_epsilon`: the Rényi
  accountant (Mironov 2017; Mironov, Talwar and Zhang 2019) for the Poisson-subsampled
  Gaussian mechanism at integer orders, with the RDP to (ε, δ) conversion of Balle et
  al. (2020), the one Opacus uses.
- :func:`split_iid`, :func:`split_label_skew`, :func:`federated_average`: federated
  averaging (McMahan et al., 2017) over simulated clients.
- :func:`input_from_linear_gradient`: why sharing gradients is not private by itself.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import torch
from scipy.special import gammaln, logsumexp

from lmbook import validate

# DP-SGD -----------------------------------------------------------------------------


def per_example_gradients(
    model: torch.nn.Module,
    loss_fn: Callable,
    inputs: torch.Tensor,
    labels: torch.Tensor,
) -> dict[str, torch.Tensor]:
    """The gradient of the loss of each example separately (chapter 11.2).

    Uses ``torch.func``: ``vmap`` over ``grad`` of a one-example loss. Returns a dict
    parameter name → tensor of shape (batch, *parameter.shape).
    """
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not isinstance(inputs, torch.Tensor) or not isinstance(labels, torch.Tensor):
        raise TypeError("inputs and labels must be torch tensors")
    if len(inputs) != len(labels) or len(inputs) == 0:
        raise ValueError(
            "need as many labels as inputs, at least one; got "
            f"{len(inputs)} and {len(labels)}"
        )
    from torch.func import functional_call, grad, vmap

    params = {
        name: p.detach() for name, p in model.named_parameters() if p.requires_grad
    }

    def one_loss(p, x, y):
        return loss_fn(functional_call(model, p, (x.unsqueeze(0),)), y.unsqueeze(0))

    return vmap(grad(one_loss), in_dims=(None, 0, 0))(params, inputs, labels)


def clip_per_example(
    grads: Mapping[str, torch.Tensor], max_norm: float
) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """Scale each example's whole gradient (all parameters together) to
    norm ≤ ``max_norm``.

    The factor is min(1, C / ‖g_i‖) (chapter 11.2). Returns the clipped gradients and
    the norms before clipping.
    """
    max_norm = validate.positive("max_norm", max_norm)
    if not grads:
        raise ValueError("grads is empty: pass the dict per_example_gradients returns")
    flat = torch.cat([g.reshape(len(g), -1) for g in grads.values()], dim=1)
    norms = flat.norm(dim=1)
    factor = (max_norm / (norms + 1e-12)).clamp(max=1.0)
    clipped = {k: g * factor.view(-1, *[1] * (g.ndim - 1)) for k, g in grads.items()}
    return clipped, norms


def noisy_gradient(
    grads: Mapping[str, torch.Tensor],
    *,
    max_norm: float,
    noise_multiplier: float,
    expected_batch_size: float,
    generator: torch.Generator | None = None,
) -> dict[str, torch.Tensor]:
    """One DP-SGD gradient: (Σ_i clip(g_i) + N(0, σ²C²I)) / (expected batch size)
    (chapter 11.2).

    ``grads`` holds per-example gradients (batch, *shape); the batch may be empty.
    """
    sigma = validate.non_negative("noise_multiplier", noise_multiplier)
    size = validate.positive("expected_batch_size", expected_batch_size)
    clipped, _ = clip_per_example(grads, max_norm)
    out = {}
    for name, g in clipped.items():
        noise = (
            torch.randn(g.shape[1:], generator=generator, dtype=g.dtype)
            * sigma
            * max_norm
        )
        out[name] = (g.sum(dim=0) + noise) / size
    return out


def dp_sgd_train(
    model: torch.nn.Module,
    inputs: torch.Tensor,
    labels: torch.Tensor,
    *,
    steps: int,
    sample_rate: float,
    max_norm: float,
    noise_multiplier: float,
    lr: float,
    seed: int = 0,
) -> torch.nn.Module:
    """Train ``model`` in place with DP-SGD (Abadi et al., 2016) and plain SGD updates.

    Each step draws a Poisson sample (every example in with probability
    ``sample_rate``), as the accountant assumes, and applies :func:`noisy_gradient`.
    ``noise_multiplier=0`` gives clipped SGD with no noise (no privacy).

    The loop is written out rather than handed to :func:`lmbook.train.fit`, because
    it is chapter 11's lesson: a gradient per example, clipped and noised before the
    update, on batches whose size is random.
    """
    steps = validate.count("steps", steps)
    q = validate.probability("sample_rate", sample_rate, zero=False)
    lr = validate.positive("lr", lr)
    if len(inputs) != len(labels):
        raise ValueError(f"{len(inputs)} inputs but {len(labels)} labels")
    generator = torch.Generator().manual_seed(seed)
    loss_fn = torch.nn.functional.cross_entropy
    params = dict(model.named_parameters())
    for _ in range(steps):
        chosen = torch.rand(len(inputs), generator=generator) < q
        if chosen.any():
            grads = per_example_gradients(
                model, loss_fn, inputs[chosen], labels[chosen]
            )
        else:
            grads = {k: torch.zeros(0, *p.shape) for k, p in params.items()}
        update = noisy_gradient(
            grads,
            max_norm=max_norm,
            noise_multiplier=noise_multiplier,
            expected_batch_size=q * len(inputs),
            generator=generator,
        )
        with torch.no_grad():
            for name, p in params.items():
                p -= lr * update[name]
    return model


# The accountant -----------------------------------------------------------------------


def _orders(orders: object) -> np.ndarray:
    """The Rényi orders as an int64 array: integers ≥ 2, where this
    accountant is exact.
    """
    array = np.atleast_1d(np.asarray(orders))
    if array.ndim != 1 or array.size == 0:
        raise ValueError(
            f"orders must be a non-empty list of integers ≥ 2, got {orders!r}"
        )
    if array.dtype == np.bool_ or not np.issubdtype(array.dtype, np.integer):
        raise TypeError(
            "orders must be integers ≥ 2 (this accountant is "
            f"exact there), got {orders!r}"
        )
    if np.any(array < 2):
        raise ValueError(f"orders must be integers ≥ 2, got {orders!r}")
    return array.astype(np.int64)


DEFAULT_ORDERS = tuple(range(2, 257))


def rdp_sampled_gaussian(
    sample_rate: float, noise_multiplier: float, orders: Sequence[int] = DEFAULT_ORDERS
) -> np.ndarray:
    """Rényi DP of one step of the Poisson-subsampled Gaussian mechanism (chapter 11.2).

    At an integer order α (Mironov, Talwar and Zhang, 2019):
    RDP(α) = log Σ_k C(α,k) (1−q)^(α−k) q^k exp((k²−k)/(2σ²)) / (α−1).
    With q = 1 this is α / (2σ²), the plain Gaussian mechanism. Returns one value per
    order.
    """
    q = validate.probability("sample_rate", sample_rate, zero=False)
    sigma = validate.positive("noise_multiplier", noise_multiplier)
    result = []
    for alpha in _orders(orders):
        if q == 1.0:
            result.append(alpha / (2 * sigma**2))
            continue
        k = np.arange(alpha + 1)
        log_binom = gammaln(alpha + 1) - gammaln(k + 1) - gammaln(alpha - k + 1)
        terms = log_binom + k * math.log(q) + (alpha - k) * math.log1p(-q)
        terms = terms + (k * k - k) / (2 * sigma**2)
        result.append(float(logsumexp(terms)) / (alpha - 1))
    return np.array(result)


def epsilon_from_rdp(
    rdp: Sequence[float], orders: Sequence[int], delta: float
) -> tuple[float, int]:
    """(ε, best order) at ``delta`` from RDP values, by Balle et al. (2020), Theorem 21.

    ε(α) = RDP(α) + log((α−1)/α) − (log δ + log α)/(α−1), minimised over the orders.
    """
    alphas = _orders(orders).astype(float)
    rdp = np.asarray(rdp, dtype=float)
    if rdp.shape != alphas.shape:
        raise ValueError(
            f"rdp has {rdp.size} values but there are {alphas.size} orders"
        )
    delta = validate.probability("delta", delta, zero=False, one=False)
    eps = (
        rdp
        + np.log((alphas - 1) / alphas)
        - (math.log(delta) + np.log(alphas)) / (alphas - 1)
    )
    best = int(np.argmin(eps))
    return float(eps[best]), int(alphas[best])


def dp_epsilon(
    noise_multiplier: float,
    sample_rate: float,
    steps: int,
    delta: float,
    orders: Sequence[int] = DEFAULT_ORDERS,
) -> float:
    """ε of ``steps`` DP-SGD steps at ``delta``: RDP adds up over steps (chapter 11.2).

    ``noise_multiplier=0`` means no noise, hence no privacy: ε = ∞.
    """
    steps = validate.count("steps", steps)
    if validate.non_negative("noise_multiplier", noise_multiplier) == 0:
        return math.inf
    rdp = steps * rdp_sampled_gaussian(sample_rate, noise_multiplier, orders)
    return epsilon_from_rdp(rdp, orders, delta)[0]


# Federated learning -----------------------------------------------------------------


def split_iid(n_examples: int, n_clients: int, seed: int = 0) -> list[np.ndarray]:
    """Shuffle the example indices and deal them out to ``n_clients`` equal parts
    (chapter 11.3).
    """
    n_examples = validate.count("n_examples", n_examples)
    n_clients = validate.count("n_clients", n_clients)
    if n_clients > n_examples:
        raise ValueError(f"{n_clients} clients but only {n_examples} examples")
    order = np.random.default_rng(seed).permutation(n_examples)
    return [np.sort(part) for part in np.array_split(order, n_clients)]


def split_label_skew(
    labels: Sequence[int], n_clients: int, shards_per_client: int = 2, seed: int = 0
) -> list[np.ndarray]:
    """McMahan et al.'s non-IID split: sort by label, cut into shards, give each
    client a few.

    With 2 shards per client most clients see only two classes (chapter 11.3).
    """
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.size == 0:
        raise ValueError("labels must be a non-empty 1-D array of class labels")
    n_clients = validate.count("n_clients", n_clients)
    shards_per_client = validate.count("shards_per_client", shards_per_client)
    n_shards = n_clients * shards_per_client
    if n_shards > labels.size:
        raise ValueError(
            f"{n_shards} shards need at least as many examples, got {labels.size}"
        )
    rng = np.random.default_rng(seed)
    order = np.argsort(labels, kind="stable")
    shards = np.array_split(order, n_shards)
    picks = rng.permutation(n_shards).reshape(n_clients, shards_per_client)
    return [np.sort(np.concatenate([shards[s] for s in row])) for row in picks]


def federated_average(
    states: Sequence[Mapping[str, torch.Tensor]], weights: Sequence[float]
) -> dict[str, torch.Tensor]:
    """FedAvg's server step: the average of the clients' parameters weighted by their
    data size.

    w ← Σ_k (n_k / n) w_k (McMahan et al., 2017; chapter 11.3).
    """
    if len(states) == 0 or len(states) != len(weights):
        raise ValueError(
            f"need one weight per state, got {len(states)} "
            f"states, {len(weights)} weights"
        )
    w = validate.finite_array("weights", weights)
    if np.any(w < 0) or w.sum() <= 0:
        raise ValueError(
            f"weights must be ≥ 0 with a positive sum, got {list(weights)}"
        )
    w = w / w.sum()
    keys = list(states[0])
    for state in states[1:]:
        if list(state) != keys:
            raise ValueError("all states must have the same parameter names")
    return {
        k: sum(float(wi) * s[k].float() for wi, s in zip(w, states, strict=True))
        for k in keys
    }


def input_from_linear_gradient(
    grad_weight: torch.Tensor, grad_bias: torch.Tensor
) -> torch.Tensor:
    """Recover the input x of one example from the gradient of a first linear layer.

    For y = Wx + b, ∂L/∂W = (∂L/∂y) xᵀ and ∂L/∂b = ∂L/∂y, so any row j with
    ∂L/∂b_j ≠ 0 gives x = (∂L/∂W)_j / (∂L/∂b)_j exactly (chapter 11.3; Zhu et al. 2019
    recover inputs from gradients of whole networks).
    """
    if (
        grad_weight.ndim != 2
        or grad_bias.ndim != 1
        or len(grad_weight) != len(grad_bias)
    ):
        raise ValueError(
            "expected grad_weight (out, in) and grad_bias (out,), "
            f"got {tuple(grad_weight.shape)} and {tuple(grad_bias.shape)}"
        )
    row = int(grad_bias.abs().argmax())
    if grad_bias[row] == 0:
        raise ValueError(
            "the bias gradient is zero: the input cannot be recovered from it"
        )
    return grad_weight[row] / grad_bias[row]
