"""lmbook.gpt: shapes, causality, attention against PyTorch, sampling, training, bad inputs."""

import itertools
import math
import types

import numpy as np
import pytest
import torch

from lmbook import attention as att
from lmbook import gpt

F = torch.nn.functional
TEXT = "To be, or not to be, that is the question:\nWhether 'tis nobler in the mind to suffer\n"


def tiny(**overrides):
    sizes = dict(vocab_size=23, block_size=16, n_layer=2, n_head=4, n_embd=32, dropout=0.0)
    return gpt.GPTConfig(**(sizes | overrides))


@pytest.fixture
def model():
    torch.manual_seed(0)
    return gpt.GPT(tiny()).eval()


def tokens(shape, vocab=23, seed=0):
    return torch.randint(vocab, shape, generator=torch.Generator().manual_seed(seed))


# Tokenizer -------------------------------------------------------------------


def test_tokenizer_round_trips():
    tok = gpt.CharTokenizer(TEXT)
    assert tok.vocab_size == len(set(TEXT)) and tok.chars == sorted(set(TEXT))
    ids = tok.encode(TEXT)
    assert len(ids) == len(TEXT) and tok.decode(ids) == TEXT
    assert tok.decode(torch.tensor(ids)) == TEXT
    assert tok.encode("") == [] and tok.decode([]) == ""
    assert tok.encode("\n ") == [0, 1]  # sorted: newline, then space


def test_tokenizer_rejects_unknown_characters_and_ids():
    tok = gpt.CharTokenizer(TEXT)
    with pytest.raises(ValueError, match=r"characters \['Z', 'é'\] are not in the vocabulary"):
        tok.encode("Zé to be")
    with pytest.raises(ValueError, match="outside the vocabulary"):
        tok.decode([0, tok.vocab_size])
    with pytest.raises(TypeError, match="list or a 1-D tensor"):
        tok.decode("abc")
    with pytest.raises(TypeError, match="encode takes a string"):
        tok.encode(["a"])
    with pytest.raises(ValueError, match="non-empty string"):
        gpt.CharTokenizer("")
    with pytest.raises(TypeError, match="needs a string to build its vocabulary, got NoneType"):
        gpt.CharTokenizer(None)
    with pytest.raises(TypeError, match="list or a 1-D tensor"):
        tok.decode([0, 1.0])
    assert tok.decode([np.int64(0)]) == tok.chars[0]


# Model -----------------------------------------------------------------------


def test_shapes_loss_and_parameter_count(model):
    idx, targets = tokens((3, 16)), tokens((3, 16), seed=1)
    logits, loss = model(idx, targets)
    assert logits.shape == (3, 16, 23) and loss.shape == ()
    assert model(idx[:, :5])[0].shape == (3, 5, 23) and model(idx)[1] is None
    assert model.lm_head.weight is model.wte.weight  # tied
    c, v, t, n = 32, 23, 16, 2
    per_block = 4 * c + (3 * c * c + 3 * c) + (c * c + c) + (4 * c * c + 4 * c) + (4 * c * c + c)
    assert model.num_params == v * c + t * c + n * per_block + 2 * c


def test_loss_at_init_is_close_to_uniform():
    torch.manual_seed(1)
    m = gpt.GPT(tiny(vocab_size=65, block_size=32))
    _, loss = m(tokens((8, 32), 65), tokens((8, 32), 65, seed=1))
    assert abs(loss.item() - math.log(65)) < 0.05


def test_future_tokens_do_not_change_earlier_logits(model):
    idx = tokens((2, 16))
    changed = idx.clone()
    changed[:, 9:] = (changed[:, 9:] + 1) % 23
    a, b = model(idx)[0], model(changed)[0]
    assert torch.equal(a[:, :9], b[:, :9])
    assert not torch.allclose(a[:, 9:], b[:, 9:])
    # and gradients: the logit at position 4 depends on no input after it
    emb = model.wte(idx).detach().requires_grad_()
    x = emb + model.wpe(torch.arange(16))
    for block in model.blocks:
        x = block(x)
    model.lm_head(model.ln_f(x))[:, 4].sum().backward()
    assert emb.grad[:, 5:].abs().max() == 0 and emb.grad[:, :5].abs().max() > 0


def test_attention_matches_torch_and_lmbook():
    torch.manual_seed(2)
    config = tiny()
    layer = gpt.CausalSelfAttention(config).eval()
    x = torch.randn(3, 10, config.n_embd)
    layer.keep_weights = True
    with torch.no_grad():
        ours = layer(x)
    # the same computation with F.scaled_dot_product_attention(is_causal=True)
    B, T, C = x.shape
    q, k, v = (z.view(B, T, 4, C // 4).transpose(1, 2) for z in layer.c_attn(x).split(C, dim=2))
    y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    expected = layer.c_proj(y.transpose(1, 2).reshape(B, T, C))
    assert (ours - expected).abs().max() < 1e-5
    # nn.MultiheadAttention with the weights copied: c_attn has in_proj_weight's layout
    mha = torch.nn.MultiheadAttention(C, 4, batch_first=True).eval()
    with torch.no_grad():
        mha.in_proj_weight.copy_(layer.c_attn.weight)
        mha.in_proj_bias.copy_(layer.c_attn.bias)
        mha.out_proj.weight.copy_(layer.c_proj.weight)
        mha.out_proj.bias.copy_(layer.c_proj.bias)
        theirs, weights = mha(
            x,
            x,
            x,
            attn_mask=~torch.ones(T, T, dtype=torch.bool).tril(),
            average_attn_weights=False,
        )
    assert (ours - theirs).abs().max() < 1e-5
    assert (layer.weights - weights).abs().max() < 1e-6
    params = att.mha_params_from_torch(mha, dtype=np.float32)
    lm = att.multi_head_attention_torch(x, x, x, params, 4, causal=True)
    assert (ours - lm).abs().max() < 1e-5


def test_attention_maps_for_heatmaps(model):
    maps = model.attention_maps(tokens((2, 12)))
    assert len(maps) == 2 and all(m.shape == (2, 4, 12, 12) for m in maps)
    for m in maps:
        torch.testing.assert_close(m.sum(-1), torch.ones(2, 4, 12))
        assert torch.all(m.triu(diagonal=1) == 0)
    assert all(not b.attn.keep_weights and b.attn.weights is None for b in model.blocks)


def test_dropout_only_in_training():
    torch.manual_seed(3)
    m = gpt.GPT(tiny(dropout=0.5))
    idx = tokens((2, 8))
    m.eval()
    assert torch.equal(m(idx)[0], m(idx)[0])
    m.train()
    assert not torch.equal(m(idx)[0], m(idx)[0])


# Sampling --------------------------------------------------------------------


def test_generate_is_reproducible_and_crops_the_context(model):
    start = tokens((2, 3))
    run = [
        model.generate(
            start, 30, temperature=0.8, top_k=5, generator=torch.Generator().manual_seed(7)
        )
        for _ in range(2)
    ]
    assert run[0].shape == (2, 33) and torch.equal(run[0], run[1])
    assert torch.equal(run[0][:, :3], start)
    other = model.generate(start, 30, temperature=0.8, generator=torch.Generator().manual_seed(8))
    assert not torch.equal(run[0], other)
    assert model.generate(start, 0).shape == (2, 3)


def test_top_k_one_is_greedy(model):
    idx = tokens((2, 4))
    sampled = model.generate(
        idx, 20, temperature=1.5, top_k=1, generator=torch.Generator().manual_seed(0)
    )
    greedy = idx
    for _ in range(20):
        logits = model(greedy[:, -16:])[0][:, -1]
        greedy = torch.cat([greedy, logits.argmax(-1, keepdim=True)], dim=1)
    assert torch.equal(sampled, greedy)


def test_generate_keeps_training_mode():
    torch.manual_seed(0)
    m = gpt.GPT(tiny(dropout=0.1)).train()
    m.generate(tokens((1, 2)), 3)
    assert m.training


# Baseline, batches, training -------------------------------------------------


def test_bigram_baseline():
    ids = torch.tensor([0, 1, 0, 1, 0, 2])
    log_probs = gpt.bigram_log_probs(ids, 3, k=1.0)
    # from 0: 1 twice, 2 once -> (0+1, 2+1, 1+1) / 6
    torch.testing.assert_close(
        log_probs[0].exp(), torch.tensor([1 / 6, 3 / 6, 2 / 6], dtype=torch.float64)
    )
    torch.testing.assert_close(log_probs.exp().sum(1), torch.ones(3, dtype=torch.float64))
    torch.testing.assert_close(log_probs[2].exp(), torch.full((3,), 1 / 3, dtype=torch.float64))
    # from 1: 0 twice -> (2+1, 0+1, 0+1) / 5
    expected = -(2 * math.log(3 / 6) + 2 * math.log(3 / 5) + math.log(2 / 6)) / 5
    assert gpt.bigram_loss(log_probs, ids) == pytest.approx(expected)
    # with little smoothing the baseline beats the uniform model on its own data
    tok = gpt.CharTokenizer(TEXT)
    data = torch.tensor(tok.encode(TEXT))
    loss = gpt.bigram_loss(gpt.bigram_log_probs(data, tok.vocab_size, k=0.01), data)
    assert loss < math.log(tok.vocab_size)


def test_get_batch_shifts_targets_by_one():
    data = torch.arange(100)
    x, y = gpt.get_batch(data, 8, 10, torch.Generator().manual_seed(0))
    assert x.shape == y.shape == (8, 10) and x.dtype == torch.long
    assert torch.equal(y, x + 1) and torch.equal(x[:, 1:], x[:, :-1] + 1)
    x2, _ = gpt.get_batch(data, 8, 10, torch.Generator().manual_seed(0))
    assert torch.equal(x, x2) and int(x.max()) <= 98


def test_training_lowers_the_loss_and_stops(model, monkeypatch):
    torch.manual_seed(0)
    tok = gpt.CharTokenizer(TEXT)
    data = torch.tensor(tok.encode(TEXT * 4))
    m = gpt.GPT(tiny(vocab_size=tok.vocab_size))
    before = gpt.estimate_loss(m, {"train": data}, batch_size=8, eval_iters=2)["train"]
    history = gpt.train(
        m,
        data,
        data[:40],
        max_steps=30,
        batch_size=8,
        lr=3e-3,
        eval_interval=10,
        eval_iters=2,
        warmup_steps=5,
        cosine=True,
        generator=torch.Generator().manual_seed(0),
    )
    assert [r["step"] for r in history] == [10, 20, 30]
    assert set(history[0]) == {"step", "seconds", "cpu_seconds", "lr", "train_loss", "val_loss"}
    assert history[-1]["train_loss"] < before - 0.5
    assert history[-1]["lr"] < 3e-3 and m.training
    # A clock that advances 0.1 s at each reading: training stops at the first reading of at
    # least 0.2 s, after exactly one step, however fast or busy the machine is.
    clock = itertools.count(0.0, 0.1)
    monkeypatch.setattr(
        gpt,
        "time",
        types.SimpleNamespace(perf_counter=lambda: next(clock), process_time=lambda: 0.0),
    )
    timed = gpt.train(m, data, max_seconds=0.2, batch_size=4, eval_interval=10_000, eval_iters=1)
    assert len(timed) == 1 and timed[0]["step"] == 1
    assert timed[0]["seconds"] == pytest.approx(0.3) and "val_loss" not in timed[0]


def test_sequence_loss_scores_every_token_once_with_its_context(model):
    ids = tokens((100,))
    block = model.config.block_size  # 16

    def by_hand(stride):
        """Each token t ≥ 1 predicted by the first window that ends at or after it."""
        total, scored = 0.0, 0
        begins = list(range(0, len(ids) - block, stride))
        if begins[-1] + block < len(ids) - 1:
            begins.append(len(ids) - 1 - block)
        for b in begins:
            logits = model(ids[None, b : b + block])[0][0]
            for j, t in enumerate(range(b + 1, b + block + 1)):
                if t > scored:
                    total -= torch.log_softmax(logits[j], -1)[ids[t]].item()
                    scored = t
        assert scored == len(ids) - 1
        return total / scored

    for stride in (1, 5, 8, 16):
        assert gpt.sequence_loss(model, ids, stride) == pytest.approx(by_hand(stride), abs=1e-5)
    assert gpt.sequence_loss(model, ids) == pytest.approx(by_hand(8), abs=1e-5)  # half
    # a text shorter than a window is one window: the mean loss of its predictions
    short = ids[:10]
    logits = model(short[None, :-1])[0][0]
    expected = F.cross_entropy(logits, short[1:]).item()
    assert gpt.sequence_loss(model, short) == pytest.approx(expected, abs=1e-6)
    # context matters: stride 1 gives every token its longest context
    model.train()
    gpt.sequence_loss(model, ids)
    assert model.training  # the mode is restored


def test_training_can_score_the_whole_validation_text():
    torch.manual_seed(0)
    tok = gpt.CharTokenizer(TEXT)
    data = torch.tensor(tok.encode(TEXT * 4))
    m = gpt.GPT(tiny(vocab_size=tok.vocab_size))
    history = gpt.train(
        m,
        data,
        data[:60],
        max_steps=4,
        batch_size=4,
        eval_interval=2,
        eval_iters=1,
        score_text=True,
    )
    assert history[-1]["val_loss"] == pytest.approx(gpt.sequence_loss(m, data[:60]))
    assert history[-1]["cpu_seconds"] >= history[0]["cpu_seconds"] >= 0
    with pytest.raises(ValueError, match="score_text needs val_data"):
        gpt.train(m, data, max_steps=1, score_text=True)


# Bad inputs ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "error", "message"),
    [
        ({"n_embd": 30}, ValueError, "n_embd = 30 must be divisible by n_head = 4"),
        ({"n_head": 0}, ValueError, "n_head must be an integer ≥ 1, got 0"),
        ({"block_size": 8.0}, TypeError, "block_size must be an integer ≥ 1, got 8.0"),
        ({"vocab_size": "23"}, TypeError, "vocab_size must be an integer ≥ 1, got '23'"),
        ({"dropout": 1.0}, ValueError, r"dropout must be a finite number in \[0, 1\), got 1.0"),
        ({"dropout": -0.1}, ValueError, r"dropout must be a finite number in \[0, 1\), got -0.1"),
        ({"dropout": None}, TypeError, r"dropout must be a finite number in \[0, 1\), got None"),
        ({"bias": 1}, TypeError, "bias must be True or False"),
    ],
)
def test_config_rejects_bad_sizes(overrides, error, message):
    with pytest.raises(error, match=message):
        tiny(**overrides)


@pytest.mark.parametrize(
    ("make_call", "error", "message"),
    [
        (lambda m: m(tokens((2, 17))), ValueError, "17 tokens, more than block_size = 16"),
        (lambda m: m(tokens((5,))), ValueError, r"2-D tensor \(batch, time\).*idx\[None\]"),
        (lambda m: m(tokens((2, 4)).float()), TypeError, "integer token ids"),
        (lambda m: m([[1, 2]]), TypeError, "torch.Tensor of token ids, got list"),
        (lambda m: m(torch.tensor([[0, 23]])), ValueError, r"\[0, 22\], got values from 0 to 23"),
        (lambda m: m(torch.tensor([[-1, 2]])), ValueError, "must lie in"),
        (lambda m: m(tokens((2, 4)), tokens((2, 5))), ValueError, "targets must have the shape"),
        (
            lambda m: m.generate(tokens((1, 2)), 5, temperature=0),
            ValueError,
            "temperature must be a finite number > 0, got 0",
        ),
        (lambda m: m.generate(tokens((1, 2)), 5, temperature=-1.0), ValueError, "temperature"),
        (
            lambda m: m.generate(tokens((1, 2)), 5, temperature="hot"),
            TypeError,
            "temperature must be a finite number > 0, got 'hot'",
        ),
        (
            lambda m: m.generate(tokens((1, 2)), 5, top_k=0),
            ValueError,
            "top_k must be an integer ≥ 1, got 0",
        ),
        (lambda m: m.generate(tokens((1, 2)), 5, top_k=2.0), TypeError, "top_k must be an integer"),
        (lambda m: m.generate(tokens((1, 2)), 5, top_k=24), ValueError, "at most vocab_size = 23"),
        (
            lambda m: m.generate(tokens((1, 2)), -1),
            ValueError,
            "max_new_tokens must be an integer ≥ 0, got -1",
        ),
        (lambda m: m.generate(tokens((1, 2)), 5.0), TypeError, "max_new_tokens must be an integer"),
        (lambda m: m.generate(tokens((1, 2)), 1, generator=0), TypeError, "torch.Generator"),
        (lambda m: gpt.get_batch(torch.arange(10), 4, 10), ValueError, "10 tokens; it needs more"),
        (lambda m: gpt.get_batch(torch.arange(10.0), 4, 3), TypeError, "integer token ids"),
        (lambda m: gpt.get_batch(torch.arange(20), 0, 3), ValueError, "batch_size must be"),
        (
            lambda m: gpt.get_batch(torch.arange(20), 4, 3.0),
            TypeError,
            "block_size must be an integer ≥ 1, got 3.0",
        ),
        (lambda m: gpt.train(m, torch.arange(50)), ValueError, "max_steps, max_seconds or both"),
        (
            lambda m: gpt.train(m, torch.arange(50), max_steps=0),
            ValueError,
            "max_steps must be an integer ≥ 1, got 0",
        ),
        (
            lambda m: gpt.train(m, torch.arange(50), max_steps=1e3),
            TypeError,
            "max_steps must be an integer ≥ 1, got 1000.0",
        ),
        (
            lambda m: gpt.train(m, torch.arange(50), max_steps=1, lr=0),
            ValueError,
            "lr must be a finite number > 0, got 0",
        ),
        (
            lambda m: gpt.train(m, torch.arange(50), max_steps=1, weight_decay=-0.1),
            ValueError,
            "weight_decay must be a finite number ≥ 0, got -0.1",
        ),
        (
            lambda m: gpt.train(m, torch.arange(50), max_steps=1, cosine="yes"),
            TypeError,
            "cosine must be True or False, got 'yes'",
        ),
        (
            lambda m: gpt.estimate_loss(m, {"val": torch.arange(50)}, eval_iters=0),
            ValueError,
            "eval_iters must be an integer ≥ 1, got 0",
        ),
        (
            lambda m: gpt.bigram_log_probs(torch.tensor([0, 1]), 3, k=-1.0),
            ValueError,
            "k must be a finite number > 0, got -1.0",
        ),
        (
            lambda m: gpt.bigram_loss([[0.0]], torch.tensor([1, 2])),
            TypeError,
            "log_probs must be the .* tensor of bigram_log_probs, got list",
        ),
        (lambda m: gpt.estimate_loss(torch.nn.Linear(2, 2), {}), TypeError, "model must be a GPT"),
        (lambda m: gpt.bigram_log_probs(torch.tensor([0, 5]), 3), ValueError, "must lie in"),
        (lambda m: gpt.bigram_loss(torch.zeros(3, 3), torch.tensor([1])), ValueError, "two tokens"),
        (lambda m: gpt.GPT({"vocab_size": 5}), TypeError, "config must be a GPTConfig"),
        (
            lambda m: gpt.sequence_loss(torch.nn.Linear(2, 2), tokens((9,))),
            TypeError,
            "must be a GPT",
        ),
        (lambda m: gpt.sequence_loss(m, tokens((1,))), ValueError, "at least two tokens"),
        (lambda m: gpt.sequence_loss(m, tokens((2, 9))), ValueError, "1-D"),
        (
            lambda m: gpt.sequence_loss(m, tokens((30,)), stride=17),
            ValueError,
            "at most block_size",
        ),
        (lambda m: gpt.sequence_loss(m, tokens((30,)), stride=0), ValueError, "stride"),
        (lambda m: gpt.sequence_loss(m, tokens((30,)) + 30), ValueError, "must lie in"),
    ],
)
def test_bad_inputs_raise_clear_errors(model, make_call, error, message):
    with pytest.raises(error, match=message):
        make_call(model)
