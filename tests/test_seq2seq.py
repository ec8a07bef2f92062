"""lmbook.seq2seq: the date task, additive attention against Keras and PyTorch, the
encoder-decoder, and beam search against exhaustive search; bad inputs."""

import datetime
import itertools

import keras
import numpy as np
import pytest
import torch

from lmbook import seq2seq as s2s

# The data -------------------------------------------------------------------------


def test_date_pairs_are_seeded_and_correct():
    pairs = s2s.date_pairs(400, seed=5)
    assert pairs == s2s.date_pairs(400, seed=5) != s2s.date_pairs(400, seed=6)
    for source, target in pairs:
        date = datetime.date.fromisoformat(target)
        assert s2s.FIRST_YEAR <= date.year <= s2s.LAST_YEAR
        assert str(date.year) in source
        if "." in source:  # day first
            assert source == f"{date.day}.{date.month}.{date.year}"
        elif "/" in source:  # month first
            assert source == f"{date.month:02d}/{date.day:02d}/{date.year}"
        if source.split(",")[0] in s2s.WEEKDAYS:  # the weekday is the date's own
            assert source.startswith(s2s.WEEKDAYS[date.weekday()])
    assert len({s2s.date_pairs(1, seed=k)[0][0][:2] for k in range(60)}) > 10


def test_every_format_appears_and_encodes():
    sources = [s for s, _ in s2s.date_pairs(300, seed=0)]
    assert any("/" in s for s in sources) and any("." in s for s in sources)
    assert any(s.split(",")[0] in s2s.WEEKDAYS for s in sources)
    src, tgt = s2s.encode_pairs(s2s.date_pairs(50, seed=1))
    assert src.dtype == tgt.dtype == torch.long and tgt.shape == (50, 12)
    assert (tgt[:, 0] == s2s.BOS).all() and (tgt[:, -1] == s2s.EOS).all()
    for row, (source, _) in zip(src, s2s.date_pairs(50, seed=1), strict=True):
        assert s2s.SOURCE.decode(row) == source
    assert s2s.TARGET.decode(tgt[0]) == s2s.date_pairs(50, seed=1)[0][1]


def test_vocab_round_trip_and_padding():
    ids = s2s.SOURCE.encode("3 march 1994", bos=True)
    assert ids[0] == s2s.BOS and ids[-1] == s2s.EOS
    assert s2s.SOURCE.decode(ids + [s2s.PAD, 5]) == "3 march 1994"
    padded = s2s.pad_batch([[5, 6, 2], [7, 2]])
    assert padded.tolist() == [[5, 6, 2], [7, 2, s2s.PAD]]
    assert s2s.exact_match(["a", "b"], ["a", "c"]) == 0.5


@pytest.mark.parametrize(
    ("call", "error", "text"),
    [
        (lambda: s2s.date_pairs(0), ValueError, "count"),
        (lambda: s2s.date_pairs(3.0), TypeError, "count"),
        (lambda: s2s.date_pairs(3, seed=-1), ValueError, "seed"),
        (lambda: s2s.SOURCE.encode("3 MARCH"), ValueError, "outside the vocabulary"),
        (lambda: s2s.SOURCE.encode(3), TypeError, "str"),
        (lambda: s2s.SOURCE.decode([99]), ValueError, "token id"),
        (lambda: s2s.SOURCE.decode(np.zeros((2, 2), int)), ValueError, "1-D"),
        (lambda: s2s.pad_batch([]), TypeError, "non-empty"),
        (lambda: s2s.pad_batch([[1], []]), TypeError, "non-empty"),
        (lambda: s2s.encode_pairs([("a", "b", "c")]), ValueError, "pair"),
        (lambda: s2s.exact_match(["a"], ["a", "b"]), ValueError, "equal length"),
        (lambda: s2s.exact_match("a", "a"), TypeError, "lists"),
        (lambda: s2s.Vocab("aa"), ValueError, "distinct"),
    ],
)
def test_bad_data_inputs(call, error, text):
    with pytest.raises(error, match=text):
        call()


# Attention ------------------------------------------------------------------------


def attention_case(seed=0, batch=3, length=6, d_s=4, d_h=5, a=7):
    rng = np.random.default_rng(seed)
    mask = np.ones((batch, length), dtype=bool)
    mask[1, 4:] = False
    mask[2, 1:] = False
    return (
        rng.standard_normal((batch, d_s)),
        rng.standard_normal((batch, length, d_h)),
        rng.standard_normal((a, d_s)),
        rng.standard_normal((a, d_h)),
        rng.standard_normal(a),
        mask,
    )


def test_additive_attention_by_hand():
    query, keys, W_s, W_h, v, mask = attention_case()
    context, weights = s2s.additive_attention(query, keys, W_s, W_h, v, mask)
    b, j = 1, 2  # one score written out: v . tanh(W_s s + W_h h_j)
    score = sum(v[k] * np.tanh(W_s[k] @ query[b] + W_h[k] @ keys[b, j]) for k in range(len(v)))
    scores = [
        sum(v[k] * np.tanh(W_s[k] @ query[b] + W_h[k] @ keys[b, i]) for k in range(len(v)))
        for i in range(4)
    ]
    assert abs(weights[b, j] - np.exp(score) / np.exp(scores).sum()) < 1e-12
    assert np.allclose(weights.sum(1), 1) and weights[1, 4:].max() == 0
    assert weights[2, 0] == 1 and np.allclose(context[2], keys[2, 0])
    assert np.allclose(context, np.einsum("bs,bsd->bd", weights, keys))


def test_additive_attention_matches_keras():
    query, keys, W_s, W_h, v, mask = attention_case(1)
    context, weights = s2s.additive_attention(query, keys, W_s, W_h, v, mask)
    layer = keras.layers.AdditiveAttention(use_scale=True)
    q = (query @ W_s.T)[:, None, :].astype(np.float32)
    k = (keys @ W_h.T).astype(np.float32)
    layer([q, keys.astype(np.float32), k], mask=[None, mask])
    layer.set_weights([v.astype(np.float32)])
    out, scores = layer(
        [q, keys.astype(np.float32), k], mask=[None, mask], return_attention_scores=True
    )
    assert np.abs(keras.ops.convert_to_numpy(out)[:, 0] - context).max() < 1e-5
    assert np.abs(keras.ops.convert_to_numpy(scores)[:, 0] - weights).max() < 1e-6


def test_additive_attention_module_matches_numpy_and_its_derivative():
    query, keys, W_s, W_h, v, mask = attention_case(2)
    context, weights = s2s.additive_attention(query, keys, W_s, W_h, v, mask)
    module = s2s.AdditiveAttention(4, 5, 7).double()
    with torch.no_grad():
        module.W_s.weight.copy_(torch.tensor(W_s))
        module.W_h.weight.copy_(torch.tensor(W_h))
        module.v.weight.copy_(torch.tensor(v)[None])
    keys_t = torch.tensor(keys)
    ctx, alpha = module(torch.tensor(query), keys_t, module.project(keys_t), torch.tensor(mask))
    assert np.abs(ctx.detach().numpy() - context).max() < 1e-12
    assert np.abs(alpha.detach().numpy() - weights).max() < 1e-12
    # dc/de_j = alpha_j (h_j - c), the derivation of section 4.10
    e = torch.randn(6, dtype=torch.float64, requires_grad=True)
    c = torch.softmax(e, 0) @ keys_t[0]
    jac = torch.stack([torch.autograd.grad(c[k], e, retain_graph=True)[0] for k in range(5)])
    w = torch.softmax(e, 0).detach()
    assert torch.allclose(jac, w[None] * (keys_t[0].T - (w @ keys_t[0])[:, None]))


@pytest.mark.parametrize(
    ("change", "error", "text"),
    [
        ({"query": [[1.0]]}, TypeError, "query must be a NumPy array"),
        ({"keys": np.zeros((3, 6))}, ValueError, "keys must be a 3-D"),
        ({"query": np.zeros((2, 4))}, ValueError, "batch"),
        ({"W_s": np.zeros((7, 3))}, ValueError, "W_s must be"),
        ({"v": np.zeros(6)}, ValueError, "W_s must be"),
        ({"mask": np.ones((3, 6), dtype=int)}, ValueError, "bool"),
        ({"mask": np.zeros((3, 6), dtype=bool)}, ValueError, "at least one True"),
        ({"keys": np.zeros((3, 6, 5), dtype=int)}, TypeError, "float32 or float64"),
    ],
)
def test_additive_attention_bad_inputs(change, error, text):
    names = ("query", "keys", "W_s", "W_h", "v", "mask")
    args = dict(zip(names, attention_case(), strict=True)) | change
    with pytest.raises(error, match=text):
        s2s.additive_attention(**args)


# The model ------------------------------------------------------------------------


@pytest.mark.parametrize("attention", [True, False])
def test_model_shapes_and_teacher_forcing_equals_stepping(attention):
    torch.manual_seed(0)
    model = s2s.Seq2Seq(attention=attention, embed=8, hidden=12).eval()
    src, tgt = s2s.encode_pairs(s2s.date_pairs(5, seed=2))
    logits, weights = model(src, tgt[:, :-1])
    assert logits.shape == (5, 11, len(s2s.TARGET)) and weights.shape == (5, 11, src.shape[1])
    assert torch.allclose(weights.sum(-1), torch.ones(5, 11))
    assert (weights[src[:, None, :].expand_as(weights) == s2s.PAD] == 0).all()
    state = model.encode(src)
    for i in range(3):
        log_probs, state = model.step(tgt[:, i], state)
        assert torch.allclose(log_probs, torch.log_softmax(logits[:, i], -1), atol=1e-6)
    # padding does not change the encoding of a sequence
    alone = model(src[:1, : int((src[0] != s2s.PAD).sum())], tgt[:1, :-1])[0]
    assert torch.allclose(alone, logits[:1], atol=1e-5)
    assert all(isinstance(t, str) for t in s2s.translate(model, ["3.4.1994"], beam_width=3))


def test_model_bad_inputs():
    model = s2s.Seq2Seq(embed=4, hidden=4)
    with pytest.raises(TypeError, match="LongTensor"):
        model.encode(torch.zeros(2, 3))
    with pytest.raises(ValueError, match="no empty sequence"):
        model.encode(torch.zeros(2, 3, dtype=torch.long))
    with pytest.raises(ValueError, match="hidden"):
        s2s.Seq2Seq(hidden=0)
    with pytest.raises(TypeError, match="attention"):
        s2s.Seq2Seq(attention=1)


# Decoding -------------------------------------------------------------------------


def toy(seed, length=4, letters=3):
    """A model whose next-token distribution depends on the position and last token."""
    vocab = 3 + letters
    table = torch.tensor(np.random.default_rng(seed).standard_normal((length, vocab, vocab)))
    table[:, :, [s2s.PAD, s2s.BOS]] = -torch.inf

    def step(tokens, state):
        (position,) = state
        return torch.log_softmax(table[position, tokens], -1), (position + 1,)

    def score(sequence, alpha):
        total, last = 0.0, s2s.BOS
        for position, token in enumerate(sequence):
            total += torch.log_softmax(table[position, last], -1)[token].item()
            last = token
        return total / len(sequence) ** alpha

    outputs = [
        (*body, s2s.EOS)
        for n in range(length)
        for body in itertools.product(range(3, vocab), repeat=n)
    ]
    return step, score, outputs


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("alpha", [0.0, 0.6, 1.0])
def test_wide_beam_search_is_exhaustive_search(seed, alpha):
    step, score, outputs = toy(seed)
    best = max(outputs, key=lambda sequence: score(sequence, alpha))
    start = (torch.zeros(2, dtype=torch.long),)  # a batch of two identical problems
    tokens, scores = s2s.beam_search(step, start, max_length=4, beam_width=27, alpha=alpha)
    for row, value in zip(tokens, scores, strict=True):
        end = int((row == s2s.EOS).nonzero()[0, 0])
        assert tuple(row[: end + 1].tolist()) == best
        assert (row[end + 1 :] == s2s.PAD).all()
        assert abs(value.item() - score(best, alpha)) < 1e-9


def test_narrow_beams_never_beat_exhaustive_search_and_greedy_is_the_argmax_path():
    for seed in range(10):
        step, score, outputs = toy(seed)
        optimum = max(score(sequence, 0.0) for sequence in outputs)
        start = (torch.zeros(1, dtype=torch.long),)
        for width in (1, 2, 4):
            _, value = s2s.beam_search(step, start, 4, width)
            assert value.item() <= optimum + 1e-12
        tokens, log_p = s2s.greedy_decode(step, start, 4)
        last, position = s2s.BOS, 0
        for token in tokens[0].tolist():
            if token == s2s.PAD:
                break
            log_probs, _ = step(torch.tensor([last]), (position,))
            assert token == int(log_probs.argmax())
            last, position = token, position + 1
        sequence = tuple(t for t in tokens[0].tolist() if t != s2s.PAD)
        if sequence[-1] == s2s.EOS:
            assert abs(log_p.item() - score(sequence, 0.0)) < 1e-9


@pytest.mark.parametrize(
    ("call", "error", "text"),
    [
        (lambda s: s2s.beam_search(s, (torch.zeros(1),), 4, 0), ValueError, "beam_width"),
        (lambda s: s2s.beam_search(s, (torch.zeros(1),), 4, 2, -1.0), ValueError, "alpha"),
        (lambda s: s2s.beam_search(s, (torch.zeros(1),), 0, 2), ValueError, "max_length"),
        (lambda s: s2s.beam_search(None, (torch.zeros(1),), 4, 2), TypeError, "step"),
        (lambda s: s2s.greedy_decode(s, torch.zeros(1), 4), TypeError, "tuple"),
        (lambda s: s2s.greedy_decode(s, ([0],), 4), TypeError, "torch.Tensor"),
    ],
)
def test_decoding_bad_inputs(call, error, text):
    step, _, _ = toy(0)
    with pytest.raises(error, match=text):
        call(step)
