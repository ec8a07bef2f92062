"""lmbook.attention against F.scaled_dot_product_attention, nn.MultiheadAttention and Keras."""

import math
import subprocess
import sys

import numpy as np
import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from lmbook import attention as att

F = torch.nn.functional
DTYPES = [(np.float32, 1e-5), (np.float64, 1e-12)]

# (leading axes, n_q, n_k, d_k, d_v)
SHAPES = [
    ((2,), 5, 5, 8, 8),
    ((2, 3), 3, 7, 4, 6),
    ((), 1, 1, 1, 1),
    ((1, 2), 6, 4, 16, 2),
    ((3, 4), 10, 10, 32, 32),
]
SHAPE_IDS = [
    f"{'x'.join(map(str, s[0])) or 'none'}-q{s[1]}-k{s[2]}-d{s[3]}-v{s[4]}" for s in SHAPES
]
MASKS = ["none", "bool", "float", "causal", "bool+causal", "broadcast"]


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def make_qkv(rng, shape, dtype):
    lead, n_q, n_k, d_k, d_v = shape
    return (
        rng.standard_normal((*lead, n_q, d_k)).astype(dtype),
        rng.standard_normal((*lead, n_k, d_k)).astype(dtype),
        rng.standard_normal((*lead, n_k, d_v)).astype(dtype),
    )


def make_mask(rng, kind, shape, dtype):
    """(our mask, our causal flag, torch's attn_mask, torch's is_causal) for one mask kind."""
    lead, n_q, n_k = shape[:3]
    keep = rng.random((*lead, n_q, n_k)) > 0.3
    keep[..., 0] = True  # every row keeps a key (fully masked rows are tested separately)
    tril = np.tril(np.ones((n_q, n_k), dtype=bool))
    if kind == "none":
        return None, False, None, False
    if kind == "bool":
        return keep, False, torch.from_numpy(keep), False
    if kind == "float":
        additive = np.where(keep, rng.standard_normal(keep.shape), -np.inf).astype(dtype)
        return additive, False, torch.from_numpy(additive), False
    if kind == "causal":
        return None, True, None, True
    if kind == "bool+causal":  # torch refuses both together: give it their AND
        return keep, True, torch.from_numpy(keep & tril), False
    row = keep[(0,) * len(lead)][..., :1, :]  # (1, n_k): one row for every query and batch
    return row, False, torch.from_numpy(row), False


def torch_sdpa(q, k, v, mask, is_causal):
    return F.scaled_dot_product_attention(
        *(torch.from_numpy(x) for x in (q, k, v)), attn_mask=mask, is_causal=is_causal
    )


# Scaled dot-product attention ------------------------------------------------


@pytest.mark.parametrize(("dtype", "tol"), DTYPES)
@pytest.mark.parametrize("kind", MASKS)
@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
def test_sdpa_matches_torch(shape, kind, dtype, tol, rng):
    q, k, v = make_qkv(rng, shape, dtype)
    mask, causal, torch_mask, is_causal = make_mask(rng, kind, shape, dtype)
    expected = torch_sdpa(q, k, v, torch_mask, is_causal).numpy()
    out, weights = att.scaled_dot_product_attention(
        q, k, v, mask, causal=causal, return_weights=True
    )
    assert out.dtype == dtype and out.shape == expected.shape
    assert np.abs(out - expected).max() < tol
    out_t, weights_t = att.scaled_dot_product_attention_torch(
        *(torch.from_numpy(x) for x in (q, k, v)), mask, causal=causal, return_weights=True
    )
    assert out_t.dtype == torch.from_numpy(q).dtype
    assert np.abs(out_t.numpy() - expected).max() < tol
    assert np.abs(weights_t.numpy() - weights).max() < tol
    np.testing.assert_allclose(weights.sum(axis=-1), 1.0, atol=10 * tol)
    assert weights.min() >= 0
    if torch_mask is not None and torch_mask.dtype == torch.bool:
        masked = np.broadcast_to(~torch_mask.numpy(), weights.shape)
        assert np.all(weights[masked] == 0)  # masked keys get no weight
    if causal:
        assert np.all(np.triu(weights, k=1) == 0)


def test_weights_are_the_softmax_of_scaled_scores(rng):
    q, k, v = make_qkv(rng, ((2,), 4, 6, 8, 3), np.float64)
    out, weights = att.scaled_dot_product_attention(q, k, v, return_weights=True)
    scores = torch.from_numpy(q) @ torch.from_numpy(k).transpose(-2, -1) / math.sqrt(8)
    np.testing.assert_allclose(weights, torch.softmax(scores, dim=-1).numpy(), atol=1e-14)
    np.testing.assert_allclose(out, weights @ v, atol=1e-14)


@pytest.mark.parametrize("scale", [0.05, 1.0, 3])
def test_custom_scale_matches_torch(scale, rng):
    q, k, v = make_qkv(rng, ((2,), 5, 6, 4, 3), np.float64)
    expected = F.scaled_dot_product_attention(
        *(torch.from_numpy(x) for x in (q, k, v)), scale=scale
    ).numpy()
    np.testing.assert_allclose(att.scaled_dot_product_attention(q, k, v, scale=scale), expected)


def test_gradients_match_torch_sdpa(rng):
    q, k, v = make_qkv(rng, ((2, 2), 5, 6, 8, 4), np.float64)
    keep = rng.random((5, 6)) > 0.4
    keep[:, 0] = True
    grads = []
    for use_ours in (True, False):
        xs = [torch.tensor(x, requires_grad=True) for x in (q, k, v)]
        if use_ours:
            out = att.scaled_dot_product_attention_torch(*xs, keep, causal=True)
        else:
            mask = torch.from_numpy(keep) & torch.ones(5, 6, dtype=torch.bool).tril()
            out = F.scaled_dot_product_attention(*xs, attn_mask=mask)
        out.pow(2).sum().backward()
        grads.append([x.grad for x in xs])
    for ours, theirs in zip(*grads, strict=True):
        assert (ours - theirs).abs().max() < 1e-12


def test_fully_masked_rows_give_zero_weights_and_output(rng):
    q, k, v = make_qkv(rng, ((2,), 4, 5, 3, 2), np.float32)
    keep = np.ones((2, 4, 5), dtype=bool)
    keep[0, 1] = False  # query 1 of sequence 0 may attend to nothing
    additive = np.where(keep, 0.0, -np.inf).astype(np.float32)
    for mask in (keep, additive):
        out, weights = att.scaled_dot_product_attention(q, k, v, mask, return_weights=True)
        assert np.all(weights[0, 1] == 0) and np.all(out[0, 1] == 0)
        assert np.isfinite(out).all()
        np.testing.assert_allclose(np.delete(weights[0], 1, axis=0).sum(-1), 1.0, atol=1e-6)
        out_t = att.scaled_dot_product_attention_torch(
            *(torch.from_numpy(x) for x in (q, k, v)), mask
        )
        # PyTorch >= 2.5 returns 0 there too
        expected = torch_sdpa(q, k, v, torch.from_numpy(mask), False).numpy()
        assert np.abs(out - expected).max() < 1e-5 and np.abs(out_t.numpy() - expected).max() < 1e-5
    xs = [torch.tensor(x, requires_grad=True) for x in (q, k, v)]
    att.scaled_dot_product_attention_torch(*xs, keep).sum().backward()
    assert all(torch.isfinite(x.grad).all() for x in xs)  # no NaN leaks into the gradients


def test_large_finite_negative_mask_is_not_a_full_mask(rng):
    q, k, v = make_qkv(rng, ((), 2, 3, 4, 2), np.float64)
    _, weights = att.scaled_dot_product_attention(
        q, k, v, np.full((2, 3), -1e9), return_weights=True
    )
    np.testing.assert_allclose(weights.sum(-1), 1.0)  # a shift of every score changes nothing


def test_causal_mask_matches_torch_tril():
    for n_q, n_k in ((4, 4), (3, 6), (6, 3), (1, 1)):
        expected = torch.ones(n_q, n_k, dtype=torch.bool).tril().numpy()
        np.testing.assert_array_equal(att.causal_mask(n_q, n_k), expected)
    assert att.causal_mask(3).shape == (3, 3) and att.causal_mask(3).dtype == bool


def test_padding_mask_from_lengths():
    mask = att.padding_mask([3, 1, 0])
    np.testing.assert_array_equal(mask, [[1, 1, 1], [1, 0, 0], [0, 0, 0]])
    assert mask.dtype == bool and att.padding_mask(np.array([2]), 4).tolist() == [[1, 1, 0, 0]]


# Multi-head attention ---------------------------------------------------------

B, N, E, H = 3, 6, 8, 2


def torch_mha(seed=0, bias=True, dtype=torch.float32, embed=E, heads=H):
    torch.manual_seed(seed)
    module = torch.nn.MultiheadAttention(embed, heads, bias=bias, batch_first=True, dtype=dtype)
    if bias:  # PyTorch starts the biases at zero: make them count
        with torch.no_grad():
            module.in_proj_bias.normal_()
            module.out_proj.bias.normal_()
    return module.eval()


def mha_case(case, rng, dtype):
    """(query, key, our masks, torch's masks) for one multi-head attention case."""
    n_k = 4 if case in ("cross", "cross+padding") else N
    query = rng.standard_normal((B, N, E)).astype(dtype)
    key = query if n_k == N and case != "float-mask" else rng.standard_normal((B, n_k, E))
    key = key.astype(dtype)
    ours, theirs = {}, {}
    if "padding" in case:
        keep = att.padding_mask([n_k, 2, 3], n_k)
        ours["key_padding_mask"], theirs["key_padding_mask"] = keep, torch.from_numpy(~keep)
    if case == "causal":
        ours["causal"] = True
        theirs["attn_mask"] = torch.from_numpy(~att.causal_mask(N))
    if case == "mask-2d":
        keep = rng.random((N, n_k)) > 0.3
        keep[:, 0] = True
        ours["attn_mask"], theirs["attn_mask"] = keep, torch.from_numpy(~keep)
    if case == "mask-3d":  # ours is (batch, n_q, n_k); torch wants (batch * heads, n_q, n_k)
        keep = rng.random((B, N, n_k)) > 0.3
        keep[..., 0] = True
        ours["attn_mask"] = keep
        theirs["attn_mask"] = torch.from_numpy(~keep).repeat_interleave(H, dim=0)
    if case == "float-mask":
        additive = rng.standard_normal((N, n_k)).astype(dtype)
        additive[rng.random((N, n_k)) > 0.7] = -np.inf
        additive[:, 0] = 0.0
        ours["attn_mask"], theirs["attn_mask"] = additive, torch.from_numpy(additive)
    return query, key, ours, theirs


MHA_CASES = ["self", "cross", "padding", "cross+padding", "causal", "mask-2d", "mask-3d"]
MHA_CASES += ["float-mask", "causal+padding"]


@pytest.mark.parametrize(("dtype", "tol"), DTYPES)
@pytest.mark.parametrize("case", MHA_CASES)
def test_multi_head_attention_matches_torch(case, dtype, tol, rng):
    module = torch_mha(dtype=torch.from_numpy(np.zeros(1, dtype)).dtype)
    query, key, ours, theirs = mha_case(case, rng, dtype)
    if case == "causal+padding":
        ours["causal"], theirs["attn_mask"] = True, torch.from_numpy(~att.causal_mask(N))
    tq, tk = torch.from_numpy(query), torch.from_numpy(key)
    with torch.no_grad():
        expected, expected_w = module(tq, tk, tk, need_weights=True, **theirs)
        _, expected_heads = module(tq, tk, tk, average_attn_weights=False, **theirs)
    params = att.mha_params_from_torch(module, dtype=dtype)
    out, weights = att.multi_head_attention(query, key, key, params, H, return_weights=True, **ours)
    _, heads = att.multi_head_attention(
        query, key, key, params, H, return_weights=True, average_attn_weights=False, **ours
    )
    assert out.dtype == dtype and out.shape == (B, N, E) and heads.shape == expected_heads.shape
    assert np.abs(out - expected.numpy()).max() < tol
    assert np.abs(weights - expected_w.numpy()).max() < tol
    assert np.abs(heads - expected_heads.numpy()).max() < tol
    torch_params = {name: torch.from_numpy(value) for name, value in params.items()}
    out_t = att.multi_head_attention_torch(tq, tk, tk, torch_params, H, **ours)
    assert np.abs(out_t.detach().numpy() - expected.numpy()).max() < tol


def test_multi_head_attention_without_bias_and_with_more_heads(rng):
    module = torch_mha(bias=False, embed=12, heads=4, dtype=torch.float64)
    x = rng.standard_normal((2, 5, 12))
    with torch.no_grad():
        expected = module(*(torch.from_numpy(x),) * 3, need_weights=False)[0].numpy()
    params = att.mha_params_from_torch(module)
    assert not params["in_proj_bias"].any() and not params["out_proj_bias"].any()
    np.testing.assert_allclose(att.multi_head_attention(x, x, x, params, 4), expected, atol=1e-12)


def test_multi_head_attention_torch_has_gradients(rng):
    module = torch_mha(dtype=torch.float64)
    x = torch.tensor(rng.standard_normal((B, N, E)), requires_grad=True)
    params = {
        name: p.detach().clone().requires_grad_()
        for name, p in [
            ("in_proj_weight", module.in_proj_weight),
            ("in_proj_bias", module.in_proj_bias),
            ("out_proj_weight", module.out_proj.weight),
            ("out_proj_bias", module.out_proj.bias),
        ]
    }
    att.multi_head_attention_torch(x, x, x, params, H, causal=True).sum().backward()
    module(x, x, x, attn_mask=torch.from_numpy(~att.causal_mask(N)))[0].sum().backward()
    assert (params["in_proj_weight"].grad - module.in_proj_weight.grad).abs().max() < 1e-12
    assert (params["out_proj_weight"].grad - module.out_proj.weight.grad).abs().max() < 1e-12


def test_fully_padded_sequence_gives_the_output_bias(rng):
    module = torch_mha()
    x = rng.standard_normal((2, 4, E)).astype(np.float32)
    keep = att.padding_mask([4, 0], 4)  # the second sequence is all padding
    with torch.no_grad():
        theirs = module(*(torch.from_numpy(x),) * 3, key_padding_mask=torch.from_numpy(~keep))[0]
    assert torch.isnan(theirs[1]).all()  # nn.MultiheadAttention gives NaN ...
    params = att.mha_params_from_torch(module, dtype=np.float32)
    out = att.multi_head_attention(x, x, x, params, H, key_padding_mask=keep)
    np.testing.assert_allclose(out[1], np.broadcast_to(params["out_proj_bias"], (4, E)))  # ours 0
    assert np.abs(out[0] - theirs[0].numpy()).max() < 1e-5


def test_numpy_mha_runs_on_its_own_params(rng):
    params = att.init_mha_params(16, seed=1)
    assert {name: p.shape for name, p in params.items()} == {
        "in_proj_weight": (48, 16),
        "in_proj_bias": (48,),
        "out_proj_weight": (16, 16),
        "out_proj_bias": (16,),
    }
    x = rng.standard_normal((2, 3, 16))
    out, weights = att.multi_head_attention(x, x, x, params, 4, return_weights=True)
    assert out.shape == (2, 3, 16) and weights.shape == (2, 3, 3)
    assert att.init_mha_params(8, dtype=np.float32)["in_proj_weight"].dtype == np.float32


def test_multi_head_attention_matches_keras(rng):
    from lmbook.env import prepare_tensorflow

    prepare_tensorflow()  # before TensorFlow loads: Triton must come first
    import keras

    layer = keras.layers.MultiHeadAttention(num_heads=H, key_dim=E // H)
    query = rng.standard_normal((B, N, E)).astype(np.float32)
    value = rng.standard_normal((B, 4, E)).astype(np.float32)
    keep = rng.random((B, N, 4)) > 0.3  # Keras: True = attend, as lmbook
    keep[..., 0] = True
    layer(query, value, attention_mask=keep)  # build the layer
    for variable in layer.weights:  # Keras starts the biases at zero: make them count
        if variable.path.endswith("bias"):
            variable.assign(rng.standard_normal(variable.shape).astype(np.float32))
    expected, scores = layer(query, value, attention_mask=keep, return_attention_scores=True)
    params = att.mha_params_from_keras(layer, dtype=np.float32)
    out, weights = att.multi_head_attention(
        query,
        value,
        value,
        params,
        H,
        attn_mask=keep,
        return_weights=True,
        average_attn_weights=False,
    )
    assert np.abs(out - np.asarray(expected)).max() < 1e-5
    assert np.abs(weights - np.asarray(scores)).max() < 1e-5


# Positional encoding ---------------------------------------------------------


def test_sinusoidal_encoding_matches_the_formula():
    n, d = 50, 16
    pe = att.sinusoidal_positional_encoding(n, d)
    assert pe.shape == (n, d) and pe.dtype == np.float64
    for pos in range(n):
        for i in range(d // 2):
            angle = pos / 10000 ** (2 * i / d)
            assert pe[pos, 2 * i] == pytest.approx(math.sin(angle), abs=1e-12)
            assert pe[pos, 2 * i + 1] == pytest.approx(math.cos(angle), abs=1e-12)
    assert att.sinusoidal_positional_encoding(4, 6, dtype=np.float32).dtype == np.float32


def test_sinusoidal_encoding_properties():
    n, d = 64, 32
    pe = att.sinusoidal_positional_encoding(n, d)
    np.testing.assert_allclose(pe[0], np.tile([0.0, 1.0], d // 2))  # position 0
    np.testing.assert_allclose(pe[:, 0::2] ** 2 + pe[:, 1::2] ** 2, 1.0)  # each pair on a circle
    np.testing.assert_allclose(np.linalg.norm(pe, axis=1), math.sqrt(d / 2))
    # PE[p + k] is PE[p] turned by angles that depend on k only: a fixed linear map.
    omega = 10000.0 ** (-np.arange(0, d, 2) / d)
    for k in (1, 5, 17):
        c, s = np.cos(k * omega), np.sin(k * omega)
        sin_p, cos_p = pe[:-k, 0::2], pe[:-k, 1::2]
        np.testing.assert_allclose(pe[k:, 0::2], sin_p * c + cos_p * s, atol=1e-12)
        np.testing.assert_allclose(pe[k:, 1::2], cos_p * c - sin_p * s, atol=1e-12)
        dots = np.einsum("pd,pd->p", pe[:-k], pe[k:])  # so PE[p]·PE[p+k] ignores p
        np.testing.assert_allclose(dots, dots[0], atol=1e-10)
    # the wavelengths grow geometrically from 2π to 2π·10000^((d-2)/d)
    np.testing.assert_allclose(
        2 * np.pi / omega[[0, -1]], [2 * np.pi, 2 * np.pi * 10000 ** (30 / 32)]
    )


# Cost ------------------------------------------------------------------------


def test_attention_cost_formula():
    cost = att.attention_cost(1024, 768, 12, batch=2, bytes_per_element=2)
    assert cost["score_flops"] == cost["mix_flops"] == 2 * 2 * 1024**2 * 768
    assert cost["projection_flops"] == 8 * 2 * 1024 * 768**2
    assert cost["total_flops"] == sum(
        cost[k] for k in ("score_flops", "mix_flops", "projection_flops")
    )
    assert (
        cost["score_elements"] == 2 * 12 * 1024**2
        and cost["score_bytes"] == 2 * cost["score_elements"]
    )
    # doubling n quadruples the score matrix
    assert (
        att.attention_cost(2048, 768, 12)["score_bytes"]
        == 4 * att.attention_cost(1024, 768, 12)["score_bytes"]
    )


@pytest.mark.parametrize(
    ("n", "d", "heads", "batch"), [(16, 8, 2, 1), (32, 24, 3, 2), (7, 4, 1, 3)]
)
def test_attention_cost_matches_torch_flop_counter(n, d, heads, batch):
    x = torch.randn(batch, n, d)
    params = {
        name: torch.as_tensor(p) for name, p in att.init_mha_params(d, dtype=np.float32).items()
    }
    with FlopCounterMode(display=False) as counter:
        _, weights = att.multi_head_attention_torch(
            x, x, x, params, heads, return_weights=True, average_attn_weights=False
        )
    cost = att.attention_cost(n, d, heads, batch=batch)
    assert counter.get_total_flops() == cost["total_flops"]
    assert weights.numel() == cost["score_elements"]
    assert weights.numel() * weights.element_size() == cost["score_bytes"]


# Bad inputs ------------------------------------------------------------------

Q = np.zeros((2, 5, 4))
K = np.zeros((2, 6, 4))
V = np.zeros((2, 6, 3))
X = np.zeros((2, 5, 8))
P = att.init_mha_params(8)
SDPA = att.scaled_dot_product_attention
MHA = att.multi_head_attention


@pytest.mark.parametrize(
    ("make_call", "error", "message"),
    [
        (lambda: SDPA(Q, K[..., :3], V), ValueError, r"same feature size d_k.*q \(2, 5, 4\)"),
        (lambda: SDPA(Q, K, V[:, :5]), ValueError, r"same number of positions n_k"),
        (lambda: SDPA(Q, K[:1], V[:1]), ValueError, "share their leading"),
        (lambda: SDPA(Q, K[None], V), ValueError, "same number of dimensions"),
        (lambda: SDPA(Q[0, 0], K, V), ValueError, r"at least 2 dimensions"),
        (lambda: SDPA(Q[:, :0], K, V), ValueError, "empty dimension"),
        (lambda: SDPA(Q.tolist(), K, V), TypeError, "NumPy array, got list"),
        (lambda: SDPA(torch.zeros(2, 5, 4), K, V), TypeError, r"\*_torch function"),
        (lambda: SDPA(Q.astype(int), K, V), TypeError, "float32 or float64.*int64"),
        (lambda: SDPA(Q.astype(np.float32), K, V), TypeError, "share one dtype"),
        (lambda: SDPA(Q, K, V, np.ones((5, 5), bool)), ValueError, r"shape \(5, 5\).*\(2, 5, 6\)"),
        (lambda: SDPA(Q, K, V, np.ones((3, 5, 6), bool)), ValueError, "does not broadcast"),
        (lambda: SDPA(Q, K, V, np.ones((1, 2, 5, 6), bool)), ValueError, "does not broadcast"),
        (lambda: SDPA(Q, K, V, np.ones((5, 6), int)), TypeError, "boolean .* or float"),
        (lambda: SDPA(Q, K, V, np.full((5, 6), np.nan)), ValueError, "not NaN|finite values"),
        (lambda: SDPA(Q, K, V, [[True] * 6] * 5), TypeError, "mask must be a NumPy array"),
        (
            lambda: SDPA(Q, K, V, scale=0.0),
            ValueError,
            "scale must be a finite number > 0, got 0.0",
        ),
        (lambda: SDPA(Q, K, V, scale="1"), TypeError, "scale must be a finite number > 0, got '1'"),
        (lambda: SDPA(Q, K, V, return_weights=None), TypeError, "return_weights must be True or"),
        (lambda: SDPA(Q, K, V, causal=1), TypeError, "causal must be True or False"),
        (lambda: att.scaled_dot_product_attention_torch(Q, K, V), TypeError, "torch.from_numpy"),
        (
            lambda: att.scaled_dot_product_attention_torch(
                torch.zeros(2, 5, 4), torch.zeros(2, 6, 4), torch.zeros(2, 6, 3, dtype=torch.int64)
            ),
            TypeError,
            "v must hold floats",
        ),
        (
            lambda: att.scaled_dot_product_attention_torch(
                *(torch.from_numpy(a) for a in (Q, K, V)), torch.ones(6, 5, dtype=torch.bool)
            ),
            ValueError,
            "does not broadcast",
        ),
        (lambda: MHA(X, X, X, P, 3), ValueError, "num_heads = 3 does not divide embed_dim = 8"),
        (lambda: MHA(X, X, X, P, 0), ValueError, "num_heads must be an integer ≥ 1, got 0"),
        (lambda: MHA(X, X, X, P, 2.0), TypeError, "num_heads must be an integer ≥ 1, got 2.0"),
        (lambda: MHA(X.astype(int), X, X, P, 2), TypeError, "query must be a float32 or float64"),
        (
            lambda: MHA(X, X, X, {**P, "in_proj_bias": P["in_proj_bias"].astype(int)}, 2),
            TypeError,
            r"params\['in_proj_bias'\] must be a float32 or float64 array, got dtype int64",
        ),
        (
            lambda: MHA(X, X, X, P, 2, average_attn_weights="yes"),
            TypeError,
            "average_attn_weights must be True or False, got 'yes'",
        ),
        (
            lambda: MHA(X[0], X[0], X[0], P, 2),
            ValueError,
            r"3-D \(batch, n, embed_dim\).*x\[None\]",
        ),
        (lambda: MHA(X, X[..., :4], X[..., :4], P, 2), ValueError, "embed_dim = 8 as the query"),
        (lambda: MHA(X, X[:1], X[:1], P, 2), ValueError, "batch = 2"),
        (lambda: MHA(X, X, X[:, :3], P, 2), ValueError, "key and value must have the same shape"),
        (
            lambda: MHA(X, X, X, att.init_mha_params(4), 2),
            ValueError,
            r"in_proj_weight'\] has shape \(12, 4\), expected \(24, 8\)",
        ),
        (
            lambda: MHA(X, X, X, {"in_proj_weight": P["in_proj_weight"]}, 2),
            ValueError,
            "params lack",
        ),
        (lambda: MHA(X, X, X, list(P.values()), 2), TypeError, "dict of arrays"),
        (lambda: MHA(X, X, X, {**P, "out_proj_bias": [0.0] * 8}, 2), TypeError, "must be an array"),
        (
            lambda: MHA(X, X, X, P, 2, attn_mask=np.ones((5, 4), bool)),
            ValueError,
            r"attn_mask has shape \(5, 4\); expected \(n_q, n_k\) = \(5, 5\)",
        ),
        (
            lambda: MHA(X, X, X, P, 2, attn_mask=np.ones((4, 5, 5), bool)),
            ValueError,
            r"\(batch, n_q, n_k\) = \(2, 5, 5\)",
        ),
        (
            lambda: MHA(X, X, X, P, 2, attn_mask=np.ones((2, 3, 5, 5), bool)),
            ValueError,
            "does not broadcast",
        ),
        (lambda: MHA(X, X, X, P, 2, attn_mask=np.ones(5, bool)), ValueError, "2-, 3- or 4-D"),
        (
            lambda: MHA(X, X, X, P, 2, key_padding_mask=np.ones((2, 4), bool)),
            ValueError,
            r"key_padding_mask must have shape \(batch, n_k\) = \(2, 5\)",
        ),
        (
            lambda: MHA(X, X, X, P, 2, key_padding_mask=np.ones((2, 5), np.int8)),
            TypeError,
            "key_padding_mask must be boolean",
        ),
        (
            lambda: att.sinusoidal_positional_encoding(10, 7),
            ValueError,
            "d_model must be even.*got 7",
        ),
        (
            lambda: att.sinusoidal_positional_encoding(0, 8),
            ValueError,
            "n_positions must be an integer ≥ 1, got 0",
        ),
        (
            lambda: att.sinusoidal_positional_encoding(10, 8.0),
            TypeError,
            "d_model must be an integer ≥ 1, got 8.0",
        ),
        (
            lambda: att.sinusoidal_positional_encoding(10, 8, base=1.0),
            ValueError,
            "base must be a finite number > 1, got 1.0",
        ),
        (
            lambda: att.sinusoidal_positional_encoding(10, 8, base="1e4"),
            TypeError,
            "base must be a finite number > 1, got '1e4'",
        ),
        (lambda: att.sinusoidal_positional_encoding(10, 8, dtype=int), ValueError, "dtype must be"),
        (lambda: att.attention_cost(128, 64, 5), ValueError, "heads = 5 does not divide"),
        (lambda: att.attention_cost(0, 64), ValueError, "n must be an integer ≥ 1, got 0"),
        (lambda: att.attention_cost(128, 64.0), TypeError, "d must be an integer ≥ 1, got 64.0"),
        (lambda: att.attention_cost(8, 8, batch=True), TypeError, "batch must be an integer"),
        (lambda: att.causal_mask(0), ValueError, "n_queries must be an integer ≥ 1, got 0"),
        (lambda: att.causal_mask(4, "4"), TypeError, "n_keys must be an integer ≥ 1, got '4'"),
        (lambda: att.padding_mask([2, -1]), ValueError, "non-negative"),
        (lambda: att.padding_mask([2, 5], 4), ValueError, "length of 5 does not fit"),
        (lambda: att.padding_mask([1.5]), TypeError, "lengths must be integers, got dtype float64"),
        (lambda: att.padding_mask([]), ValueError, "non-empty 1-D sequence of integers"),
        (lambda: att.padding_mask([[2, 3]]), ValueError, "non-empty 1-D sequence of integers"),
        (lambda: att.padding_mask([2, 3], 0), ValueError, "n_keys must be an integer ≥ 1, got 0"),
        (lambda: att.init_mha_params(8.0), TypeError, "embed_dim must be an integer ≥ 1, got 8.0"),
        (lambda: att.padding_mask([0, 0]), ValueError, "give n_keys"),
        (lambda: att.init_mha_params(8, dtype=np.int32), ValueError, "dtype must be"),
    ],
)
def test_bad_inputs_raise_clear_errors(make_call, error, message):
    with pytest.raises(error, match=message):
        make_call()


@pytest.mark.parametrize(
    ("module", "error", "message"),
    [
        (torch.nn.Linear(8, 8), TypeError, "torch.nn.MultiheadAttention, got Linear"),
        (torch.nn.MultiheadAttention(8, 2, kdim=4, vdim=4), ValueError, "kdim and vdim"),
        (torch.nn.MultiheadAttention(8, 2, add_bias_kv=True), ValueError, "add_bias_kv"),
    ],
)
def test_params_from_torch_rejects_what_it_cannot_copy(module, error, message):
    with pytest.raises(error, match=message):
        att.mha_params_from_torch(module)


def test_params_from_keras_rejects_other_layers():
    with pytest.raises(TypeError, match="keras.layers.MultiHeadAttention, got Linear"):
        att.mha_params_from_keras(torch.nn.Linear(2, 2))


def test_import_has_no_side_effects():
    code = "import sys, lmbook.attention; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True)
