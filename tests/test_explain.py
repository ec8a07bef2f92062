"""Tests for lmbook.explain (chapter 11): integrated gradients and the attention counterexample."""

import pytest
import torch
from captum.attr import IntegratedGradients

from lmbook import explain


def test_integrated_gradients_exact_for_a_quadratic():
    a = torch.tensor([1.0, -2.0, 0.5])

    def f(batch):
        return (a * batch**2).sum(dim=1)

    x, base = torch.tensor([1.0, 2.0, -3.0]), torch.tensor([0.5, 0.0, 1.0])
    # ∂f/∂x_i is linear along the path, so the trapezoid rule is exact: a_i (x_i² − x'_i²).
    ig = explain.integrated_gradients(f, x, base, steps=3)
    torch.testing.assert_close(ig, a * (x**2 - base**2))


def test_completeness_improves_with_steps():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))

    def f(batch):
        return net(batch)[:, 0]

    x, base = torch.randn(4) * 3, torch.zeros(4)
    gap = (f(x[None]) - f(base[None])).item()
    errors = [
        abs(explain.integrated_gradients(f, x, base, steps=m).sum().item() - gap)
        for m in (2, 8, 64)
    ]
    assert errors[0] > errors[1] > errors[2] and errors[2] < 1e-3


def test_matches_captum_right_riemann():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3))
    x, base = torch.randn(4), torch.zeros(4)
    ours = explain.integrated_gradients(lambda b: net(b)[:, 2], x, base, steps=20, rule="right")
    theirs = IntegratedGradients(net).attribute(
        x[None], base[None], target=2, n_steps=20, method="riemann_right"
    )[0]
    torch.testing.assert_close(ours, theirs, atol=1e-6, rtol=1e-5)


def test_input_gradient_and_bad_inputs():
    w = torch.tensor([1.0, -1.0])
    torch.testing.assert_close(explain.input_gradient(lambda b: b @ w, torch.ones(2)), w)
    f, x, base = (lambda b: b.sum(1)), torch.ones(2), torch.zeros(2)
    with pytest.raises(
        ValueError, match=r"baseline must have the inputs' shape \(2,\), got \(3,\)"
    ):
        explain.integrated_gradients(f, x, torch.zeros(3))
    with pytest.raises(TypeError, match="baseline must be a torch tensor, got list"):
        explain.integrated_gradients(f, x, [0.0, 0.0])
    with pytest.raises(TypeError, match="inputs must be a floating-point tensor, got torch.int64"):
        explain.integrated_gradients(f, torch.ones(2, dtype=torch.long), base)
    with pytest.raises(ValueError, match="steps must be an integer ≥ 1, got 0"):
        explain.integrated_gradients(f, x, base, steps=0)
    with pytest.raises(TypeError, match="steps must be an integer ≥ 1, got 50.0"):
        explain.integrated_gradients(f, x, base, steps=50.0)
    with pytest.raises(ValueError, match="rule must be one of 'trapezoid', 'right'; got 'x'"):
        explain.integrated_gradients(f, x, base, rule="x")
    with pytest.raises(TypeError, match="inputs must be a torch tensor, got list"):
        explain.input_gradient(f, [1.0, 2.0])
    with pytest.raises(ValueError, match="vocab_size must be an integer ≥ 2, got 1"):
        explain.AttentionClassifier(1)
    with pytest.raises(TypeError, match="dim must be an integer ≥ 1, got 32.0"):
        explain.AttentionClassifier(20, dim=32.0)


def test_same_output_attention_keeps_the_logit():
    ids = torch.tensor([[3, 5, 7, 9, 11, 13]])
    mask = torch.ones_like(ids)
    found = 0
    for seed in range(10):
        torch.manual_seed(seed)
        model = explain.AttentionClassifier(20, dim=4)
        vectors = model.embed(ids)
        alpha = model.attention(vectors, mask)[0].detach()
        scores = model.word_scores(ids)[0].detach()
        alternative = explain.same_output_attention(scores, alpha)
        if alternative is None:
            continue
        found += 1
        assert alternative[alpha.argmax()] == 0 and abs(alternative.sum().item() - 1) < 1e-6
        with torch.no_grad():
            new = model.from_embeddings(vectors, mask, alternative[None])
            torch.testing.assert_close(new, model(ids, mask), atol=1e-5, rtol=0)
    assert found >= 3
    with pytest.raises(ValueError, match="1-D tensors of the same length"):
        explain.same_output_attention(scores, alpha[:3])
    with pytest.raises(TypeError, match="torch tensors"):
        explain.same_output_attention(scores.tolist(), alpha)
