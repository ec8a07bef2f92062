"""Sequence to sequence with attention: a date-translation task, Bahdanau's additive
attention, an RNN encoder-decoder, greedy decoding and beam search (chapter 4,
section 4.10).

The task turns a date written in one of several human formats into ISO 8601:
``"tuesday, march 3, 1994"``, ``"3.3.1994"`` or ``"03/03/1994"`` all become
``"1994-03-03"``. The pairs are generated from a seeded random generator, so no
download is needed, and :func:`date_pairs` is the public way to get them:

>>> pairs = date_pairs(2, seed=0)           # [(source, target), ...]
>>> src, tgt = encode_pairs(pairs)          # padded LongTensors
>>> SOURCE.decode(src[0]) == pairs[0][0]
True

Token ids: ``PAD = 0``, ``BOS = 1`` (begin of sequence) and ``EOS = 2`` (end of
sequence) in both vocabularies; the characters follow. A source sequence is its
characters then ``EOS``; a target sequence is ``BOS``, the ten characters of the ISO
date, then ``EOS`` (teacher forcing feeds ``tgt[:, :-1]`` and predicts
``tgt[:, 1:]``).

:func:`greedy_decode` and :func:`beam_search` work with any model that exposes one
decoding step, ``step(tokens, state) -> (log_probs, state)``, where ``state`` is a
tuple of tensors whose first axis is the batch (an RNN's state, or the prefix of a
Transformer decoder), so chapter 5 can reuse them.
"""

from __future__ import annotations

import calendar
import datetime
from collections.abc import Callable, Sequence

import numpy as np
import torch

from lmbook import validate

PAD, BOS, EOS = 0, 1, 2
SPECIALS = ("<pad>", "<s>", "</s>")
MONTHS = tuple(name.lower() for name in calendar.month_name[1:])
WEEKDAYS = tuple(name.lower() for name in calendar.day_name)
FIRST_YEAR, LAST_YEAR = 1950, 2049


class Vocab:
    """A character vocabulary with the three special tokens first (section 4.10)."""

    def __init__(self, characters: str) -> None:
        if not isinstance(characters, str) or not characters:
            raise TypeError(f"characters must be a non-empty str, got {characters!r}")
        if len(set(characters)) != len(characters):
            raise ValueError(f"characters must be distinct, got {characters!r}")
        self.tokens = (*SPECIALS, *characters)
        self.ids = {ch: i for i, ch in enumerate(self.tokens) if i >= len(SPECIALS)}

    def __len__(self) -> int:
        return len(self.tokens)

    def __repr__(self) -> str:
        return f"Vocab({''.join(self.tokens[len(SPECIALS) :])!r}, size {len(self)})"

    def encode(self, text: str, *, bos: bool = False, eos: bool = True) -> list[int]:
        """The ids of ``text``'s characters, with ``BOS`` first and ``EOS`` last
        if asked.
        """
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        unknown = sorted(set(text) - set(self.ids))
        if unknown:
            raise ValueError(
                f"text {text!r} has characters outside the vocabulary: {unknown}"
            )
        return [BOS] * bos + [self.ids[ch] for ch in text] + [EOS] * eos

    def decode(self, ids: Sequence[int] | torch.Tensor | np.ndarray) -> str:
        """The text of ``ids``: stops at the first ``EOS``, skips ``PAD`` and
        ``BOS``.
        """
        if isinstance(ids, torch.Tensor | np.ndarray):
            if ids.ndim != 1:
                raise ValueError(f"ids must be 1-D, got shape {tuple(ids.shape)}")
            ids = ids.tolist()
        text = []
        for i in ids:
            i = validate.integer("token id", i, minimum=0, maximum=len(self) - 1)
            if i == EOS:
                break
            if i >= len(SPECIALS):
                text.append(self.tokens[i])
        return "".join(text)


SOURCE = Vocab(" ,-./0123456789abcdefghijklmnopqrstuvwxyz")
TARGET = Vocab("-0123456789")

# Each format writes (day, month, year, weekday) as a string; month is 1-12.
FORMATS: dict[str, Callable[[int, int, int, int], str]] = {
    "3 march 1994": lambda d, m, y, w: f"{d} {MONTHS[m - 1]} {y}",
    "03 mar 1994": lambda d, m, y, w: f"{d:02d} {MONTHS[m - 1][:3]} {y}",
    "march 3, 1994": lambda d, m, y, w: f"{MONTHS[m - 1]} {d}, {y}",
    "mar 3 1994": lambda d, m, y, w: f"{MONTHS[m - 1][:3]} {d} {y}",
    "thursday, march 3, 1994": lambda d, m, y, w: (
        f"{WEEKDAYS[w]}, {MONTHS[m - 1]} {d}, {y}"
    ),
    "thu 3 mar 1994": lambda d, m, y, w: (
        f"{WEEKDAYS[w][:3]} {d} {MONTHS[m - 1][:3]} {y}"
    ),
    "3.3.1994 (day first)": lambda d, m, y, w: f"{d}.{m}.{y}",
    "03/03/1994 (month first)": lambda d, m, y, w: f"{m:02d}/{d:02d}/{y}",
    "1994-3-3": lambda d, m, y, w: f"{y}-{m}-{d}",
}


def date_pairs(count: int, seed: int = 0) -> list[tuple[str, str]]:
    """``count`` (source, ISO target) pairs: dates drawn uniformly from 1950-01-01 to
    2049-12-31, each written in a format drawn uniformly from :data:`FORMATS`
    (section 4.10). The same ``seed`` gives the same pairs on every machine.
    """
    count = validate.count("count", count)
    seed = validate.integer("seed", seed, minimum=0)
    rng = np.random.default_rng(seed)
    first = datetime.date(FIRST_YEAR, 1, 1).toordinal()
    last = datetime.date(LAST_YEAR, 12, 31).toordinal()
    days = rng.integers(first, last + 1, count)
    styles = rng.integers(0, len(FORMATS), count)
    writers = list(FORMATS.values())
    pairs = []
    for day, style in zip(days.tolist(), styles.tolist(), strict=True):
        date = datetime.date.fromordinal(day)
        source = writers[style](date.day, date.month, date.year, date.weekday())
        pairs.append((source, date.isoformat()))
    return pairs


def pad_batch(sequences: Sequence[Sequence[int]]) -> torch.Tensor:
    """Lists of token ids as one (batch, longest) LongTensor, padded with ``PAD``
    at the end.
    """
    if (
        isinstance(sequences, str)
        or not isinstance(sequences, Sequence)
        or not sequences
    ):
        raise TypeError("sequences must be a non-empty list of lists of token ids")
    if any(
        isinstance(s, str) or not isinstance(s, Sequence) or not s for s in sequences
    ):
        raise TypeError("each sequence must be a non-empty list of token ids")
    longest = max(len(s) for s in sequences)
    out = torch.full((len(sequences), longest), PAD, dtype=torch.long)
    for row, ids in enumerate(sequences):
        out[row, : len(ids)] = torch.tensor(
            [validate.integer("token id", i, minimum=0) for i in ids], dtype=torch.long
        )
    return out


def encode_pairs(pairs: Sequence[tuple[str, str]]) -> tuple[torch.Tensor, torch.Tensor]:
    """(sources, targets) as padded LongTensors: sources end with ``EOS``, targets are
    ``BOS`` + ISO date + ``EOS`` (section 4.10).
    """
    if not isinstance(pairs, Sequence) or not pairs:
        raise TypeError("pairs must be a non-empty list of (source, target) strings")
    if any(not isinstance(p, tuple | list) or len(p) != 2 for p in pairs):
        raise ValueError("every pair must be a (source, target) tuple of two strings")
    sources = pad_batch([SOURCE.encode(s) for s, _ in pairs])
    targets = pad_batch([TARGET.encode(t, bos=True) for _, t in pairs])
    return sources, targets


def exact_match(predicted: Sequence[str], targets: Sequence[str]) -> float:
    """The fraction of predictions equal to their target, character for character."""
    if isinstance(predicted, str) or isinstance(targets, str):
        raise TypeError(
            "predicted and targets must be lists of strings, not one string"
        )
    if len(predicted) != len(targets) or not targets:
        raise ValueError(
            f"predicted and targets must be non-empty and of equal length, got "
            f"{len(predicted)} and {len(targets)}"
        )
    return sum(p == t for p, t in zip(predicted, targets, strict=True)) / len(targets)


# Attention ------------------------------------------------------------------------


def additive_attention(
    query: np.ndarray,
    keys: np.ndarray,
    W_s: np.ndarray,
    W_h: np.ndarray,
    v: np.ndarray,
    mask: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Bahdanau's additive attention in NumPy (section 4.10).

    ``e_j = v^T tanh(W_s s + W_h h_j)``, ``alpha = softmax(e)`` over the positions j
    where ``mask`` is True, and the context ``c = sum_j alpha_j h_j``. Shapes: query
    ``s`` (batch, d_s), keys ``h`` (batch, S, d_h), ``W_s`` (a, d_s), ``W_h`` (a, d_h),
    ``v`` (a,), mask (batch, S) of bools. Returns (context (batch, d_h), weights
    (batch, S)).
    """
    query = validate.float_array("query", query, ndim=2, layout="(batch, d_s)")
    keys = validate.float_array("keys", keys, ndim=3, layout="(batch, S, d_h)")
    W_s = validate.float_array("W_s", W_s, ndim=2, layout="(a, d_s)")
    W_h = validate.float_array("W_h", W_h, ndim=2, layout="(a, d_h)")
    v = validate.float_array("v", v, ndim=1, layout="(a,)")
    batch, length, d_h = keys.shape
    if query.shape[0] != batch:
        raise ValueError(f"query has batch {query.shape[0]}, keys have batch {batch}")
    if W_s.shape != (v.shape[0], query.shape[1]) or W_h.shape != (v.shape[0], d_h):
        raise ValueError(
            f"W_s must be (a, d_s) = {(v.shape[0], query.shape[1])} and W_h (a, d_h) = "
            f"{(v.shape[0], d_h)}, got {W_s.shape} and {W_h.shape}"
        )
    if mask is None:
        mask = np.ones((batch, length), dtype=bool)
    if (
        not isinstance(mask, np.ndarray)
        or mask.dtype != bool
        or mask.shape != (batch, length)
    ):
        raise ValueError(f"mask must be a bool array of shape {(batch, length)}")
    if not mask.any(axis=1).all():
        raise ValueError("every row of mask needs at least one True position")
    hidden = np.tanh((query @ W_s.T)[:, None, :] + keys @ W_h.T)  # (batch, S, a)
    scores = np.where(mask, hidden @ v, -np.inf)
    weights = np.exp(scores - scores.max(axis=1, keepdims=True))
    weights /= weights.sum(axis=1, keepdims=True)
    return np.einsum("bs,bsd->bd", weights, keys), weights


class AdditiveAttention(torch.nn.Module):
    """Bahdanau's additive attention, ``e_j = v^T tanh(W_s s + W_h h_j)``, in PyTorch
    (section 4.10). The keys' projection ``W_h h_j`` is computed once per source
    sentence by :meth:`project` and reused at every decoding step.
    """

    def __init__(self, query_size: int, key_size: int, size: int) -> None:
        super().__init__()
        self.W_s = torch.nn.Linear(
            validate.count("query_size", query_size),
            validate.count("size", size),
            bias=False,
        )
        self.W_h = torch.nn.Linear(
            validate.count("key_size", key_size), size, bias=False
        )
        self.v = torch.nn.Linear(size, 1, bias=False)

    def project(self, keys: torch.Tensor) -> torch.Tensor:
        return self.W_h(keys)

    def forward(
        self,
        query: torch.Tensor,
        keys: torch.Tensor,
        projected: torch.Tensor,
        mask: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Context (batch, key_size) and weights (batch, S) for queries
        (batch, query_size).
        """
        scores = self.v(torch.tanh(self.W_s(query)[:, None, :] + projected)).squeeze(-1)
        weights = torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=-1)
        return torch.einsum("bs,bsd->bd", weights, keys), weights


# The encoder-decoder ----------------------------------------------------------------


class Seq2Seq(torch.nn.Module):
    """A bidirectional GRU encoder and a GRU decoder, with or without attention
    (section 4.10).

    With attention, decoding step i computes the context ``c_i`` from the previous
    decoder state ``s_{i-1}`` and all encoder states (Bahdanau et al.); without it,
    ``c_i`` is the same vector at every step: the encoder's two final states (the
    fixed-size summary of Cho et al. and Sutskever et al.). Then
    ``s_i = GRU([embed(y_{i-1}); c_i], s_{i-1})`` and the logits are
    ``W_o [s_i; c_i] + b_o``.
    """

    def __init__(
        self,
        source_size: int = len(SOURCE),
        target_size: int = len(TARGET),
        *,
        embed: int = 32,
        hidden: int = 64,
        attention: bool = True,
    ) -> None:
        super().__init__()
        source_size = validate.count("source_size", source_size)
        self.target_size = validate.count("target_size", target_size)
        embed, hidden = validate.count("embed", embed), validate.count("hidden", hidden)
        self.use_attention = validate.flag("attention", attention)
        self.source_embedding = torch.nn.Embedding(source_size, embed, padding_idx=PAD)
        self.encoder = torch.nn.GRU(embed, hidden, batch_first=True, bidirectional=True)
        self.bridge = torch.nn.Linear(2 * hidden, hidden)
        self.attention = (
            AdditiveAttention(hidden, 2 * hidden, hidden) if attention else None
        )
        self.target_embedding = torch.nn.Embedding(self.target_size, embed)
        self.decoder = torch.nn.GRUCell(embed + 2 * hidden, hidden)
        self.output = torch.nn.Linear(hidden + 2 * hidden, self.target_size)

    def encode(self, sources: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """The decoder's start: state ``(s_0, encoder states, projected keys, mask,
        summary)``, each with the batch first.
        """
        if not isinstance(sources, torch.Tensor) or sources.dtype != torch.long:
            raise TypeError("sources must be a LongTensor of token ids (batch, time)")
        if sources.ndim != 2 or sources.shape[1] == 0 or (sources[:, 0] == PAD).any():
            raise ValueError("sources must be (batch, time) with no empty sequence")
        mask = sources != PAD
        lengths = mask.sum(1)
        packed = torch.nn.utils.rnn.pack_padded_sequence(
            self.source_embedding(sources),
            lengths.cpu(),
            batch_first=True,
            enforce_sorted=False,
        )
        out, final = self.encoder(packed)
        states, _ = torch.nn.utils.rnn.pad_packed_sequence(
            out, batch_first=True, total_length=sources.shape[1]
        )
        summary = torch.cat(
            [final[0], final[1]], dim=-1
        )  # last forward, first backward
        start = torch.tanh(self.bridge(summary))
        projected = (
            self.attention.project(states) if self.use_attention else states[:, :, :0]
        )
        return start, states, projected, mask, summary

    def decode_step(
        self, tokens: torch.Tensor, state: tuple[torch.Tensor, ...]
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, ...], torch.Tensor]:
        """One step: (logits (batch, V), the new state, attention weights
        (batch, S)).
        """
        s, states, projected, mask, summary = state
        if self.use_attention:
            context, weights = self.attention(s, states, projected, mask)
        else:
            context = summary
            weights = mask / mask.sum(1, keepdim=True)  # no attention: nothing to show
        s = self.decoder(torch.cat([self.target_embedding(tokens), context], dim=-1), s)
        logits = self.output(torch.cat([s, context], dim=-1))
        return logits, (s, states, projected, mask, summary), weights

    def step(
        self, tokens: torch.Tensor, state: tuple[torch.Tensor, ...]
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
        """The step that :func:`greedy_decode` and :func:`beam_search` call:
        log-probabilities.
        """
        logits, state, _ = self.decode_step(tokens, state)
        return torch.log_softmax(logits, dim=-1), state

    def forward(
        self, sources: torch.Tensor, inputs: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Teacher forcing: logits (batch, T, V) for the target inputs (batch, T) (the
        true previous tokens), and the attention weights (batch, T, S).
        """
        if not isinstance(inputs, torch.Tensor) or inputs.ndim != 2:
            raise TypeError("inputs must be a (batch, time) LongTensor of target ids")
        state = self.encode(sources)
        logits, weights = [], []
        for i in range(inputs.shape[1]):
            step_logits, state, step_weights = self.decode_step(inputs[:, i], state)
            logits.append(step_logits)
            weights.append(step_weights)
        return torch.stack(logits, 1), torch.stack(weights, 1)


# Decoding ---------------------------------------------------------------------------

Step = Callable[[torch.Tensor, tuple], tuple[torch.Tensor, tuple]]


def _check_decoding(step: object, state: object, max_length: object) -> int:
    if not callable(step):
        raise TypeError("step must be a function (tokens, state) -> (log_probs, state)")
    if not isinstance(state, tuple) or not state:
        raise TypeError(
            "state must be a non-empty tuple of tensors with the batch first"
        )
    if not all(isinstance(part, torch.Tensor) for part in state):
        raise TypeError(
            "every part of state must be a torch.Tensor with the batch first"
        )
    return validate.count("max_length", max_length)


def greedy_decode(
    step: Step, state: tuple[torch.Tensor, ...], max_length: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Pick the likeliest token at every step (section 4.10).

    Returns the tokens (batch, max_length), ``PAD`` after each ``EOS``, and each
    sequence's log-probability (up to and including its ``EOS``).
    """
    max_length = _check_decoding(step, state, max_length)
    batch = state[0].shape[0]
    tokens = torch.full((batch,), BOS, dtype=torch.long)
    done = torch.zeros(batch, dtype=torch.bool)
    total = torch.zeros(batch, dtype=torch.float64)
    out = torch.full((batch, max_length), PAD, dtype=torch.long)
    with torch.no_grad():
        for i in range(max_length):
            log_probs, state = step(tokens, state)
            best, tokens = log_probs.max(dim=-1)
            total += torch.where(done, 0.0, best.double())
            out[:, i] = torch.where(done, PAD, tokens)
            done |= tokens == EOS
            if done.all():
                break
    return out, total


def beam_search(
    step: Step,
    state: tuple[torch.Tensor, ...],
    max_length: int,
    beam_width: int,
    alpha: float = 0.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Beam search over the batch at once (section 4.10).

    Keeps the ``beam_width`` prefixes with the highest log-probability. At each step
    the ``EOS`` extension of every kept prefix becomes a finished hypothesis, scored
    ``log p(y) / len(y)^alpha`` (``len`` counts the ``EOS``; ``alpha = 0`` is the plain
    log-probability, ``alpha = 1`` the mean per token); the best finished one is
    returned. With ``beam_width`` at least the number of possible prefixes, nothing is
    pruned and the result is the exact argmax. Returns tokens (batch, max_length),
    ``PAD`` after ``EOS``, and the scores (batch,).
    """
    max_length = _check_decoding(step, state, max_length)
    width = validate.count("beam_width", beam_width)
    alpha = validate.non_negative("alpha", alpha)
    batch = state[0].shape[0]
    state = tuple(part.repeat_interleave(width, dim=0) for part in state)
    scores = torch.full((batch, width), float("-inf"), dtype=torch.float64)
    scores[:, 0] = 0.0  # one live prefix, BOS, at the start
    history = torch.zeros((batch, width, 0), dtype=torch.long)
    tokens = torch.full((batch * width,), BOS, dtype=torch.long)
    best = torch.full((batch,), float("-inf"), dtype=torch.float64)
    best_tokens = torch.full((batch, max_length), PAD, dtype=torch.long)
    rows = torch.arange(batch)
    with torch.no_grad():
        for i in range(max_length):
            log_probs, state = step(tokens, state)
            vocab = log_probs.shape[-1]
            candidates = scores[:, :, None] + log_probs.double().view(
                batch, width, vocab
            )
            # Finish: the EOS extension of every live prefix, normalised by its length.
            finished = candidates[:, :, EOS] / float(i + 1) ** alpha
            top, beam = finished.max(dim=1)
            better = top > best
            if better.any():
                ended = torch.cat(
                    [
                        history[rows, beam],
                        torch.full((batch, 1), EOS, dtype=torch.long),
                    ],
                    1,
                )
                best_tokens[better] = PAD
                best_tokens[better, : i + 1] = ended[better]
                best = torch.where(better, top, best)
            candidates[:, :, EOS] = float("-inf")
            if i == max_length - 1:
                break
            # Continue: the best live extensions.
            flat = candidates.view(batch, width * vocab)
            k = min(width, flat.shape[1])
            scores, index = flat.topk(k, dim=1)
            if k < width:
                pad = torch.full((batch, width - k), float("-inf"), dtype=torch.float64)
                scores = torch.cat([scores, pad], 1)
                index = torch.cat([index, index[:, :1].expand(batch, width - k)], 1)
            origin, new = index // vocab, index % vocab
            history = torch.cat([history[rows[:, None], origin], new[:, :, None]], 2)
            flat_origin = (rows[:, None] * width + origin).reshape(-1)
            state = tuple(part[flat_origin] for part in state)
            tokens = new.reshape(-1)
            if alpha == 0 and bool((scores.max(1).values <= best).all()):
                break  # log-probabilities only fall: no live prefix can win any more
    return best_tokens, best


def translate(
    model: Seq2Seq, sources: Sequence[str], *, beam_width: int = 1, alpha: float = 0.0
) -> list[str]:
    """ISO dates for a list of source strings, greedy (``beam_width=1``) or by beam
    search (section 4.10).
    """
    if isinstance(sources, str) or not sources:
        raise TypeError("sources must be a non-empty list of strings")
    width = validate.count("beam_width", beam_width)
    ids = pad_batch([SOURCE.encode(s) for s in sources])
    model.eval()
    with torch.no_grad():
        state = model.encode(ids)
        if width == 1:
            tokens, _ = greedy_decode(model.step, state, max_length=12)
        else:
            tokens, _ = beam_search(model.step, state, 12, width, alpha)
    return [TARGET.decode(row) for row in tokens]
