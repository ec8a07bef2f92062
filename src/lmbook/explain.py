"""Explaining a prediction: gradients, integrated gradients, and attention
(chapter 11.4).

- :func:`input_gradient`: the gradient of a scalar output with respect to the input
  (a saliency map when its absolute value is shown; see also
  :func:`lmbook.vision.saliency_map` for RGB images).
- :func:`integrated_gradients`: Sundararajan et al. (2017), with the Riemann or
  trapezoid rule along the straight path from a baseline.
- :class:`AttentionClassifier`: a bag of word embeddings pooled by additive attention,
  and :func:`same_output_attention`, which builds a very different attention
  distribution that gives exactly the same output (after Jain and Wallace, 2019).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from lmbook import validate


def _check_input(name: str, value: object) -> torch.Tensor:
    """A floating-point tensor, the only kind a gradient can be taken with
    respect to.
    """
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name} must be a torch tensor, got {type(value).__name__}")
    if not value.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got {value.dtype}")
    return value


def _check_pair(inputs: object, baseline: object) -> None:
    _check_input("inputs", inputs)
    _check_input("baseline", baseline)
    if baseline.shape != inputs.shape:
        raise ValueError(
            f"baseline must have the inputs' shape {tuple(inputs.shape)}, "
            f"got {tuple(baseline.shape)}"
        )


def input_gradient(forward: Callable, inputs: torch.Tensor) -> torch.Tensor:
    """∂f/∂x at ``inputs`` for a scalar function ``forward`` of a batch (chapter 11.4).

    ``forward`` maps a batch (n, *shape) to n scalars; ``inputs`` is one
    example (*shape).
    """
    _check_input("inputs", inputs)
    x = inputs.detach().clone().unsqueeze(0).requires_grad_(True)
    out = forward(x)
    if out.shape != (1,):
        raise ValueError(
            f"forward must return one scalar per example, got shape {tuple(out.shape)}"
        )
    (grad,) = torch.autograd.grad(out.sum(), x)
    return grad[0]


def integrated_gradients(
    forward: Callable,
    inputs: torch.Tensor,
    baseline: torch.Tensor,
    *,
    steps: int = 50,
    rule: str = "trapezoid",
) -> torch.Tensor:
    """Integrated gradients of a scalar ``forward`` at ``inputs``
    (Sundararajan et al., 2017).

    IG_i = (x_i − x'_i) ∫₀¹ ∂f/∂x_i (x' + t(x − x')) dt, the integral taken with
    ``steps`` intervals by the ``"trapezoid"`` or ``"right"`` Riemann rule.
    Completeness: the attributions sum to f(x) − f(x') as ``steps`` grows
    (chapter 11.4).
    """
    _check_pair(inputs, baseline)
    steps = validate.count("steps", steps)
    validate.choice("rule", rule, ("trapezoid", "right"))
    t = torch.linspace(0, 1, steps + 1, dtype=inputs.dtype)
    weights = torch.full((steps + 1,), 1.0 / steps, dtype=inputs.dtype)
    if rule == "trapezoid":
        weights[0] = weights[-1] = 0.5 / steps
    else:
        t, weights = t[1:], weights[1:]
    shape = (-1,) + (1,) * inputs.ndim
    path = (
        (baseline + t.view(shape) * (inputs - baseline)).detach().requires_grad_(True)
    )
    out = forward(path)
    if out.shape != (len(t),):
        raise ValueError(
            f"forward must return one scalar per example, got shape {tuple(out.shape)}"
        )
    (grads,) = torch.autograd.grad(out.sum(), path)
    return (inputs - baseline) * (weights.view(shape) * grads).sum(dim=0)


class AttentionClassifier(torch.nn.Module):
    """Word embeddings → additive attention pooling → one logit (chapter 11.4).

    score_i = vᵀ tanh(W e_i), α = softmax(score) over real tokens,
    logit = uᵀ Σ α_i e_i + c. Because the head is linear, logit = Σ α_i s_i + c
    with a per-word score s_i = uᵀ e_i.
    """

    def __init__(self, vocab_size: int, dim: int = 32):
        super().__init__()
        # Padding and at least one word.
        validate.integer("vocab_size", vocab_size, minimum=2)
        validate.count("dim", dim)
        self.embed = torch.nn.Embedding(vocab_size, dim, padding_idx=0)
        self.key = torch.nn.Linear(dim, dim)
        self.query = torch.nn.Linear(dim, 1, bias=False)
        self.head = torch.nn.Linear(dim, 1)

    def attention(self, vectors: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        scores = self.query(torch.tanh(self.key(vectors))).squeeze(-1)
        return torch.softmax(scores.masked_fill(mask == 0, float("-inf")), dim=-1)

    def from_embeddings(
        self,
        vectors: torch.Tensor,
        mask: torch.Tensor,
        attention: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """The logit from word vectors (batch, length, dim); ``attention``
        overrides α.
        """
        alpha = self.attention(vectors, mask) if attention is None else attention
        return self.head((alpha.unsqueeze(-1) * vectors).sum(dim=1)).squeeze(-1)

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.from_embeddings(self.embed(ids), mask)

    def word_scores(self, ids: torch.Tensor) -> torch.Tensor:
        """s_i = uᵀ e_i: what each word would add to the logit with all the
        attention on it.
        """
        return self.embed(ids) @ self.head.weight[0]


def same_output_attention(
    scores: torch.Tensor, attention: torch.Tensor
) -> torch.Tensor | None:
    """Another attention distribution over the same words with exactly the same output.

    The output depends on α only through Σ α_i s_i. Leave out the word with the most
    attention, pick the lowest- and highest-scoring of the others, and mix those two so
    the sum is unchanged. Returns None when the target lies outside their range (one
    sentence: 1-D ``scores`` and ``attention`` over its real words).
    """
    if not isinstance(scores, torch.Tensor) or not isinstance(attention, torch.Tensor):
        raise TypeError("scores and attention must be torch tensors")
    if scores.ndim != 1 or scores.shape != attention.shape:
        raise ValueError("scores and attention must be 1-D tensors of the same length")
    target = float((attention * scores).sum())
    top = int(attention.argmax())
    others = [i for i in range(len(scores)) if i != top]
    if len(others) < 2:
        return None
    rest = scores[others]
    low, high = others[int(rest.argmin())], others[int(rest.argmax())]
    s_low, s_high = float(scores[low]), float(scores[high])
    if not s_low <= target <= s_high or s_high == s_low:
        return None
    alternative = torch.zeros_like(attention)
    alternative[low] = (s_high - target) / (s_high - s_low)
    alternative[high] = 1 - alternative[low]
    return alternative
