"""Pretraining a small BERT by masked language modelling, offline (chapter 6.1).

A BERT with a masked-LM head (``transformers.BertForMaskedLM``) is trained from random
weights on the movie-review snippets, with BERT's 15% selection and 80/10/10
replacement (``text.mask_tokens``). The loss is computed at the masked positions
only, and the result is measured against a unigram baseline on held-out text.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from lmbook import text, validate

SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")


def corpus_vocabulary(tokenizer, texts) -> list[str]:
    """The WordPiece entries that occur in ``texts``, plus the five special tokens,
    in the order of ``tokenizer``'s vocabulary (chapter 6.1).

    A tokenizer built from this list splits every word of ``texts`` exactly as
    ``tokenizer`` does: greedy longest match finds the same pieces, all of which
    are kept.
    """
    texts = text._check_texts(texts)  # the same checks as the encoder functions
    missing = [t for t in SPECIAL_TOKENS if t not in tokenizer.get_vocab()]
    if missing:
        raise ValueError(f"tokenizer lacks the special tokens {missing}")
    ids = tokenizer(texts, add_special_tokens=False)["input_ids"]
    seen = set(tokenizer.convert_ids_to_tokens(sorted({i for s in ids for i in s})))
    seen |= set(SPECIAL_TOKENS)
    vocab = tokenizer.get_vocab()
    return sorted(seen, key=vocab.__getitem__)


def save_tokenizer(tokens: Sequence[str], folder: str | Path):
    """A lowercasing ``BertTokenizerFast`` with vocabulary ``tokens``, saved to
    ``folder`` with ``save_pretrained`` so that ``AutoTokenizer`` and ``pipeline``
    load it (chapter 6.1).
    """
    from transformers import BertTokenizerFast

    tokens = list(tokens)
    if len(set(tokens)) != len(tokens) or not all(isinstance(t, str) for t in tokens):
        raise ValueError("tokens must be distinct strings")
    missing = [t for t in SPECIAL_TOKENS if t not in tokens]
    if missing:
        raise ValueError(f"tokens lacks the special tokens {missing}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.txt").write_text("\n".join(tokens) + "\n", encoding="utf-8")
    # Read from the folder, which works across transformers versions.
    tokenizer = BertTokenizerFast.from_pretrained(folder, do_lower_case=True)
    tokenizer.save_pretrained(folder)
    return tokenizer


def small_bert_config(
    vocab_size: int,
    *,
    hidden: int = 64,
    layers: int = 2,
    heads: int = 2,
    max_length: int = 64,
    pad_token_id: int = 0,
):
    """A ``BertConfig`` for a small BERT: feed-forward width 4 × ``hidden``, BERT's
    other defaults (chapter 6.1).
    """
    from transformers import BertConfig

    vocab_size = validate.count("vocab_size", vocab_size)
    hidden = validate.count("hidden", hidden)
    heads = validate.count("heads", heads)
    if hidden % heads:
        raise ValueError(f"hidden ({hidden}) must be a multiple of heads ({heads})")
    validate.integer("pad_token_id", pad_token_id, minimum=0, maximum=vocab_size - 1)
    return BertConfig(
        vocab_size=vocab_size,
        hidden_size=hidden,
        num_hidden_layers=validate.count("layers", layers),
        num_attention_heads=heads,
        intermediate_size=4 * hidden,
        max_position_embeddings=validate.count("max_length", max_length),
        pad_token_id=pad_token_id,
    )


def mask_batch(sequences, tokenizer, generator: torch.Generator | None = None):
    """Pad a list of token-id sequences and corrupt them as BERT does (chapter 6.1).

    Returns ``(input_ids, attention_mask, labels)``; ``labels`` is -100 except at
    the chosen 15%, where it holds the original id. ``[CLS]``, ``[SEP]`` and
    padding are never chosen.
    """
    if not isinstance(sequences, list | tuple) or not sequences:
        raise ValueError("sequences must be a non-empty list of 1-D id tensors")
    sequences = [torch.as_tensor(s, dtype=torch.long) for s in sequences]
    if any(s.ndim != 1 or len(s) == 0 for s in sequences):
        raise ValueError("each sequence must be a non-empty 1-D tensor of token ids")
    size = len(tokenizer)
    if any(int(s.min()) < 0 or int(s.max()) >= size for s in sequences):
        raise ValueError(f"token ids must be in [0, {size - 1}] (the vocabulary)")
    ids, attention = text.pad(sequences, tokenizer.pad_token_id)
    special = torch.isin(
        ids,
        torch.tensor(
            [tokenizer.pad_token_id, tokenizer.cls_token_id, tokenizer.sep_token_id]
        ),
    )
    corrupted, labels = text.mask_tokens(
        ids, special, tokenizer.mask_token_id, size, generator=generator
    )
    return corrupted, attention, labels


def masked_lm_loss(model, input_ids, attention_mask, labels):
    """The MLM loss of a ``BertForMaskedLM``, computed at the masked positions only
    (chapter 6.1).

    The encoder runs on every token, but the output layer (a ``hidden ×
    vocabulary`` product, the costliest part of a small model) only where
    ``labels != -100``. Returns ``(loss, logits, targets)`` with ``logits`` of shape
    (masked positions, vocabulary). Equal to ``model(..., labels=labels).loss``.
    """
    if not (input_ids.shape == attention_mask.shape == labels.shape):
        raise ValueError(
            "input_ids, attention_mask and labels must have one shape, got "
            f"{tuple(input_ids.shape)}, {tuple(attention_mask.shape)}, "
            f"{tuple(labels.shape)}"
        )
    chosen = labels != -100
    if not chosen.any():
        raise ValueError("labels has no masked position (every entry is -100)")
    states = model.bert(input_ids=input_ids, attention_mask=attention_mask)[0]
    logits = model.cls(states[chosen])
    targets = labels[chosen]
    return torch.nn.functional.cross_entropy(logits, targets), logits, targets


@torch.no_grad()
def evaluate(model, batches) -> dict[str, float]:
    """Held-out masked-token cross-entropy (nats), perplexity and top-1 accuracy
    over fixed masked ``batches`` of ``(input_ids, attention_mask, labels)``
    (chapter 6.1).
    """
    if not batches:
        raise ValueError("batches is empty")
    was_training = model.training
    model.eval()
    total, correct, count = 0.0, 0, 0
    for input_ids, attention_mask, labels in batches:
        loss, logits, targets = masked_lm_loss(model, input_ids, attention_mask, labels)
        total += float(loss) * len(targets)
        correct += int((logits.argmax(dim=1) == targets).sum())
        count += len(targets)
    model.train(was_training)
    loss = total / count
    return {
        "loss": loss,
        "perplexity": math.exp(loss),
        "accuracy": correct / count,
        "masked": count,
    }


def unigram_baseline(
    sequences, batches, vocab_size: int, special_ids: Sequence[int]
) -> dict[str, float]:
    """What token frequencies alone achieve at the masked positions (chapter 6.1).

    The unigram distribution is counted on the training ``sequences`` (special
    tokens left out, add-one smoothing over the ``vocab_size`` entries); its
    cross-entropy on the held-out targets, and the accuracy of always predicting the
    most frequent training token, are returned with that token's id.
    """
    vocab_size = validate.count("vocab_size", vocab_size)
    if not sequences or not batches:
        raise ValueError("sequences and batches must be non-empty")
    skip = {int(i) for i in special_ids}
    counts = Counter(
        int(t) for s in sequences for t in torch.as_tensor(s) if int(t) not in skip
    )
    if not counts or max(counts) >= vocab_size or min(counts) < 0:
        raise ValueError(f"token ids must be in [0, {vocab_size - 1}]")
    frequency = torch.ones(vocab_size, dtype=torch.float64)
    for token, n in counts.items():
        frequency[token] += n
    log_p = torch.log(frequency / frequency.sum())
    targets = torch.cat([labels[labels != -100] for _, _, labels in batches])
    top = counts.most_common(1)[0][0]
    loss = float(-log_p[targets].mean())
    return {
        "loss": loss,
        "perplexity": math.exp(loss),
        "accuracy": float((targets == top).double().mean()),
        "top_token": top,
    }


def pretrain(
    model,
    sequences,
    tokenizer,
    eval_batches,
    *,
    steps: int,
    batch_size: int = 16,
    lr: float = 1e-3,
    warmup: int = 100,
    eval_every: int = 250,
    seed: int = 0,
) -> pd.DataFrame:
    """Train ``model`` (a ``BertForMaskedLM``) by masked language modelling
    (chapter 6.1).

    Batches of similar-length ``sequences`` (``text.length_batches``) are masked
    afresh each time (dynamic masking, as RoBERTa does), AdamW's learning rate rises
    over ``warmup`` steps and falls linearly to 0. Returns the history: step,
    training loss (mean since the last row) and the held-out metrics of
    :func:`evaluate`, every ``eval_every`` steps and at step 0.
    """
    steps = validate.count("steps", steps)
    batch_size = validate.count("batch_size", batch_size)
    lr = validate.positive("lr", lr)
    eval_every = validate.count("eval_every", eval_every)
    validate.integer("warmup", warmup, minimum=0, maximum=steps - 1)
    if not isinstance(sequences, list | tuple) or len(sequences) < batch_size:
        raise ValueError(
            f"sequences must be a list of at least batch_size ({batch_size}) "
            "id sequences"
        )
    rng = np.random.default_rng(seed)
    generator = torch.Generator().manual_seed(seed)
    lengths = np.array([len(s) for s in sequences])
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: text.warmup_linear(min(step, steps - 1), warmup, steps)
    )
    rows = [{"step": 0, "train_loss": float("nan"), **evaluate(model, eval_batches)}]
    model.train()
    queue: list[np.ndarray] = []
    running: list[float] = []
    for step in range(1, steps + 1):
        if not queue:
            queue = text.length_batches(lengths, batch_size, rng)
        chosen = queue.pop()
        batch = mask_batch([sequences[i] for i in chosen], tokenizer, generator)
        if not (batch[2] != -100).any():
            continue  # a batch of very short snippets with nothing chosen
        loss, _, _ = masked_lm_loss(model, *batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
        running.append(float(loss.detach()))
        if step % eval_every == 0 or step == steps:
            rows.append(
                {
                    "step": step,
                    "train_loss": float(np.mean(running)),
                    **evaluate(model, eval_batches),
                }
            )
            running = []
    model.eval()
    return pd.DataFrame(rows)
