"""A tiny decoder-only GPT in plain PyTorch, with its tokenizer, baseline and
training loop.

Chapter 5 ("Attention and Transformers") builds it piece by piece, in the spirit
of Karpathy's nanoGPT: a character tokenizer, causal self-attention written out
with explicit operations (so that its weights can be drawn as heatmaps),
pre-LayerNorm blocks with residual connections and a GELU MLP, learned
positions, an output layer tied to the token embedding, sampling
with temperature and top-k, a bigram baseline, and a small AdamW loop.

Random numbers: :func:`get_batch` and :meth:`GPT.generate` draw from a
``torch.Generator`` you pass; weights and dropout draw from PyTorch's global
generator, so call ``torch.manual_seed`` before building and training a model.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch.nn import functional as F

from lmbook import validate


def _check_tokens(name: str, ids: object, ndim: int, vocab_size: int | None = None):
    if not isinstance(ids, torch.Tensor):
        raise TypeError(
            f"{name} must be a torch.Tensor of token ids, got {type(ids).__name__}"
        )
    if ids.dtype not in (torch.int64, torch.int32):
        raise TypeError(
            f"{name} must hold integer token ids (torch.long), got {ids.dtype}"
        )
    if ids.ndim != ndim or ids.numel() == 0:
        layout = "(batch, time)" if ndim == 2 else "(tokens,)"
        hint = (
            f"; add a batch axis with {name}[None]"
            if ids.ndim == 1 and ndim == 2
            else ""
        )
        raise ValueError(
            f"{name} must be a non-empty {ndim}-D tensor {layout}, got shape "
            f"{tuple(ids.shape)}{hint}"
        )
    if vocab_size is not None and (ids.min() < 0 or ids.max() >= vocab_size):
        raise ValueError(
            f"{name} must lie in [0, {vocab_size - 1}], got values from "
            f"{ids.min().item()} to {ids.max().item()}"
        )
    return ids


@dataclass
class GPTConfig:
    """The sizes of a GPT (chapter 5); ``n_embd`` must be a multiple of ``n_head``."""

    vocab_size: int = 65
    block_size: int = 128  # the longest context, in tokens
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128
    dropout: float = 0.0
    bias: bool = True  # biases in the Linear and LayerNorm layers

    def __post_init__(self) -> None:
        for name in ("vocab_size", "block_size", "n_layer", "n_head", "n_embd"):
            setattr(self, name, validate.count(name, getattr(self, name)))
        if self.n_embd % self.n_head:
            raise ValueError(
                f"n_embd = {self.n_embd} must be divisible by n_head = {self.n_head}"
            )
        validate.probability("dropout", self.dropout, one=False)
        validate.flag("bias", self.bias)


class CharTokenizer:
    """Characters to integers and back; the vocabulary is the sorted characters
    of a text.
    """

    def __init__(self, text: str) -> None:
        if not isinstance(text, str):
            raise TypeError(
                "the tokenizer needs a string to build its vocabulary, "
                f"got {type(text).__name__}"
            )
        if not text:
            raise ValueError(
                "the tokenizer needs a non-empty string to build its vocabulary"
            )
        self.chars = sorted(set(text))
        self.stoi = {ch: i for i, ch in enumerate(self.chars)}

    @property
    def vocab_size(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> list[int]:
        """The id of each character of ``text``."""
        if not isinstance(text, str):
            raise TypeError(f"encode takes a string, got {type(text).__name__}")
        unknown = sorted(set(text) - self.stoi.keys())
        if unknown:
            raise ValueError(
                f"characters {unknown!r} are not in the vocabulary of "
                f"{self.vocab_size} characters the tokenizer was built from"
            )
        return [self.stoi[ch] for ch in text]

    def decode(self, ids: object) -> str:
        """The text of a sequence of ids (a list or a 1-D tensor)."""
        ids = ids.tolist() if isinstance(ids, torch.Tensor) else ids
        if not isinstance(ids, list | tuple) or not all(
            validate.is_integer(i) for i in ids
        ):
            raise TypeError("decode takes a list or a 1-D tensor of integer ids")
        bad = [i for i in ids if not 0 <= i < self.vocab_size]
        if bad:
            raise ValueError(
                f"ids {bad[:5]} are outside the vocabulary [0, {self.vocab_size - 1}]"
            )
        return "".join(self.chars[i] for i in ids)


class CausalSelfAttention(torch.nn.Module):
    """Multi-head self-attention where token t sees tokens 0..t only (chapter 5).

    ``c_attn`` holds W_q, W_k, W_v stacked as rows, the layout of
    ``torch.nn.MultiheadAttention.in_proj_weight``. With ``keep_weights = True`` each
    forward pass stores its attention weights, (batch, heads, T, T), in ``weights``.
    """

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.n_head = config.n_head
        self.c_attn = torch.nn.Linear(
            config.n_embd, 3 * config.n_embd, bias=config.bias
        )
        self.c_proj = torch.nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
        self.attn_dropout = torch.nn.Dropout(config.dropout)
        self.resid_dropout = torch.nn.Dropout(config.dropout)
        causal = torch.ones(
            config.block_size, config.block_size, dtype=torch.bool
        ).tril()
        self.register_buffer("causal", causal, persistent=False)
        self.keep_weights = False
        self.weights: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, C = x.shape
        q, k, v = self.c_attn(x).split(C, dim=2)
        # (B, T, C) -> (B, heads, T, head_size): each head attends on its own slice
        q, k, v = (
            z.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
            for z in (q, k, v)
        )
        scores = q @ k.transpose(-2, -1) / math.sqrt(k.size(-1))  # (B, heads, T, T)
        # Hide the future.
        scores = scores.masked_fill(~self.causal[:T, :T], float("-inf"))
        weights = torch.softmax(scores, dim=-1)
        if self.keep_weights:
            self.weights = weights.detach()
        y = self.attn_dropout(weights) @ v  # (B, heads, T, head_size)
        y = y.transpose(1, 2).reshape(B, T, C)  # concatenate the heads
        return self.resid_dropout(self.c_proj(y))


class MLP(torch.nn.Module):
    """Position-wise feed-forward: Linear(C, 4C), GELU, Linear(4C, C), dropout."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.c_fc = torch.nn.Linear(config.n_embd, 4 * config.n_embd, bias=config.bias)
        self.gelu = torch.nn.GELU()
        self.c_proj = torch.nn.Linear(
            4 * config.n_embd, config.n_embd, bias=config.bias
        )
        self.dropout = torch.nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.c_proj(self.gelu(self.c_fc(x))))


class Block(torch.nn.Module):
    """A pre-LayerNorm Transformer block: x + attn(LN(x)), then x + mlp(LN(x))."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.ln_1 = torch.nn.LayerNorm(config.n_embd, bias=config.bias)
        self.attn = CausalSelfAttention(config)
        self.ln_2 = torch.nn.LayerNorm(config.n_embd, bias=config.bias)
        self.mlp = MLP(config)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT(torch.nn.Module):
    """A decoder-only Transformer language model (chapter 5).

    ``model(idx, targets)`` returns ``(logits, loss)``: logits (B, T, vocab) for
    the next token at every position, and the mean cross-entropy when ``targets``
    (B, T) are given (else None).
    """

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        if not isinstance(config, GPTConfig):
            raise TypeError(f"config must be a GPTConfig, got {type(config).__name__}")
        self.config = config
        # Token embeddings.
        self.wte = torch.nn.Embedding(config.vocab_size, config.n_embd)
        # Learned positions, as GPT-2. A fixed sinusoidal table (lmbook.attention.
        # sinusoidal_positional_encoding) registered as a buffer would work too.
        self.wpe = torch.nn.Embedding(config.block_size, config.n_embd)
        self.drop = torch.nn.Dropout(config.dropout)
        self.blocks = torch.nn.ModuleList(Block(config) for _ in range(config.n_layer))
        self.ln_f = torch.nn.LayerNorm(config.n_embd, bias=config.bias)
        self.lm_head = torch.nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.lm_head.weight = self.wte.weight  # weight tying (Press and Wolf, 2017)
        self.apply(self._init_weights)
        for name, p in self.named_parameters():  # GPT-2: scale the residual projections
            if name.endswith("c_proj.weight"):
                torch.nn.init.normal_(
                    p, mean=0.0, std=0.02 / math.sqrt(2 * config.n_layer)
                )

    @staticmethod
    def _init_weights(module: torch.nn.Module) -> None:
        if isinstance(module, torch.nn.Linear | torch.nn.Embedding):
            torch.nn.init.normal_(module.weight, mean=0.0, std=0.02)
        if isinstance(module, torch.nn.Linear) and module.bias is not None:
            torch.nn.init.zeros_(module.bias)

    @property
    def num_params(self) -> int:
        """The number of parameters (the tied embedding counted once)."""
        return sum(p.numel() for p in self.parameters())

    def forward(
        self, idx: torch.Tensor, targets: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        _check_tokens("idx", idx, 2, self.config.vocab_size)
        B, T = idx.shape
        if T > self.config.block_size:
            raise ValueError(
                f"the sequence has {T} tokens, more than block_size = "
                f"{self.config.block_size}; crop it with idx[:, -block_size:]"
            )
        x = self.drop(self.wte(idx) + self.wpe(torch.arange(T, device=idx.device)))
        for block in self.blocks:
            x = block(x)
        logits = self.lm_head(self.ln_f(x))
        if targets is None:
            return logits, None
        _check_tokens("targets", targets, 2, self.config.vocab_size)
        if targets.shape != idx.shape:
            raise ValueError(
                f"targets must have the shape of idx {tuple(idx.shape)}, "
                f"got {tuple(targets.shape)}"
            )
        loss = F.cross_entropy(logits.view(B * T, -1), targets.reshape(B * T).long())
        return logits, loss

    @torch.no_grad()
    def attention_maps(self, idx: torch.Tensor) -> list[torch.Tensor]:
        """The attention weights of every layer, each (B, heads, T, T), for heatmaps."""
        was_training = self.training
        self.eval()
        for block in self.blocks:
            block.attn.keep_weights = True
        try:
            self(idx)
            return [block.attn.weights for block in self.blocks]
        finally:
            for block in self.blocks:
                block.attn.keep_weights, block.attn.weights = False, None
            self.train(was_training)

    @torch.no_grad()
    def generate(
        self,
        idx: torch.Tensor,
        max_new_tokens: int,
        temperature: float = 1.0,
        top_k: int | None = None,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Extend ``idx`` (B, T) by ``max_new_tokens`` sampled tokens (chapter 5).

        Each step divides the last logits by ``temperature`` (below 1: sharper),
        keeps the ``top_k`` largest (``top_k=1`` is greedy decoding) and samples
        from the softmax with ``generator`` (on the model's device), so a seeded
        generator gives the same text every time. The context is cropped to the
        last ``block_size`` tokens.
        """
        _check_tokens("idx", idx, 2, self.config.vocab_size)
        validate.integer("max_new_tokens", max_new_tokens, minimum=0)
        validate.positive("temperature", temperature)
        if (
            top_k is not None
            and validate.count("top_k", top_k) > self.config.vocab_size
        ):
            raise ValueError(
                f"top_k must be at most vocab_size = {self.config.vocab_size}, "
                f"got {top_k}"
            )
        if generator is not None and not isinstance(generator, torch.Generator):
            raise TypeError(
                f"generator must be a torch.Generator, got {type(generator).__name__}"
            )
        was_training = self.training
        self.eval()
        for _ in range(max_new_tokens):
            logits, _ = self(idx[:, -self.config.block_size :])
            logits = logits[:, -1, :] / temperature
            if top_k is not None:
                kth = torch.topk(logits, top_k).values[:, [-1]]
                logits = logits.masked_fill(logits < kth, float("-inf"))
            probs = torch.softmax(logits, dim=-1)
            idx = torch.cat(
                [idx, torch.multinomial(probs, 1, generator=generator)], dim=1
            )
        self.train(was_training)
        return idx


# Baseline, batches, evaluation, training -------------------------------------


def bigram_log_probs(
    ids: torch.Tensor, vocab_size: int, k: float = 1.0
) -> torch.Tensor:
    """log P(next | current) from bigram counts with add-k smoothing, (vocab, vocab)
    (chapter 5).

    P(b | a) = (count(a, b) + k) / (count(a) + k · vocab_size): every pair,
    seen or not, keeps a non-zero probability.
    """
    validate.count("vocab_size", vocab_size)
    _check_tokens("ids", ids, 1, vocab_size)
    validate.positive("k", k)
    counts = torch.zeros(vocab_size, vocab_size, dtype=torch.float64)
    counts.index_put_(
        (ids[:-1].long(), ids[1:].long()),
        torch.ones(len(ids) - 1, dtype=torch.float64),
        accumulate=True,
    )
    counts += k
    return torch.log(counts / counts.sum(dim=1, keepdim=True))


def bigram_loss(log_probs: torch.Tensor, ids: torch.Tensor) -> float:
    """Mean cross-entropy (nats per token) of the bigram model on a 1-D token tensor."""
    if not isinstance(log_probs, torch.Tensor):
        raise TypeError(
            "log_probs must be the (vocab, vocab) tensor of bigram_log_probs, "
            f"got {type(log_probs).__name__}"
        )
    if log_probs.ndim != 2:
        raise ValueError(
            "log_probs must be the (vocab, vocab) tensor of bigram_log_probs, "
            f"got shape {tuple(log_probs.shape)}"
        )
    _check_tokens("ids", ids, 1, log_probs.shape[0])
    if len(ids) < 2:
        raise ValueError("ids needs at least two tokens to form a bigram")
    return float(-log_probs[ids[:-1].long(), ids[1:].long()].mean())


def get_batch(
    data: torch.Tensor,
    batch_size: int,
    block_size: int,
    generator: torch.Generator | None = None,
    device: str | torch.device = "cpu",
) -> tuple[torch.Tensor, torch.Tensor]:
    """Random windows of a 1-D token tensor: inputs x and targets y, x shifted by one
    (chapter 5).

    Both are (batch_size, block_size); y[b, t] is the token that follows x[b, t].
    """
    _check_tokens("data", data, 1)
    validate.count("batch_size", batch_size)
    validate.count("block_size", block_size)
    if len(data) <= block_size:
        raise ValueError(
            f"data has {len(data)} tokens; it needs more than block_size = {block_size}"
        )
    starts = torch.randint(len(data) - block_size, (batch_size,), generator=generator)
    offsets = torch.arange(block_size)
    x = data[starts[:, None] + offsets].long()
    y = data[starts[:, None] + offsets + 1].long()
    return x.to(device), y.to(device)


@torch.no_grad()
def estimate_loss(
    model: GPT,
    splits: Mapping[str, torch.Tensor],
    batch_size: int = 32,
    eval_iters: int = 20,
    seed: int = 0,
) -> dict[str, float]:
    """Mean loss of ``model`` on ``eval_iters`` batches of each split, in eval mode.

    The batches come from a generator seeded with ``seed``: every call sees the
    same windows, so successive estimates differ only because the model changed.
    """
    if not isinstance(model, GPT):
        raise TypeError(f"model must be a GPT, got {type(model).__name__}")
    if not isinstance(splits, Mapping):
        raise TypeError(
            f"splits must be a dict of 1-D token tensors, got {type(splits).__name__}"
        )
    validate.count("eval_iters", eval_iters)
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    result = {}
    for name, data in splits.items():
        generator = torch.Generator().manual_seed(seed)
        losses = [
            model(
                *get_batch(data, batch_size, model.config.block_size, generator, device)
            )[1]
            for _ in range(eval_iters)
        ]
        result[name] = torch.stack(losses).mean().item()
    model.train(was_training)
    return result


@torch.no_grad()
def sequence_loss(model: GPT, ids: torch.Tensor, stride: int | None = None) -> float:
    """Mean cross-entropy (nats per token) of ``model`` on every token of the 1-D
    ``ids`` after the first, each predicted from up to ``block_size`` earlier tokens
    (chapter 5, section 5.9).

    Windows of ``block_size`` tokens slide by ``stride`` (half a window by default);
    the first window scores all its predictions, every later one only its last
    ``stride``, so that each token is scored once, with at least
    ``block_size - stride`` tokens of context (fewer only at the start of the text).
    This is how chapter 4 scores its LSTM: every character of the text, once.
    """
    if not isinstance(model, GPT):
        raise TypeError(f"model must be a GPT, got {type(model).__name__}")
    block = model.config.block_size
    _check_tokens("ids", ids, 1, model.config.vocab_size)
    if len(ids) < 2:
        raise ValueError("ids needs at least two tokens: one to read, one to predict")
    if stride is None:
        stride = max(1, block // 2)
    validate.count("stride", stride)
    if stride > block:
        raise ValueError(
            f"stride = {stride} must be at most block_size = {block}, or tokens "
            "between windows would go unscored"
        )
    device = next(model.parameters()).device
    ids = ids.long().to(device)
    # Window b reads ids[b : b + block] and predicts ids[b + 1 : b + block + 1].
    begins = list(range(0, max(1, len(ids) - block), stride))
    if begins[-1] + block < len(ids) - 1:  # a last window that reaches the end
        begins.append(len(ids) - 1 - block)
    was_training = model.training
    model.eval()
    total, scored = 0.0, 0  # scored: tokens 1..scored have their prediction
    for first in range(0, len(begins), 64):  # 64 windows per forward pass
        batch = begins[first : first + 64]
        length = min(block, len(ids) - 1 - batch[0])
        x = torch.stack([ids[b : b + length] for b in batch])
        y = torch.stack([ids[b + 1 : b + length + 1] for b in batch])
        losses = F.cross_entropy(
            model(x)[0].transpose(1, 2), y, reduction="none"
        ).double()
        for row, b in enumerate(batch):
            new = b + length - scored  # predictions no earlier window made
            total += losses[row, length - new :].sum().item()
            scored += new
    model.train(was_training)
    return total / scored


def train(
    model: GPT,
    train_data: torch.Tensor,
    val_data: torch.Tensor | None = None,
    *,
    max_steps: int | None = None,
    max_seconds: float | None = None,
    batch_size: int = 32,
    lr: float = 1e-3,
    weight_decay: float = 0.1,
    warmup_steps: int = 0,
    cosine: bool = False,
    min_lr: float = 1e-4,
    grad_clip: float | None = 1.0,
    eval_interval: int = 100,
    eval_iters: int = 20,
    generator: torch.Generator | None = None,
    score_text: bool = False,
    verbose: bool = False,
) -> list[dict[str, float]]:
    """Train ``model`` with AdamW until ``max_steps`` or ``max_seconds`` of wall clock
    (chapter 5).

    The learning rate warms up linearly over ``warmup_steps``, then stays at
    ``lr`` or, with ``cosine``, decays to ``min_lr`` along a half cosine over
    ``max_steps`` (over ``max_seconds`` when no step count is given, which makes
    the run depend on the machine's speed). Weight decay applies to matrices
    only, not to biases and LayerNorm gains. Every ``eval_interval`` steps, and
    at the end, a record {step, seconds, cpu_seconds, lr, train_loss, val_loss}
    goes into the returned history (losses from :func:`estimate_loss`, or with
    ``score_text`` the validation loss of :func:`sequence_loss` on all of
    ``val_data``; ``seconds`` is wall-clock time and ``cpu_seconds`` this process's
    CPU time, both counting evaluation, which the time budget counts too).

    The loop is written out here rather than handed to :func:`lmbook.train.fit`:
    it counts steps, not epochs, sets the learning rate before every step and
    clips gradients, and chapter 5 reads it line by line.
    """
    if not isinstance(model, GPT):
        raise TypeError(f"model must be a GPT, got {type(model).__name__}")
    if max_steps is None and max_seconds is None:
        raise ValueError("give max_steps, max_seconds or both, so that training stops")
    for name, value in (("max_steps", max_steps), ("eval_interval", eval_interval)):
        if value is not None:
            validate.count(name, value)
    for name, value in (
        ("max_seconds", max_seconds),
        ("lr", lr),
        ("grad_clip", grad_clip),
    ):
        if value is not None:
            validate.positive(name, value)
    validate.non_negative("min_lr", min_lr)
    validate.non_negative("weight_decay", weight_decay)
    validate.integer("warmup_steps", warmup_steps, minimum=0)
    validate.flag("cosine", cosine)
    validate.flag("score_text", score_text)
    validate.flag("verbose", verbose)
    if score_text and val_data is None:
        raise ValueError("score_text needs val_data, the text to score")
    splits = {"train": train_data} | ({} if val_data is None else {"val": val_data})
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [
        {"params": [p for p in params if p.ndim >= 2], "weight_decay": weight_decay},
        {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0},
    ]
    optimizer = torch.optim.AdamW(groups, lr=lr, betas=(0.9, 0.99))
    device = next(model.parameters()).device
    history: list[dict[str, float]] = []
    start, cpu_start, step = time.perf_counter(), time.process_time(), 0

    def evaluate():
        if score_text:
            losses = estimate_loss(model, {"train": train_data}, batch_size, eval_iters)
            losses["val"] = sequence_loss(model, val_data)
        else:
            losses = estimate_loss(model, splits, batch_size, eval_iters)
        record = {
            "step": step,
            "seconds": time.perf_counter() - start,
            "cpu_seconds": time.process_time() - cpu_start,
            "lr": rate,
        }
        history.append(record | {f"{name}_loss": loss for name, loss in losses.items()})
        if verbose:
            print(", ".join(f"{key} {value:.4g}" for key, value in history[-1].items()))

    model.train()
    rate = lr
    while True:
        elapsed = time.perf_counter() - start
        if (max_steps is not None and step >= max_steps) or (
            max_seconds is not None and elapsed >= max_seconds
        ):
            break
        if step < warmup_steps:
            rate = lr * (step + 1) / warmup_steps
        elif cosine:  # progress from 0 to 1 after the warm-up, by steps or else by time
            if max_steps is not None:
                progress = (step - warmup_steps) / max(1, max_steps - warmup_steps)
            else:
                progress = min(1.0, elapsed / max_seconds)
            rate = min_lr + (lr - min_lr) * 0.5 * (1.0 + math.cos(math.pi * progress))
        for group in optimizer.param_groups:
            group["lr"] = rate
        x, y = get_batch(
            train_data, batch_size, model.config.block_size, generator, device
        )
        _, loss = model(x, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        optimizer.step()
        step += 1
        if step % eval_interval == 0:
            evaluate()
    if not history or history[-1]["step"] != step:
        evaluate()
    return history
