"""A multilayer perceptron in NumPy: activations, losses, backpropagation, optimizers.

Chapter 2 ("The mathematics of neural networks") derives every formula here and
checks each one against finite differences and ``torch.autograd``.

Conventions follow PyTorch so that weights copy over unchanged: a batch is a
matrix with one example per row, a layer's weight ``W`` has shape
``(outputs, inputs)`` and computes ``Z = A @ W.T + b``. Everything works in the
dtype of the model (float64 by default, so gradient checks are exact enough).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence

import numpy as np
from scipy.special import erf

from lmbook import validate

# Activations ---------------------------------------------------------------


def sigmoid(z: np.ndarray) -> np.ndarray:
    """σ(z) = 1 / (1 + e^(-z)), computed without overflow for large |z|."""
    z = np.asarray(z)
    e = np.exp(-np.abs(z))  # never overflows
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def relu(z: np.ndarray) -> np.ndarray:
    """max(0, z)."""
    return np.maximum(z, 0)


def gelu(z: np.ndarray) -> np.ndarray:
    """z·Φ(z), with Φ the standard normal CDF (the exact form, as
    ``torch.nn.GELU()``).
    """
    z = np.asarray(z)
    return z * 0.5 * (1.0 + erf(z / math.sqrt(2.0)))


def _normal_pdf(z: np.ndarray) -> np.ndarray:
    return np.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)


# name -> (f, f'), each taking the pre-activation z.
ACTIVATIONS: dict[str, tuple[Callable, Callable]] = {
    "sigmoid": (sigmoid, lambda z: sigmoid(z) * (1.0 - sigmoid(z))),
    "tanh": (np.tanh, lambda z: 1.0 - np.tanh(z) ** 2),
    # The kink at 0 has no derivative; like PyTorch we use 0 there.
    "relu": (relu, lambda z: (np.asarray(z) > 0).astype(np.asarray(z).dtype)),
    "gelu": (
        gelu,
        lambda z: 0.5 * (1.0 + erf(z / math.sqrt(2.0))) + z * _normal_pdf(z),
    ),
    "identity": (lambda z: z, np.ones_like),
}


def activation(name: str, z: np.ndarray) -> np.ndarray:
    """Apply the activation called ``name`` (a key of ``ACTIVATIONS``) to ``z``."""
    return ACTIVATIONS[validate.choice("activation", name, ACTIVATIONS)][0](
        np.asarray(z)
    )


def activation_derivative(name: str, z: np.ndarray) -> np.ndarray:
    """The derivative f'(z) of the activation called ``name``, elementwise."""
    return ACTIVATIONS[validate.choice("activation", name, ACTIVATIONS)][1](
        np.asarray(z)
    )


# Softmax and losses --------------------------------------------------------


def _as_float_matrix(name: str, value: object) -> np.ndarray:
    """A float array of shape (batch, features) with at least one row."""
    array = validate.float_array(name, value, ndim=2, layout="(batch, features)")
    if array.shape[0] == 0:
        raise ValueError(f"{name} is an empty batch; expected at least one row")
    return array


def logsumexp(z: np.ndarray, axis: int = -1) -> np.ndarray:
    """log Σ exp(z) along ``axis``, shifted by the maximum so that nothing overflows."""
    z = np.asarray(z)
    shift = np.max(z, axis=axis, keepdims=True)
    return np.squeeze(shift, axis=axis) + np.log(np.sum(np.exp(z - shift), axis=axis))


def log_softmax(z: np.ndarray, axis: int = -1) -> np.ndarray:
    """log softmax(z) = z − logsumexp(z), stable for any finite logits."""
    z = np.asarray(z)
    return z - np.expand_dims(logsumexp(z, axis=axis), axis)


def softmax(z: np.ndarray, axis: int = -1) -> np.ndarray:
    """softmax(z)_k = e^(z_k) / Σ_j e^(z_j), computed as exp(log_softmax(z))."""
    return np.exp(log_softmax(z, axis=axis))


def check_labels(labels: object, batch: int, classes: int) -> np.ndarray:
    """Labels as an int array of shape (batch,), each in [0, classes); else a
    clear error.
    """
    array = np.asarray(labels)
    if not np.issubdtype(array.dtype, np.integer):
        raise TypeError(
            f"labels must be integer class indices, got dtype {array.dtype}; "
            "convert one-hot rows with labels.argmax(axis=1)"
        )
    if array.shape != (batch,):
        raise ValueError(
            f"labels must have shape ({batch},) to match the batch, got {array.shape}"
        )
    if array.min() < 0 or array.max() >= classes:
        raise ValueError(
            f"labels must lie in [0, {classes - 1}] for {classes} classes, "
            f"got values from {array.min()} to {array.max()}"
        )
    return array


def one_hot(labels: object, classes: int) -> np.ndarray:
    """Rows of the identity matrix: ``one_hot([2], 3) == [[0, 0, 1]]``."""
    classes = validate.count("classes", classes)
    array = check_labels(labels, np.size(labels), classes)
    return np.eye(classes)[array]


def cross_entropy(logits: np.ndarray, labels: object) -> float:
    """Mean over the batch of −log softmax(logits)[label], from logits
    (not probabilities).
    """
    logits = _as_float_matrix("logits", logits)
    labels = check_labels(labels, logits.shape[0], logits.shape[1])
    log_probs = log_softmax(logits)
    return float(-np.mean(log_probs[np.arange(len(labels)), labels]))


def cross_entropy_grad(logits: np.ndarray, labels: object) -> np.ndarray:
    """∂(mean cross-entropy)/∂logits = (softmax(logits) − one_hot(labels)) / batch."""
    logits = _as_float_matrix("logits", logits)
    labels = check_labels(labels, logits.shape[0], logits.shape[1])
    grad = softmax(logits)
    grad[np.arange(len(labels)), labels] -= 1.0
    return grad / len(labels)


def _check_same_shape(
    prediction: object, target: object
) -> tuple[np.ndarray, np.ndarray]:
    prediction, target = np.asarray(prediction), np.asarray(target)
    if prediction.shape != target.shape:
        raise ValueError(
            f"prediction and target must have the same shape, "
            f"got {prediction.shape} and {target.shape}"
        )
    if prediction.size == 0:
        raise ValueError("prediction is empty; expected at least one value")
    return prediction, target


def mse(prediction: np.ndarray, target: np.ndarray) -> float:
    """Mean squared error over every entry, as ``torch.nn.functional.mse_loss``."""
    prediction, target = _check_same_shape(prediction, target)
    return float(np.mean((prediction - target) ** 2))


def mse_grad(prediction: np.ndarray, target: np.ndarray) -> np.ndarray:
    """∂ mse / ∂ prediction = 2 (prediction − target) / (number of entries)."""
    prediction, target = _check_same_shape(prediction, target)
    return 2.0 * (prediction - target) / prediction.size


# The network ---------------------------------------------------------------


class MLP:
    """A fully connected network: ``sizes[0]`` inputs, hidden layers,
    ``sizes[-1]`` logits.

    The hidden layers use ``activation``; the last layer is linear (it returns
    logits). Weights start as in PyTorch's Kaiming/Xavier normal schemes: He for
    ReLU and GELU, Glorot for tanh and sigmoid; biases start at zero.

    >>> model = MLP([64, 32, 10], activation="relu", seed=0)
    >>> logits = model.forward(x)          # x: (batch, 64)
    >>> grads = model.backward(dlogits)    # same order as model.params
    """

    def __init__(
        self,
        sizes: list[int],
        activation: str = "relu",
        *,
        seed: int = 0,
        dtype: type = np.float64,
    ) -> None:
        if isinstance(sizes, str) or not isinstance(sizes, Sequence | np.ndarray):
            raise TypeError(f"sizes must be a list of layer widths, got {sizes!r}")
        if len(sizes) < 2:
            raise ValueError(
                "sizes must list at least two integers ≥ 1 "
                f"(inputs, ..., outputs), got {sizes!r}"
            )
        if np.dtype(dtype) not in (np.dtype(np.float32), np.dtype(np.float64)):
            raise ValueError(f"dtype must be float32 or float64, got {np.dtype(dtype)}")
        self.sizes = [validate.count(f"sizes[{i}]", s) for i, s in enumerate(sizes)]
        self.activation = validate.choice("activation", activation, ACTIVATIONS)
        self.dtype = np.dtype(dtype)
        he = activation in ("relu", "gelu")
        rng = np.random.default_rng(seed)
        self.weights, self.biases = [], []
        for fan_in, fan_out in zip(self.sizes[:-1], self.sizes[1:], strict=True):
            std = math.sqrt(2.0 / fan_in) if he else math.sqrt(2.0 / (fan_in + fan_out))
            self.weights.append(
                (rng.standard_normal((fan_out, fan_in)) * std).astype(dtype)
            )
            self.biases.append(np.zeros(fan_out, dtype=dtype))
        self._cache: list[tuple[np.ndarray, np.ndarray]] | None = None

    @property
    def params(self) -> list[np.ndarray]:
        """[W1, b1, W2, b2, ...]: the arrays themselves, so optimizers update
        them in place.
        """
        return [p for pair in zip(self.weights, self.biases, strict=True) for p in pair]

    @property
    def num_params(self) -> int:
        return sum(p.size for p in self.params)

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Logits for a batch ``x`` of shape (batch, sizes[0]); keeps what
        backward needs.
        """
        x = _as_float_matrix("x", x)
        if x.shape[1] != self.sizes[0]:
            raise ValueError(
                f"x has {x.shape[1]} features per row, but the "
                f"network expects {self.sizes[0]}"
            )
        f = ACTIVATIONS[self.activation][0]
        a = x.astype(self.dtype, copy=False)
        cache = []
        last = len(self.weights) - 1
        for layer, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            z = a @ w.T + b
            cache.append((a, z))  # the layer's input and its pre-activation
            a = z if layer == last else f(z)
        self._cache = cache
        return a

    def backward(self, dlogits: np.ndarray) -> list[np.ndarray]:
        """Gradients of the loss for every parameter, given ∂loss/∂logits of the
        last forward.

        The δ recursion of chapter 2: δ_L = ∂loss/∂Z_L, then for each layer
        ∂W = δᵀ A_prev, ∂b = Σ_rows δ, and δ_prev = (δ W) ⊙ f'(Z_prev).
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
        df = ACTIVATIONS[self.activation][1]
        grads: list[np.ndarray] = []
        for layer in reversed(range(len(self.weights))):
            a_prev, _ = self._cache[layer]
            grads[:0] = [delta.T @ a_prev, delta.sum(axis=0)]
            if layer > 0:
                _, z_prev = self._cache[layer - 1]
                delta = (delta @ self.weights[layer]) * df(z_prev)
        return grads

    def loss_and_grads(
        self, x: np.ndarray, labels: object
    ) -> tuple[float, list[np.ndarray]]:
        """Mean cross-entropy on (x, labels) and its gradient for every parameter."""
        logits = self.forward(x)
        loss = cross_entropy(logits, labels)
        return loss, self.backward(cross_entropy_grad(logits, labels))

    def predict(self, x: np.ndarray) -> np.ndarray:
        """The class with the largest logit, for each row of ``x``."""
        return self.forward(x).argmax(axis=1)

    def to_torch(self):
        """The same network as a ``torch.nn.Sequential``, with copies of
        these weights.
        """
        import torch

        layers = {
            "sigmoid": torch.nn.Sigmoid,
            "tanh": torch.nn.Tanh,
            "relu": torch.nn.ReLU,
        }
        layers |= {"gelu": torch.nn.GELU, "identity": torch.nn.Identity}
        modules = []
        for layer, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            linear = torch.nn.Linear(
                w.shape[1], w.shape[0], dtype=torch.from_numpy(w).dtype
            )
            with torch.no_grad():
                linear.weight.copy_(torch.from_numpy(w))
                linear.bias.copy_(torch.from_numpy(b))
            modules.append(linear)
            if layer < len(self.weights) - 1:
                modules.append(layers[self.activation]())
        return torch.nn.Sequential(*modules)


# Optimizers ----------------------------------------------------------------


def _check_grads(params: list[np.ndarray], grads: list[np.ndarray]) -> None:
    if len(params) != len(grads):
        raise ValueError(f"got {len(grads)} gradients for {len(params)} parameters")
    for index, (p, g) in enumerate(zip(params, grads, strict=True)):
        if np.shape(g) != p.shape:
            raise ValueError(
                f"gradient {index} has shape {np.shape(g)}, but its "
                f"parameter has shape {p.shape}"
            )


class SGD:
    """Gradient descent, with optional (heavy-ball) momentum, as ``torch.optim.SGD``.

    v ← μ·v + g,  θ ← θ − η·v   (with μ = 0 this is plain θ ← θ − η·g).
    """

    def __init__(self, lr: float, momentum: float = 0.0) -> None:
        self.lr = validate.positive("lr", lr)
        self.momentum = validate.probability("momentum", momentum, one=False)
        self.velocity: list[np.ndarray] | None = None

    def step(self, params: list[np.ndarray], grads: list[np.ndarray]) -> None:
        """Update ``params`` in place from ``grads`` (same order and shapes)."""
        _check_grads(params, grads)
        if self.momentum == 0.0:
            for p, g in zip(params, grads, strict=True):
                p -= self.lr * g
            return
        if self.velocity is None:
            self.velocity = [
                np.array(g, dtype=p.dtype) for p, g in zip(params, grads, strict=True)
            ]
        else:
            for v, g in zip(self.velocity, grads, strict=True):
                v *= self.momentum
                v += g
        for p, v in zip(params, self.velocity, strict=True):
            p -= self.lr * v


class Adam:
    """Adam (Kingma and Ba, 2015), as ``torch.optim.Adam`` without weight decay.

    m ← β1·m + (1−β1)·g,  s ← β2·s + (1−β2)·g²,
    θ ← θ − η · (m / (1−β1^t)) / (√(s / (1−β2^t)) + ε).
    """

    def __init__(
        self,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
    ) -> None:
        self.lr = validate.positive("lr", lr)
        if not isinstance(betas, tuple | list):
            raise TypeError(f"betas must be a pair (beta1, beta2), got {betas!r}")
        if len(betas) != 2:
            raise ValueError(f"betas must be a pair (beta1, beta2), got {betas!r}")
        self.beta1 = validate.probability("beta1", betas[0], one=False)
        self.beta2 = validate.probability("beta2", betas[1], one=False)
        self.eps = validate.positive("eps", eps)
        self.t = 0
        self.m: list[np.ndarray] = []
        self.s: list[np.ndarray] = []

    def step(self, params: list[np.ndarray], grads: list[np.ndarray]) -> None:
        """Update ``params`` in place from ``grads`` (same order and shapes)."""
        _check_grads(params, grads)
        if self.t == 0:
            self.m = [np.zeros_like(p) for p in params]
            self.s = [np.zeros_like(p) for p in params]
        self.t += 1
        correction1 = 1.0 - self.beta1**self.t
        correction2 = 1.0 - self.beta2**self.t
        for p, g, m, s in zip(params, grads, self.m, self.s, strict=True):
            m *= self.beta1
            m += (1.0 - self.beta1) * g
            s *= self.beta2
            s += (1.0 - self.beta2) * g * g
            p -= self.lr * (m / correction1) / (np.sqrt(s / correction2) + self.eps)


# Training helpers and gradient checks --------------------------------------


def minibatches(
    n: int, batch_size: int, rng: np.random.Generator
) -> Iterator[np.ndarray]:
    """Shuffled index arrays that cover range(n) once; the last batch may be smaller."""
    n, batch_size = validate.count("n", n), validate.count("batch_size", batch_size)
    order = rng.permutation(n)
    for start in range(0, n, batch_size):
        yield order[start : start + batch_size]


def numerical_gradient(
    loss: Callable[[], float], array: np.ndarray, h: float = 1e-6
) -> np.ndarray:
    """Central differences (L(θ + h) − L(θ − h)) / 2h for every entry of ``array``.

    ``loss`` takes no arguments and reads ``array``, which is perturbed in place
    and restored. The error of the estimate shrinks like h².
    """
    validate.float_array("array", array)  # a parameter the loss reads
    h = validate.positive("h", h)
    grad = np.zeros_like(array)
    flat, flat_grad = array.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        saved = flat[i]
        flat[i] = saved + h
        up = loss()
        flat[i] = saved - h
        down = loss()
        flat[i] = saved
        flat_grad[i] = (up - down) / (2.0 * h)
    return grad


def relative_error(a: np.ndarray, b: np.ndarray) -> float:
    """‖a − b‖ / (‖a‖ + ‖b‖): 0 when equal, scale-free, and defined when both are 0."""
    a, b = _check_same_shape(a, b)
    denominator = np.linalg.norm(a) + np.linalg.norm(b)
    return 0.0 if denominator == 0 else float(np.linalg.norm(a - b) / denominator)


def gradient_check(model: MLP, x: np.ndarray, labels: object, h: float = 1e-6) -> float:
    """Largest relative error between backprop and central differences over all
    parameters.
    """
    if not isinstance(model, MLP):
        raise TypeError(f"model must be an lmbook.nn.MLP, got {type(model).__name__}")
    _, grads = model.loss_and_grads(x, labels)
    errors = []
    for param, grad in zip(model.params, grads, strict=True):
        numeric = numerical_gradient(
            lambda: cross_entropy(model.forward(x), labels), param, h
        )
        errors.append(relative_error(grad, numeric))
    return max(errors)
