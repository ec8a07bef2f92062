"""Generalisation and initialisation in NumPy: dropout, weight decay, early stopping,
Xavier and He initialisation (chapter 2, part 2).

Notebook ``02b_generalisation_and_initialisation`` derives every formula here and
checks each piece against PyTorch: :func:`dropout_forward` and
:func:`dropout_backward` against ``torch.nn.functional.dropout``; :class:`L2SGD`,
:class:`AdamL2` and :class:`AdamW` against ``torch.optim.SGD(weight_decay=...)``,
``torch.optim.Adam(weight_decay=...)`` and ``torch.optim.AdamW``; :func:`xavier_std`
and :func:`he_std` against ``torch.nn.init``. :class:`DropoutMLP` is ``lmbook.nn.MLP``
with inverted dropout after every hidden layer, :func:`fit` the chapter's training
loop, with early stopping (:class:`EarlyStopping`) as an option.

Conventions are those of :mod:`lmbook.nn`: one example per row, weights of shape
(outputs, inputs), float64 unless a model says otherwise.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from lmbook import nn, validate

__all__ = [
    "AdamL2",
    "AdamW",
    "DropoutMLP",
    "EarlyStopping",
    "L2SGD",
    "activation_stds",
    "dropout_backward",
    "dropout_forward",
    "early_stopping_epoch",
    "fit",
    "he_std",
    "l2_penalty",
    "xavier_std",
]


# Dropout (section 2.12) ------------------------------------------------------


def dropout_forward(
    x: np.ndarray, p: float, rng: np.random.Generator, training: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Inverted dropout (section 2.12): ``(y, keep)`` with ``y = x · keep / (1 − p)``.

    Each entry is kept with probability 1 − p (``keep`` is the boolean mask drawn),
    and the kept entries are scaled by 1 / (1 − p), so that E[y] = x. Out of
    training (``training=False``) or with p = 0 the layer is the identity and
    ``keep`` is all True.
    """
    x = validate.float_array("x", x)
    p = validate.number("p", p, low=0.0, high=1.0, high_open=True)
    if not isinstance(rng, np.random.Generator):
        raise TypeError(
            f"rng must be a numpy.random.Generator, got {type(rng).__name__}"
        )
    training = validate.flag("training", training)
    if not training or p == 0.0:
        return x.copy(), np.ones(x.shape, dtype=bool)
    keep = rng.random(x.shape) >= p
    return x * keep / x.dtype.type(1.0 - p), keep


def dropout_backward(dy: np.ndarray, keep: np.ndarray, p: float) -> np.ndarray:
    """The gradient through inverted dropout (section 2.12): ``dy · keep / (1 − p)``.

    y = x · m with the constant m = keep / (1 − p), so ∂L/∂x = ∂L/∂y · m: the same
    mask, and the same scale, as the forward pass that drew it.
    """
    dy = validate.float_array("dy", dy)
    if not isinstance(keep, np.ndarray) or keep.dtype != np.bool_:
        raise TypeError(
            "keep must be the boolean mask that dropout_forward returned, got "
            f"{type(keep).__name__}"
            + (f" of dtype {keep.dtype}" if isinstance(keep, np.ndarray) else "")
        )
    if keep.shape != dy.shape:
        raise ValueError(
            f"keep has shape {keep.shape} but dy has shape {dy.shape}; they must match"
        )
    p = validate.number("p", p, low=0.0, high=1.0, high_open=True)
    return dy * keep / dy.dtype.type(1.0 - p)


class DropoutMLP(nn.MLP):
    """``lmbook.nn.MLP`` with inverted dropout of rate ``p`` after every hidden layer.

    Dropout acts only while ``training`` is True (PyTorch's ``model.train()``); with
    ``training`` False (the default, ``model.eval()``) the network is exactly the
    MLP with the same weights. Masks are drawn from a generator seeded by
    ``dropout_seed``. Section 2.12 derives the backward pass.
    """

    def __init__(
        self,
        sizes: list[int],
        activation: str = "relu",
        *,
        p: float = 0.5,
        seed: int = 0,
        dropout_seed: int = 0,
        dtype: type = np.float64,
    ) -> None:
        super().__init__(sizes, activation, seed=seed, dtype=dtype)
        self.p = validate.number("p", p, low=0.0, high=1.0, high_open=True)
        validate.integer("dropout_seed", dropout_seed, minimum=0)
        self.rng = np.random.default_rng(dropout_seed)
        self.training = False
        self.masks: list[np.ndarray] = []

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Logits for a batch ``x``; drops hidden activations while ``training``."""
        x = validate.float_array("x", x, ndim=2, layout="(batch, features)")
        if x.shape[0] == 0:
            raise ValueError("x is an empty batch; expected at least one row")
        if x.shape[1] != self.sizes[0]:
            raise ValueError(
                f"x has {x.shape[1]} features per row, but the "
                f"network expects {self.sizes[0]}"
            )
        validate.flag("training", self.training)
        f = nn.ACTIVATIONS[self.activation][0]
        a = x.astype(self.dtype, copy=False)
        cache, masks = [], []
        last = len(self.weights) - 1
        for layer, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            z = a @ w.T + b
            cache.append((a, z))
            if layer == last:
                a = z
            else:
                a, keep = dropout_forward(f(z), self.p, self.rng, self.training)
                masks.append(keep)
        self._cache, self.masks = cache, masks
        return a

    def backward(self, dlogits: np.ndarray) -> list[np.ndarray]:
        """Gradients for every parameter: nn.MLP's δ recursion with each hidden
        layer's error passed back through its dropout mask.
        """
        if self._cache is None:
            raise RuntimeError("call forward(x) before backward(dlogits)")
        delta = np.asarray(dlogits)
        expected = self._cache[-1][1].shape
        if delta.shape != expected:
            raise ValueError(
                "dlogits must have the shape of the logits "
                f"{expected}, got {delta.shape}"
            )
        df = nn.ACTIVATIONS[self.activation][1]
        grads: list[np.ndarray] = []
        for layer in reversed(range(len(self.weights))):
            a_prev, _ = self._cache[layer]
            grads[:0] = [delta.T @ a_prev, delta.sum(axis=0)]
            if layer > 0:
                _, z_prev = self._cache[layer - 1]
                upstream = dropout_backward(
                    delta @ self.weights[layer], self.masks[layer - 1], self.p
                )
                delta = upstream * df(z_prev)
        return grads


# Weight decay (section 2.11) --------------------------------------------------


def _check_pairs(params: list[np.ndarray], grads: list[np.ndarray]) -> None:
    """One gradient of its parameter's shape per parameter, before any update."""
    if not isinstance(params, list | tuple) or not isinstance(grads, list | tuple):
        raise TypeError("params and grads must be lists of arrays")
    if len(params) != len(grads):
        raise ValueError(f"got {len(grads)} gradients for {len(params)} parameters")
    for index, (p, g) in enumerate(zip(params, grads, strict=True)):
        if np.shape(g) != np.shape(p):
            raise ValueError(
                f"gradient {index} has shape {np.shape(g)}, but its "
                f"parameter has shape {np.shape(p)}"
            )


def l2_penalty(params: Sequence[np.ndarray], weight_decay: float) -> float:
    """The L2 penalty (λ/2) Σ‖θ‖² of section 2.11, whose gradient is λθ."""
    if isinstance(params, np.ndarray) or not isinstance(params, Sequence):
        raise TypeError(f"params must be a list of arrays, got {type(params).__name__}")
    weight_decay = validate.non_negative("weight_decay", weight_decay)
    arrays = [validate.float_array(f"params[{i}]", p) for i, p in enumerate(params)]
    return 0.5 * weight_decay * float(sum(np.sum(p * p) for p in arrays))


class L2SGD(nn.SGD):
    """SGD (with optional momentum) on the loss plus (λ/2)‖θ‖², as
    ``torch.optim.SGD(weight_decay=λ)``: the gradient becomes g + λθ (section 2.11).

    Without momentum one step is θ ← (1 − ηλ)θ − ηg: the weights shrink by the
    factor 1 − ηλ before the usual step, hence "weight decay".
    """

    def __init__(self, lr: float, weight_decay: float, momentum: float = 0.0) -> None:
        super().__init__(lr, momentum)
        self.weight_decay = validate.non_negative("weight_decay", weight_decay)

    def step(self, params: list[np.ndarray], grads: list[np.ndarray]) -> None:
        """Update ``params`` in place from ``grads`` (same order and shapes)."""
        _check_pairs(params, grads)
        super().step(
            params,
            [g + self.weight_decay * p for p, g in zip(params, grads, strict=True)],
        )


class AdamL2(nn.Adam):
    """Adam on the loss plus (λ/2)‖θ‖², as ``torch.optim.Adam(weight_decay=λ)``.

    λθ joins the gradient *before* Adam divides by √s, so a weight with large
    gradients is decayed less (section 2.11).
    """

    def __init__(
        self,
        lr: float = 1e-3,
        weight_decay: float = 1e-2,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
    ) -> None:
        super().__init__(lr, betas, eps)
        self.weight_decay = validate.non_negative("weight_decay", weight_decay)

    def step(self, params: list[np.ndarray], grads: list[np.ndarray]) -> None:
        """Update ``params`` in place from ``grads`` (same order and shapes)."""
        _check_pairs(params, grads)
        super().step(
            params,
            [g + self.weight_decay * p for p, g in zip(params, grads, strict=True)],
        )


class AdamW(nn.Adam):
    """Adam with decoupled weight decay ([Loshchilov and Hutter, 2019]), as
    ``torch.optim.AdamW``: θ ← (1 − ηλ)θ, then the Adam step on the loss's gradient
    alone, so every weight shrinks by the same factor (section 2.11).
    """

    def __init__(
        self,
        lr: float = 1e-3,
        weight_decay: float = 1e-2,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
    ) -> None:
        super().__init__(lr, betas, eps)
        self.weight_decay = validate.non_negative("weight_decay", weight_decay)

    def step(self, params: list[np.ndarray], grads: list[np.ndarray]) -> None:
        """Update ``params`` in place from ``grads`` (same order and shapes)."""
        _check_pairs(params, grads)
        for p in params:
            p *= 1.0 - self.lr * self.weight_decay
        super().step(params, grads)


# Early stopping (section 2.13) ---------------------------------------------------


class EarlyStopping:
    """Stop when the validation loss has not improved for ``patience`` epochs.

    Call :meth:`update` once per epoch with that epoch's validation loss; it returns
    True when training should stop. An epoch improves on the best so far if its loss
    is lower by more than ``min_delta``. ``best_epoch`` (counted from 0) and ``best``
    say which epoch's weights to keep (section 2.13, after Prechelt, 1998).
    """

    def __init__(self, patience: int, min_delta: float = 0.0) -> None:
        self.patience = validate.count("patience", patience)
        self.min_delta = validate.non_negative("min_delta", min_delta)
        self.best = math.inf
        self.best_epoch = -1
        self.epochs = 0
        self.stopped = False

    def update(self, loss: float) -> bool:
        """Record one epoch's validation ``loss``; True if training should stop now."""
        loss = validate.number("loss", loss)
        if self.stopped:
            raise RuntimeError("training already stopped; make a new EarlyStopping")
        if loss < self.best - self.min_delta:
            self.best, self.best_epoch = loss, self.epochs
        self.epochs += 1
        self.stopped = self.epochs - 1 - self.best_epoch >= self.patience
        return self.stopped


def early_stopping_epoch(
    losses: Sequence[float], patience: int, min_delta: float = 0.0
) -> tuple[int, int]:
    """``(best_epoch, last_epoch)`` of early stopping run over a finished history.

    ``last_epoch`` is the epoch after which :class:`EarlyStopping` would have stopped
    training (the history's last epoch if it never would); both count from 0.
    """
    if isinstance(losses, str) or not isinstance(losses, Sequence | np.ndarray):
        raise TypeError(
            f"losses must be a list of validation losses, got {type(losses).__name__}"
        )
    if len(losses) == 0:
        raise ValueError("losses is empty; expected one validation loss per epoch")
    rule = EarlyStopping(patience, min_delta)
    for epoch, loss in enumerate(losses):
        if rule.update(float(loss) if validate.is_number(loss) else loss):
            return rule.best_epoch, epoch
    return rule.best_epoch, len(losses) - 1


# Training (sections 2.10 to 2.13) ----------------------------------------------


def fit(
    model: nn.MLP,
    optimizer: nn.SGD | nn.Adam,
    data: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    epochs: int,
    *,
    batch_size: int = 32,
    seed: int = 0,
    patience: int | None = None,
) -> dict[str, list[float]]:
    """Train ``model`` on mini-batches and score it after every epoch.

    ``data`` is ``(x_train, y_train, x_val, y_val)``. The history holds, per epoch, the
    mean cross-entropy and accuracy on the whole training set and on the validation
    set, all measured with dropout off, so that the two are comparable. With
    ``patience``, training stops early (:class:`EarlyStopping` on the validation
    loss) and the model ends with the weights of its best epoch; the history then
    also holds ``"best epoch"`` (a one-element list).
    """
    if not isinstance(model, nn.MLP):
        raise TypeError(f"model must be an lmbook.nn.MLP, got {type(model).__name__}")
    if not isinstance(optimizer, nn.SGD | nn.Adam):
        raise TypeError(
            f"optimizer must be an lmbook optimizer, got {type(optimizer).__name__}"
        )
    if not isinstance(data, tuple | list) or len(data) != 4:
        raise TypeError("data must be a tuple (x_train, y_train, x_val, y_val)")
    x_train, y_train, x_val, y_val = data
    for name, (x, y) in {
        "training": (x_train, y_train),
        "validation": (x_val, y_val),
    }.items():
        validate.float_array(
            f"the {name} inputs", x, ndim=2, layout="(examples, features)"
        )
        nn.check_labels(y, len(x), model.sizes[-1])
    epochs = validate.count("epochs", epochs)
    batch_size = validate.count("batch_size", batch_size)
    validate.integer("seed", seed, minimum=0)
    stopper = None if patience is None else EarlyStopping(patience)
    batches = np.random.default_rng(seed)
    history: dict[str, list[float]] = {
        key: []
        for key in ("loss", "accuracy", "validation loss", "validation accuracy")
    }
    best_params = None
    for _ in range(epochs):
        model.training = True  # read by DropoutMLP, harmless on an MLP
        for index in nn.minibatches(len(x_train), batch_size, batches):
            _, grads = model.loss_and_grads(x_train[index], y_train[index])
            optimizer.step(model.params, grads)
        model.training = False
        for prefix, x, y in (("", x_train, y_train), ("validation ", x_val, y_val)):
            logits = model.forward(x)
            history[f"{prefix}loss"].append(nn.cross_entropy(logits, y))
            history[f"{prefix}accuracy"].append(float((logits.argmax(1) == y).mean()))
        if stopper is not None:
            stop = stopper.update(history["validation loss"][-1])
            if stopper.best_epoch == stopper.epochs - 1:
                best_params = [p.copy() for p in model.params]
            if stop:
                break
    if stopper is not None:
        for param, best in zip(model.params, best_params, strict=True):
            param[...] = best
        history["best epoch"] = [stopper.best_epoch]
    return history


# Initialisation (section 2.14) ----------------------------------------------------


def xavier_std(fan_in: int, fan_out: int, gain: float = 1.0) -> float:
    """Glorot and Bengio's standard deviation, gain · √(2 / (fan_in + fan_out)),
    as ``torch.nn.init.xavier_normal_`` draws (section 2.14).
    """
    fan_in, fan_out = (
        validate.count("fan_in", fan_in),
        validate.count("fan_out", fan_out),
    )
    gain = validate.positive("gain", gain)
    return gain * math.sqrt(2.0 / (fan_in + fan_out))


def he_std(fan_in: int, gain: float = math.sqrt(2.0)) -> float:
    """He et al.'s standard deviation, gain / √fan_in, as
    ``torch.nn.init.kaiming_normal_`` draws; the default gain √2 is ReLU's, giving
    √(2 / fan_in) (section 2.14).
    """
    fan_in = validate.count("fan_in", fan_in)
    gain = validate.positive("gain", gain)
    return gain / math.sqrt(fan_in)


def activation_stds(
    x: np.ndarray,
    depth: int,
    std: float,
    activation: str,
    rng: np.random.Generator,
) -> np.ndarray:
    """The standard deviation of each layer's pre-activations z, through ``depth``
    square layers of the width of ``x`` with weights N(0, std²) and zero biases.

    ``x`` is a batch (examples, width); layer l computes z = a W^T with a = x for the
    first layer and a = f(z) of the layer below after it (section 2.14).
    """
    x = validate.float_array("x", x, ndim=2, layout="(examples, width)")
    depth = validate.count("depth", depth)
    std = validate.positive("std", std)
    f = nn.ACTIVATIONS[validate.choice("activation", activation, nn.ACTIVATIONS)][0]
    if not isinstance(rng, np.random.Generator):
        raise TypeError(
            f"rng must be a numpy.random.Generator, got {type(rng).__name__}"
        )
    width = x.shape[1]
    stds, a = np.empty(depth), x
    for layer in range(depth):
        z = a @ (rng.standard_normal((width, width)) * std).T
        stds[layer] = z.std()
        a = f(z)
    return stds
