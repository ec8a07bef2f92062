"""lmbook.mlm (chapter 6.1) against transformers' BertForMaskedLM and tokenizer."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from transformers import AutoTokenizer, BertForMaskedLM

from lmbook import mlm, text

TEXTS = [
    "A triumph of style over substance.",
    "The plot is thin, but the acting is superb.",
    "Two hours of my life I will never get back.",
    "An unforgettable film about friendship and loss.",
    "It is neither funny nor moving.",
    "The best film of the year.",
] * 3


@pytest.fixture(scope="module")
def big_tokenizer():
    return text.load_minilm()[0]


@pytest.fixture(scope="module")
def small(tmp_path_factory, big_tokenizer):
    """A reduced tokenizer saved to a folder, and its token ids of TEXTS."""
    folder = tmp_path_factory.mktemp("small")
    tokenizer = mlm.save_tokenizer(mlm.corpus_vocabulary(big_tokenizer, TEXTS), folder)
    ids = [torch.tensor(s) for s in tokenizer(TEXTS).input_ids]
    return folder, tokenizer, ids


@pytest.fixture(scope="module")
def model(small):
    torch.manual_seed(0)
    config = mlm.small_bert_config(len(small[1]), hidden=16, heads=2, max_length=32)
    return BertForMaskedLM(config).eval()


def test_reduced_tokenizer_splits_its_text_as_the_full_one(small, big_tokenizer):
    folder, tokenizer, _ = small
    assert len(tokenizer) < 100 < big_tokenizer.vocab_size
    for sentence in TEXTS:
        assert tokenizer.tokenize(sentence) == big_tokenizer.tokenize(sentence)
    reloaded = AutoTokenizer.from_pretrained(folder)
    assert reloaded.tokenize(TEXTS[1]) == big_tokenizer.tokenize(TEXTS[1])
    # A word whose pieces it lacks becomes [UNK].
    assert tokenizer.tokenize("zebra") == ["[UNK]"]


def test_vocabulary_keeps_the_big_vocabulary_order(big_tokenizer):
    tokens = mlm.corpus_vocabulary(big_tokenizer, ["the film"])
    vocab = big_tokenizer.get_vocab()
    assert set(tokens) == {"the", "film", *mlm.SPECIAL_TOKENS}
    assert [vocab[t] for t in tokens] == sorted(vocab[t] for t in tokens)


def test_masked_loss_equals_the_library_loss(small, model):
    _, tokenizer, ids = small
    generator = torch.Generator().manual_seed(3)
    input_ids, attention, labels = mlm.mask_batch(ids, tokenizer, generator)
    assert (labels != -100).sum() > 5
    with torch.no_grad():
        ours, logits, targets = mlm.masked_lm_loss(model, input_ids, attention, labels)
        library = model(input_ids, attention_mask=attention, labels=labels).loss
        full = model(input_ids, attention_mask=attention).logits
    assert abs(float(ours) - float(library)) < 1e-5
    assert torch.allclose(logits, full[labels != -100], atol=1e-5)
    assert torch.equal(targets, labels[labels != -100])


def test_mask_batch_never_chooses_special_tokens_and_pads(small):
    _, tokenizer, ids = small
    generator = torch.Generator().manual_seed(0)
    input_ids, attention, labels = mlm.mask_batch(ids, tokenizer, generator)
    assert input_ids.shape == (len(ids), max(len(s) for s in ids))
    assert attention.sum() == sum(len(s) for s in ids)
    special = torch.isin(
        torch.nn.utils.rnn.pad_sequence(ids, batch_first=True),
        torch.tensor([tokenizer.cls_token_id, tokenizer.sep_token_id]),
    ) | (attention == 0)
    assert (labels[special] == -100).all()


def test_evaluate_counts_accuracy_and_loss(small, model):
    _, tokenizer, ids = small
    batches = [mlm.mask_batch(ids, tokenizer, torch.Generator().manual_seed(1))]
    result = mlm.evaluate(model, batches)
    input_ids, attention, labels = batches[0]
    with torch.no_grad():
        logits = model(input_ids, attention_mask=attention).logits[labels != -100]
    targets = labels[labels != -100]
    expected = torch.nn.functional.cross_entropy(logits, targets)
    assert result["masked"] == len(targets)
    assert result["loss"] == pytest.approx(float(expected), abs=1e-5)
    assert result["perplexity"] == pytest.approx(math.exp(float(expected)), rel=1e-5)
    accuracy = float((logits.argmax(1) == targets).float().mean())
    assert result["accuracy"] == pytest.approx(accuracy)


def test_unigram_baseline_against_counting_by_hand():
    sequences = [torch.tensor([101, 5, 5, 7, 102]), torch.tensor([101, 5, 8, 102])]
    labels = torch.tensor([[-100, 5, 7, -100, 8]])
    batches = [(labels.clamp(min=0), torch.ones_like(labels), labels)]
    result = mlm.unigram_baseline(sequences, batches, 200, [0, 101, 102])
    # Counts plus one: 5 -> 4, 7 -> 2, 8 -> 2, the 197 others -> 1; total 205.
    expected = -np.mean(np.log([4 / 205, 2 / 205, 2 / 205]))
    assert result["top_token"] == 5
    assert result["accuracy"] == pytest.approx(1 / 3)
    assert result["loss"] == pytest.approx(expected)


def test_pretraining_learns_the_training_text(small):
    _, tokenizer, ids = small
    torch.manual_seed(0)
    model = BertForMaskedLM(
        mlm.small_bert_config(len(tokenizer), hidden=32, heads=2, max_length=32)
    )
    batches = [mlm.mask_batch(ids, tokenizer, torch.Generator().manual_seed(5))]
    history = mlm.pretrain(
        model,
        ids,
        tokenizer,
        batches,
        steps=300,
        batch_size=6,
        lr=3e-3,
        warmup=10,
        eval_every=100,
    )
    assert list(history.step) == [0, 100, 200, 300]
    assert not model.training
    # Six sentences repeated: the model memorises them well beyond its start.
    assert history.loss.iloc[-1] < 0.5 * history.loss.iloc[0]


def test_small_config():
    config = mlm.small_bert_config(100, hidden=32, layers=3, heads=4, max_length=16)
    assert (config.vocab_size, config.hidden_size, config.intermediate_size) == (
        100,
        32,
        128,
    )
    assert (config.num_hidden_layers, config.num_attention_heads) == (3, 4)
    assert config.max_position_embeddings == 16


@pytest.mark.parametrize(
    ("changes", "error", "message"),
    [
        ({"vocab_size": 0}, ValueError, "vocab_size"),
        ({"vocab_size": 10.0}, TypeError, "vocab_size"),
        ({"hidden": 30, "heads": 4}, ValueError, "multiple of heads"),
        ({"pad_token_id": 100}, ValueError, "pad_token_id"),
    ],
)
def test_small_config_rejects(changes, error, message):
    with pytest.raises(error, match=message):
        mlm.small_bert_config(**({"vocab_size": 100} | changes))


def test_bad_inputs(small, model, big_tokenizer, tmp_path):
    _, tokenizer, ids = small
    with pytest.raises(TypeError, match="list of strings"):
        mlm.corpus_vocabulary(big_tokenizer, "one text")
    with pytest.raises(ValueError, match="empty"):
        mlm.corpus_vocabulary(big_tokenizer, [])
    with pytest.raises(ValueError, match="special tokens"):
        mlm.save_tokenizer(["the", "film"], tmp_path)
    with pytest.raises(ValueError, match="distinct"):
        mlm.save_tokenizer([*mlm.SPECIAL_TOKENS, "the", "the"], tmp_path)
    with pytest.raises(ValueError, match="non-empty list"):
        mlm.mask_batch([], tokenizer)
    with pytest.raises(ValueError, match="vocabulary"):
        mlm.mask_batch([torch.tensor([101, 10_000, 102])], tokenizer)
    batch = mlm.mask_batch(ids, tokenizer, torch.Generator().manual_seed(0))
    with pytest.raises(ValueError, match="one shape"):
        mlm.masked_lm_loss(model, batch[0], batch[1][:, :-1], batch[2])
    with pytest.raises(ValueError, match="no masked position"):
        mlm.masked_lm_loss(model, batch[0], batch[1], torch.full_like(batch[2], -100))
    with pytest.raises(ValueError, match="empty"):
        mlm.evaluate(model, [])
    with pytest.raises(ValueError, match="must be in"):
        mlm.unigram_baseline([torch.tensor([500])], [batch], 100, [])
    with pytest.raises(ValueError, match="steps"):
        mlm.pretrain(model, ids, tokenizer, [batch], steps=0)
    with pytest.raises(ValueError, match="warmup"):
        mlm.pretrain(model, ids, tokenizer, [batch], steps=10, warmup=10)
    with pytest.raises(ValueError, match="at least batch_size"):
        mlm.pretrain(model, ids[:2], tokenizer, [batch], steps=10, batch_size=4, warmup=1)
