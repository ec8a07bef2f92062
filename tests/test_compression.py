"""Tests of lmbook.compression (chapter 9.7) on tiny random Llama models, and once on SmolLM2."""

import copy
import math

import pytest
import torch
from torch.nn import functional as F

from lmbook import compression, deploy, generation


@pytest.fixture(scope="module")
def tiny(tiny_llama_config):
    """A 2-layer Llama with hidden size 32, tied embeddings like SmolLM2's, seeded, in eval mode."""
    from transformers import LlamaForCausalLM

    torch.manual_seed(0)
    return LlamaForCausalLM(tiny_llama_config(tie_word_embeddings=True)).eval()


@pytest.fixture(scope="module")
def text(tiny):
    return torch.randint(tiny.config.vocab_size, (100,), generator=torch.Generator().manual_seed(1))


def _logits(model, ids):
    with torch.no_grad():
        return model(input_ids=ids[None], use_cache=False).logits


# Perplexity in windows -----------------------------------------------------------


def test_windows_cut_the_text_and_drop_the_remainder(text):
    rows = compression.windows(text, 32)
    assert rows.shape == (3, 32)
    assert torch.equal(rows.flatten(), text[:96])
    assert torch.equal(compression.windows(text[None], 50), text.view(2, 50))


@pytest.mark.parametrize(
    "ids, window, error, message",
    [
        (torch.arange(10), 11, ValueError, "fewer than one window"),
        (torch.arange(10), 1, ValueError, r"window must be an integer ≥ 2, got 1"),
        (torch.arange(10), 4.0, TypeError, r"window must be an integer ≥ 2, got 4.0"),
        (torch.zeros(10), 4, TypeError, "integer token ids"),
        ([1, 2, 3], 2, TypeError, "integer token ids"),
        (torch.zeros(2, 10, dtype=torch.long), 4, ValueError, r"one sequence, shape \(n,\)"),
    ],
)
def test_windows_bad_inputs(ids, window, error, message):
    with pytest.raises(error, match=message):
        compression.windows(ids, window)


def test_perplexity_of_one_window_is_exp_of_the_models_own_loss(tiny, text):
    window = text[:40]
    with torch.no_grad():
        loss = tiny(input_ids=window[None], labels=window[None]).loss.item()
    assert math.log(compression.perplexity(tiny, window, window=40)) == pytest.approx(
        loss, rel=1e-5
    )
    assert compression.perplexity(tiny, window, window=40) == pytest.approx(
        generation.perplexity(tiny, window[None]), rel=1e-9
    )


def test_windows_are_scored_independently_and_batching_changes_nothing(tiny, text):
    nlls = compression.token_nlls(tiny, text, window=25, batch_size=3)
    assert nlls.shape == (4, 24) and nlls.dtype == torch.float64
    for row, window in enumerate(text.view(4, 25)):
        with torch.no_grad():
            loss = tiny(input_ids=window[None], labels=window[None]).loss.item()
        assert nlls[row].mean().item() == pytest.approx(loss, rel=1e-5)
    torch.testing.assert_close(compression.token_nlls(tiny, text, window=25, batch_size=1), nlls)
    perplexity = compression.perplexity(tiny, text, window=25)
    assert perplexity == pytest.approx(math.exp(nlls.mean().item()))


def test_evaluate_reports_consistent_numbers(tiny, text):
    tiny.train()  # evaluate switches to eval mode and back
    result = compression.evaluate(tiny, text, window=50)
    assert tiny.training
    tiny.eval()
    assert result.tokens == 2 * 49 and result.seconds > 0 and result.tokens_per_second > 0
    assert result.perplexity == pytest.approx(math.exp(result.nats_per_token))
    assert result.nats_per_token == pytest.approx(result.nlls.mean().item())
    assert torch.equal(result.predictions[0], _logits(tiny, text[:50])[0, :-1].argmax(-1))
    assert compression.agreement(result.predictions, result.predictions) == 1.0


def test_agreement_counts_equal_predictions():
    assert (
        compression.agreement(torch.tensor([[1, 2], [3, 4]]), torch.tensor([[1, 0], [3, 0]])) == 0.5
    )
    with pytest.raises(TypeError, match="tensor of token ids"):
        compression.agreement(torch.zeros(3), torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match="same shape"):
        compression.agreement(torch.zeros(3, dtype=torch.long), torch.zeros(4, dtype=torch.long))


def test_models_must_be_decoder_only_transformers(text):
    with pytest.raises(TypeError, match=r"a causal LM \(a torch.nn.Module\), got str"):
        compression.perplexity("model", text)
    with pytest.raises(TypeError, match="decoder layers in model.model.layers"):
        compression.perplexity(torch.nn.Linear(2, 2), text)


# Serving ------------------------------------------------------------------------


def test_timed_generate_with_and_without_the_cache(tiny, text):
    prompt = text[None, :10]
    cached, seconds = compression.timed_generate(tiny, prompt, new_tokens=6)
    recomputed, _ = compression.timed_generate(tiny, prompt, new_tokens=6, use_cache=False)
    assert cached.shape == (1, 16) and seconds > 0
    assert torch.equal(cached, recomputed)
    with pytest.raises(ValueError, match=r"new_tokens must be an integer ≥ 1, got 0"):
        compression.timed_generate(tiny, prompt, new_tokens=0)


# Quantization -------------------------------------------------------------------


def test_quantize_linear_int8_without_exclusions_is_deploys(tiny, text):
    ours = compression.quantize_linear_int8(tiny)
    theirs = deploy.quantize_dynamic_int8(tiny)
    torch.testing.assert_close(_logits(ours, text[:30]), _logits(theirs, text[:30]), rtol=0, atol=0)
    assert isinstance(tiny.model.layers[0].mlp.down_proj, torch.nn.Linear)  # a copy


def test_quantize_linear_int8_keeps_excluded_layers_in_float(tiny):
    mixed = compression.quantize_linear_int8(tiny, exclude=("down_proj", "lm_head"))
    for layer in mixed.model.layers:
        assert type(layer.mlp.down_proj) is torch.nn.Linear
        assert type(layer.mlp.up_proj).__module__.startswith("torch.ao.nn.quantized.dynamic")
    assert type(mixed.lm_head) is torch.nn.Linear
    with pytest.raises(ValueError, match="leaves no linear layer"):
        compression.quantize_linear_int8(tiny, exclude=("proj", "lm_head"))
    with pytest.raises(TypeError, match="tuple of module names"):
        compression.quantize_linear_int8(tiny, exclude="down_proj")


def test_state_bytes_counts_tied_weights_once_and_int8_as_one_byte(tiny):
    parameters = sum(p.numel() for p in tiny.parameters())  # tied weights listed once
    assert compression.state_bytes(tiny) == 4 * parameters
    mlp = torch.nn.Sequential(torch.nn.Linear(1024, 512), torch.nn.ReLU(), torch.nn.Linear(512, 8))
    quantized = deploy.quantize_dynamic_int8(mlp)
    for model in (mlp, quantized):
        assert compression.state_bytes(model) == pytest.approx(deploy.saved_bytes(model), rel=0.03)
    assert compression.state_bytes(quantized) < 0.3 * compression.state_bytes(mlp)
    with pytest.raises(TypeError, match="torch.nn.Module"):
        compression.state_bytes("model")


def test_input_ranges_cover_every_linear_layer(tiny, text):
    ratios = compression.input_ranges(tiny, text, window=50)
    names = {name for name, m in tiny.named_modules() if isinstance(m, torch.nn.Linear)}
    assert set(ratios) == names
    assert all(ratio >= 1 for ratio in ratios.values())  # a maximum is at least the RMS
    assert not any(layer._forward_pre_hooks for layer in tiny.modules())


# Pruning ------------------------------------------------------------------------


@pytest.mark.parametrize("sparsity", [0.0, 0.1, 0.5, 0.9])
def test_magnitude_mask_is_deploys_for_distinct_values(sparsity):
    weight = torch.randn(30, 50, generator=torch.Generator().manual_seed(2))
    assert torch.equal(
        compression.magnitude_mask(weight, sparsity), deploy.magnitude_mask(weight, sparsity)
    )


def test_magnitude_mask_with_ties_prunes_exactly_the_asked_count():
    weight = torch.tensor([[0.5, -0.1, 0.1], [0.1, -0.3, 0.1]])  # four equal magnitudes
    mask = compression.magnitude_mask(weight, 0.5)
    assert int((mask == 0).sum()) == 3
    assert weight.abs()[mask == 0].max() <= weight.abs()[mask == 1].min()
    with pytest.raises(TypeError, match="floating-point"):
        compression.magnitude_mask(torch.ones(3, dtype=torch.long), 0.5)
    with pytest.raises(ValueError, match="empty"):
        compression.magnitude_mask(torch.ones(0), 0.5)
    with pytest.raises(ValueError, match=r"sparsity must be a finite number in \[0, 1\)"):
        compression.magnitude_mask(torch.ones(3), 1.0)


@pytest.mark.parametrize("sparsity", [0.1, 0.3, 0.5])
def test_prune_linear_weights_reaches_the_sparsity_and_spares_the_embeddings(tiny, sparsity):
    before = copy.deepcopy(tiny.state_dict())
    pruned = compression.prune_linear_weights(tiny, sparsity)
    for name, layer in pruned.named_modules():
        if isinstance(layer, torch.nn.Linear) and name != "lm_head":
            assert deploy.zero_share(layer.weight) == pytest.approx(
                sparsity, abs=0.5 / layer.weight.numel()
            )
    assert torch.equal(pruned.lm_head.weight, tiny.lm_head.weight)
    assert pruned.lm_head.weight is pruned.model.embed_tokens.weight  # still tied
    assert torch.equal(pruned.model.embed_tokens.weight, tiny.model.embed_tokens.weight)
    for name, value in tiny.state_dict().items():  # the original is untouched
        assert torch.equal(value, before[name])


def test_nonzero_linear_weights_counts_what_pruning_removes(tiny, three_layers):
    decoder = sum(
        m.weight.numel()
        for name, m in tiny.named_modules()
        if isinstance(m, torch.nn.Linear) and name != "lm_head"
    )
    assert compression.nonzero_linear_weights(tiny) == decoder
    head = int(tiny.lm_head.weight.count_nonzero())  # the padding token's row is zero
    assert compression.nonzero_linear_weights(tiny, exclude=()) == decoder + head
    half = compression.prune_linear_weights(tiny, 0.5)
    assert compression.nonzero_linear_weights(half) == decoder // 2
    first = three_layers.model.layers[0]
    in_first = sum(
        int(m.weight.count_nonzero()) for m in first.modules() if isinstance(m, torch.nn.Linear)
    )
    cut = compression.drop_layers(three_layers, [0])
    assert compression.nonzero_linear_weights(cut) == (
        compression.nonzero_linear_weights(three_layers) - in_first
    )
    with pytest.raises(TypeError, match="torch.nn.Module"):
        compression.nonzero_linear_weights(None)


def test_prune_linear_weights_at_zero_changes_nothing(tiny, text):
    same = compression.prune_linear_weights(tiny, 0.0)
    assert torch.equal(_logits(same, text[:20]), _logits(tiny, text[:20]))
    with pytest.raises(TypeError, match="tuple of module names"):
        compression.prune_linear_weights(tiny, 0.1, exclude=[1])


def test_mlp_channel_scores_from_weights(tiny, text):
    scores = compression.mlp_channel_scores(tiny)
    mlp = tiny.model.layers[1].mlp
    expected = (
        mlp.gate_proj.weight.norm(dim=1)
        * mlp.up_proj.weight.norm(dim=1)
        * mlp.down_proj.weight.norm(dim=0)
    )
    assert len(scores) == 2
    torch.testing.assert_close(scores[1], expected)
    calibrated = compression.mlp_channel_scores(tiny, text, window=50)
    assert [s.shape for s in calibrated] == [(64,), (64,)]
    assert all(bool((s >= 0).all()) for s in calibrated)


def test_removing_silent_channels_keeps_the_function(tiny, text):
    model = copy.deepcopy(tiny)
    with torch.no_grad():
        for layer in model.model.layers:  # 16 of 64 channels add nothing to the output
            layer.mlp.down_proj.weight[:, :16] = 0
    scores = compression.mlp_channel_scores(model, text, window=50)
    narrow = compression.prune_mlp_channels(model, 0.25, scores)
    for layer in narrow.model.layers:
        assert layer.mlp.gate_proj.weight.shape == (48, 32)
        assert layer.mlp.down_proj.weight.shape == (32, 48)
    torch.testing.assert_close(_logits(narrow, text[:30]), _logits(model, text[:30]))
    assert tiny.model.layers[0].mlp.up_proj.weight.shape == (64, 32)  # the original is whole


def test_prune_mlp_channels_bad_scores(tiny):
    with pytest.raises(ValueError, match="a list of 2 tensors"):
        compression.prune_mlp_channels(tiny, 0.5, [torch.ones(64)])
    with pytest.raises(ValueError, match=r"shape \(64,\)"):
        compression.prune_mlp_channels(tiny, 0.5, [torch.ones(64), torch.ones(10)])
    with pytest.raises(ValueError, match="sparsity must be"):
        compression.prune_mlp_channels(tiny, 1.5, compression.mlp_channel_scores(tiny))


# Dropping layers ----------------------------------------------------------------


@pytest.fixture(scope="module")
def three_layers(tiny_llama_config):
    """A 3-layer Llama whose middle layer is the identity: its two output matrices are zero."""
    from transformers import LlamaForCausalLM

    torch.manual_seed(3)
    model = LlamaForCausalLM(tiny_llama_config(num_hidden_layers=3)).eval()
    with torch.no_grad():
        model.model.layers[1].self_attn.o_proj.weight.zero_()
        model.model.layers[1].mlp.down_proj.weight.zero_()
    return model


def test_block_influence_finds_the_identity_layer(three_layers, text):
    influence = compression.block_influence(three_layers, text, window=50)
    assert influence.shape == (3,) and influence.dtype == torch.float64
    assert influence[1].item() == pytest.approx(0, abs=1e-12)
    assert influence[0] > 0 and influence[2] > 0
    assert compression.least_influential(influence, 1) == [1]
    assert not any(layer._forward_hooks for layer in three_layers.modules())


def test_least_influential_bad_inputs():
    with pytest.raises(ValueError, match=r"count must be an integer in \[1, 2\], got 3"):
        compression.least_influential(torch.ones(3, dtype=torch.float64), 3)
    with pytest.raises(TypeError, match="one score per layer"):
        compression.least_influential([0.1, 0.2], 1)


def test_dropping_the_identity_layer_keeps_the_function(three_layers, text):
    cut = compression.drop_layers(three_layers, [1])
    assert len(cut.model.layers) == cut.config.num_hidden_layers == 2
    assert [layer.self_attn.layer_idx for layer in cut.model.layers] == [0, 1]
    assert three_layers.config.num_hidden_layers == 3  # the original is untouched
    torch.testing.assert_close(_logits(cut, text[:30]), _logits(three_layers, text[:30]))


def test_a_cut_model_generates_with_its_cache(three_layers, text):
    cut = compression.drop_layers(three_layers, [0, 2])
    assert len(cut.model.layers) == 1 and cut.model.layers[0].self_attn.layer_idx == 0
    cached, _ = compression.timed_generate(cut, text[None, :8], new_tokens=5)
    recomputed, _ = compression.timed_generate(cut, text[None, :8], new_tokens=5, use_cache=False)
    assert torch.equal(cached, recomputed)


@pytest.mark.parametrize(
    "drop, error, message",
    [
        ([], ValueError, "between 1 and 2 layers"),
        ([3], ValueError, "between 1 and 2 layers"),
        ([-1], ValueError, "between 1 and 2 layers"),
        ([0, 1, 2], ValueError, "between 1 and 2 layers"),
        ([1.0], TypeError, "integer layer indices"),
        ("1", TypeError, "integer layer indices"),
    ],
)
def test_drop_layers_bad_inputs(three_layers, drop, error, message):
    with pytest.raises(error, match=message):
        compression.drop_layers(three_layers, drop)


def test_layers_around_the_gaps():
    assert compression.layers_around([12, 13, 14, 17, 25, 26], 30) == [11, 12, 13, 14, 20, 21]
    assert compression.layers_around([0], 3) == [0]
    with pytest.raises(ValueError, match=r"drop must name layers in 0..2"):
        compression.layers_around([3], 3)
    with pytest.raises(ValueError, match="drop must name layers"):
        compression.layers_around([], 3)


# Distillation -------------------------------------------------------------------


def test_token_distillation_loss_by_hand_and_by_kl_div():
    generator = torch.Generator().manual_seed(4)
    student = torch.randn(2, 5, 7, generator=generator)
    teacher = torch.randn(2, 5, 7, generator=generator)
    t = 2.0
    p = torch.softmax(teacher / t, dim=-1)
    log_q = torch.log_softmax(student / t, dim=-1)
    by_hand = t**2 * (p * (p.log() - log_q)).sum(-1).mean()
    got = compression.token_distillation_loss(student, teacher, temperature=t)
    torch.testing.assert_close(got, by_hand)
    kl = F.kl_div(log_q.flatten(0, 1), p.flatten(0, 1), reduction="batchmean")
    torch.testing.assert_close(got, t**2 * kl)
    flat = deploy.distillation_loss(
        student.flatten(0, 1),
        teacher.flatten(0, 1),
        torch.zeros(10, dtype=torch.long),
        temperature=t,
        alpha=1.0,
    )
    torch.testing.assert_close(got, flat)
    assert compression.token_distillation_loss(teacher, teacher).item() == pytest.approx(
        0, abs=1e-6
    )


def test_token_distillation_loss_sends_no_gradient_to_the_teacher():
    student = torch.randn(3, 4, requires_grad=True)
    teacher = torch.randn(3, 4, requires_grad=True)
    compression.token_distillation_loss(student, teacher).backward()
    assert student.grad is not None and teacher.grad is None


def test_token_distillation_loss_bad_inputs():
    x = torch.zeros(2, 3)
    with pytest.raises(ValueError, match="temperature must be a finite number > 0, got 0"):
        compression.token_distillation_loss(x, x, temperature=0)
    with pytest.raises(ValueError, match="same shape"):
        compression.token_distillation_loss(x, torch.zeros(2, 4))
    with pytest.raises(TypeError, match="teacher_logits must be a floating-point"):
        compression.token_distillation_loss(x, torch.zeros(2, 3, dtype=torch.long))


def _parameters(model):
    return {name: p.detach().clone() for name, p in model.named_parameters()}


@pytest.mark.parametrize("distil", [False, True])
def test_heal_trains_only_the_named_layers(three_layers, text, distil):
    student = compression.drop_layers(three_layers, [1])
    before = _parameters(student)
    teacher = three_layers if distil else None
    losses = compression.heal(
        student, text, steps=3, train_layers=[1], teacher=teacher, lr=1e-2, window=20, batch_size=1
    )
    assert len(losses) == 3 and all(math.isfinite(loss) for loss in losses)
    changed = {name for name, p in student.named_parameters() if not torch.equal(p, before[name])}
    assert changed and all(name.startswith("model.layers.1.") for name in changed)
    assert all(p.requires_grad for p in student.parameters()) and not student.training


def test_heal_is_reproducible_and_distils_towards_the_teacher(three_layers, text):
    cut = compression.drop_layers(three_layers, [1])  # the same function as the teacher
    student = copy.deepcopy(cut)
    losses = compression.heal(
        student, text, steps=2, train_layers=[0], teacher=three_layers, window=20, batch_size=2
    )
    assert losses[0] == pytest.approx(0, abs=1e-5)  # nothing to learn from an equal teacher
    runs = []
    for _ in range(2):
        student = copy.deepcopy(cut)
        compression.heal(
            student, text, steps=4, train_layers=[0, 1], lr=1e-2, window=20, batch_size=1, seed=5
        )
        runs.append(_logits(student, text[:20]))
    assert torch.equal(runs[0], runs[1])


def test_heal_bad_inputs(three_layers, text):
    student = compression.drop_layers(three_layers, [1])
    with pytest.raises(ValueError, match="train_layers must name decoder layers in 0..1"):
        compression.heal(student, text, steps=1, train_layers=[2], window=20)
    with pytest.raises(ValueError, match="train_layers must name"):
        compression.heal(student, text, steps=1, train_layers=[], window=20)
    with pytest.raises(ValueError, match="need 12 windows of 20 tokens; the text has 5"):
        compression.heal(student, text, steps=3, train_layers=[0], window=20, batch_size=4)
    with pytest.raises(ValueError, match=r"steps must be an integer ≥ 1, got 0"):
        compression.heal(student, text, steps=0, train_layers=[0], window=20)


# The real SmolLM2 (one load, about 20 s) ----------------------------------------------


def test_smollm2_perplexity_pruning_and_a_cut():
    from lmbook import data

    tokenizer, model = generation.load_smollm2()
    ids = tokenizer(data.hamlet(), return_tensors="pt").input_ids[0][-512:]
    base = compression.evaluate(model, ids, window=256)
    first = ids[None, :256]
    with torch.no_grad():
        loss = model(input_ids=first, labels=first).loss.item()
    assert base.nlls[0].mean().item() == pytest.approx(loss, rel=1e-4)
    assert 20 < base.perplexity < 300  # a 135M model on Shakespeare: about 86 on 768 tokens
    lightly = compression.evaluate(compression.prune_linear_weights(model, 0.1), ids)
    assert lightly.perplexity < 1.2 * base.perplexity
    influence = compression.block_influence(model, ids)
    assert influence.argmax().item() == 0  # the first layer transforms the embeddings most
    drop = compression.least_influential(influence, 4)
    assert 0 not in drop
    cut = compression.evaluate(compression.drop_layers(model, drop), ids)
    assert base.perplexity < cut.perplexity < 5 * base.perplexity
