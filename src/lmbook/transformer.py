"""The encoder–decoder Transformer of Vaswani et al. (2017), in plain PyTorch
(chapter 5, section 5.10).

Chapter 5 builds a decoder-only GPT (:mod:`lmbook.gpt`); this module adds what the
original Transformer for translation also has: an encoder that reads the whole
source with self-attention and no causal mask, and a decoder whose layers add
**cross-attention**, with queries from the decoder and keys and values from the
encoder's output. The layers are post-LayerNorm, as in the paper,
x ← LN(x + f(x)), where the GPT of chapter 5 normalises before each sub-layer.

Attention is :func:`lmbook.attention.multi_head_attention_torch`, and the
parameters carry the names of ``torch.nn.TransformerEncoderLayer``,
``torch.nn.TransformerDecoderLayer`` and ``torch.nn.Transformer``, so that
``load_state_dict`` copies PyTorch's weights into ours and the tests compare the
outputs. Masks follow :mod:`lmbook.attention`: a boolean padding mask is True
where a token is real (PyTorch's modules take the opposite; give them ``~mask``).

Shapes are batch-first: sources ``(batch, n_src, d_model)``, targets
``(batch, n_tgt, d_model)``; a source padding mask is ``(batch, n_src)``.
"""

from __future__ import annotations

import math

import torch

from lmbook import attention, validate


def _check_layer_sizes(d_model: int, nhead: int, dim_feedforward: int, dropout: float):
    validate.count("d_model", d_model)
    validate.count("nhead", nhead)
    validate.count("dim_feedforward", dim_feedforward)
    validate.probability("dropout", dropout, one=False)
    if d_model % nhead:
        raise ValueError(f"d_model = {d_model} must be divisible by nhead = {nhead}")


def _check_input(name: str, x: object, d_model: int) -> torch.Tensor:
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        raise TypeError(
            f"{name} must be a float torch.Tensor (batch, n, {d_model}), "
            f"got {type(x).__name__}"
        )
    if x.ndim != 3 or x.shape[-1] != d_model or x.shape[1] == 0:
        raise ValueError(
            f"{name} must have shape (batch, n, {d_model}) with n ≥ 1, "
            f"got {tuple(x.shape)}"
        )
    return x


def _check_padding(name: str, mask: object, batch: int, n: int) -> torch.Tensor | None:
    """A boolean (batch, n) padding mask, True = a real token, or None."""
    if mask is None:
        return None
    if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
        raise TypeError(
            f"{name} must be a boolean torch.Tensor (batch, n), True where the token "
            f"is real, got {getattr(mask, 'dtype', type(mask).__name__)}"
        )
    if tuple(mask.shape) != (batch, n):
        raise ValueError(
            f"{name} must have shape (batch, n) = {(batch, n)}, got {tuple(mask.shape)}"
        )
    return mask


class MultiheadAttention(torch.nn.Module):
    """Multi-head attention with the parameters of ``torch.nn.MultiheadAttention``
    (chapter 5, sections 5.5 and 5.10).

    ``forward(query, memory)`` attends from ``query`` (batch, n_q, E) to ``memory``
    (batch, n_k, E): self-attention when both are the same tensor, cross-attention
    when ``memory`` is the encoder's output. ``key_padding_mask`` (batch, n_k) is
    True for real keys; ``causal`` hides the future (self-attention only). Unlike
    PyTorch's module it does not drop attention weights in training: the layers
    below apply dropout to each sub-layer's output and to the feed-forward network's
    hidden layer, the paper's "residual dropout".
    """

    def __init__(self, embed_dim: int, num_heads: int) -> None:
        super().__init__()
        _check_layer_sizes(embed_dim, num_heads, 1, 0.0)
        self.num_heads = num_heads
        self.in_proj_weight = torch.nn.Parameter(torch.empty(3 * embed_dim, embed_dim))
        self.in_proj_bias = torch.nn.Parameter(torch.zeros(3 * embed_dim))
        self.out_proj = torch.nn.Linear(embed_dim, embed_dim)
        torch.nn.init.xavier_uniform_(self.in_proj_weight)
        torch.nn.init.zeros_(self.out_proj.bias)

    def forward(
        self,
        query: torch.Tensor,
        memory: torch.Tensor,
        key_padding_mask: torch.Tensor | None = None,
        causal: bool = False,
    ) -> torch.Tensor:
        params = {
            "in_proj_weight": self.in_proj_weight,
            "in_proj_bias": self.in_proj_bias,
            "out_proj_weight": self.out_proj.weight,
            "out_proj_bias": self.out_proj.bias,
        }
        return attention.multi_head_attention_torch(
            query,
            memory,
            memory,
            params,
            self.num_heads,
            key_padding_mask=key_padding_mask,
            causal=causal,
        )


class _Layer(torch.nn.Module):
    """What both layers share: the position-wise network (Linear, ReLU, dropout,
    Linear), self-attention, cross-attention in a decoder, and one LayerNorm and one
    dropout per sub-layer, named (``norm1``, ``dropout1``, ...) and registered in the
    order PyTorch's layers use, so that weights copy across.
    """

    def __init__(
        self,
        d_model: int,
        nhead: int,
        dim_feedforward: int,
        dropout: float,
        cross_attention: bool,
    ) -> None:
        _check_layer_sizes(d_model, nhead, dim_feedforward, dropout)
        super().__init__()
        self.linear1 = torch.nn.Linear(d_model, dim_feedforward)
        self.linear2 = torch.nn.Linear(dim_feedforward, d_model)
        self.dropout = torch.nn.Dropout(dropout)
        self.d_model = d_model
        self.self_attn = MultiheadAttention(d_model, nhead)
        if cross_attention:
            self.multihead_attn = MultiheadAttention(d_model, nhead)
        sublayers = 3 if cross_attention else 2
        for k in range(1, sublayers + 1):
            setattr(self, f"norm{k}", torch.nn.LayerNorm(d_model))
        for k in range(1, sublayers + 1):
            setattr(self, f"dropout{k}", torch.nn.Dropout(dropout))

    def ff(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear2(self.dropout(torch.relu(self.linear1(x))))


class EncoderLayer(_Layer):
    """A post-LN encoder layer (chapter 5, section 5.10): self-attention over the
    whole source (no causal mask), then the feed-forward network, each as
    x ← LN(x + dropout(f(x))).

    Equals ``torch.nn.TransformerEncoderLayer(d_model, nhead, dim_feedforward,
    dropout, batch_first=True)`` (ReLU, ``norm_first=False``) with the same weights.
    """

    def __init__(
        self,
        d_model: int,
        nhead: int,
        dim_feedforward: int = 2048,
        dropout: float = 0.1,
    ) -> None:
        super().__init__(
            d_model, nhead, dim_feedforward, dropout, cross_attention=False
        )

    def forward(
        self, src: torch.Tensor, src_padding_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        x = _check_input("src", src, self.d_model)
        keep = _check_padding("src_padding_mask", src_padding_mask, *x.shape[:2])
        x = self.norm1(x + self.dropout1(self.self_attn(x, x, keep)))
        return self.norm2(x + self.dropout2(self.ff(x)))


class DecoderLayer(_Layer):
    """A post-LN decoder layer (chapter 5, section 5.10): masked (causal)
    self-attention over the target, cross-attention from the target (queries) to
    the encoder's output ``memory`` (keys and values; no causal mask, the source's
    padding mask), then the feed-forward network, each as x ← LN(x + dropout(f(x))).

    Equals ``torch.nn.TransformerDecoderLayer(d_model, nhead, dim_feedforward,
    dropout, batch_first=True)`` with ``tgt_is_causal`` and the same weights.
    """

    def __init__(
        self,
        d_model: int,
        nhead: int,
        dim_feedforward: int = 2048,
        dropout: float = 0.1,
    ) -> None:
        super().__init__(d_model, nhead, dim_feedforward, dropout, cross_attention=True)

    def forward(
        self,
        tgt: torch.Tensor,
        memory: torch.Tensor,
        tgt_padding_mask: torch.Tensor | None = None,
        src_padding_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        x = _check_input("tgt", tgt, self.d_model)
        memory = _check_input("memory", memory, self.d_model)
        if memory.shape[0] != x.shape[0]:
            raise ValueError(
                f"memory has batch {memory.shape[0]}, the target {x.shape[0]}"
            )
        tgt_keep = _check_padding("tgt_padding_mask", tgt_padding_mask, *x.shape[:2])
        src_keep = _check_padding(
            "src_padding_mask", src_padding_mask, *memory.shape[:2]
        )
        x = self.norm1(x + self.dropout1(self.self_attn(x, x, tgt_keep, causal=True)))
        x = self.norm2(x + self.dropout2(self.multihead_attn(x, memory, src_keep)))
        return self.norm3(x + self.dropout3(self.ff(x)))


class _Stack(torch.nn.Module):
    """Layers, then a final LayerNorm, as ``nn.TransformerEncoder/Decoder`` inside
    ``nn.Transformer``.
    """

    def __init__(self, layers: list[torch.nn.Module], d_model: int) -> None:
        super().__init__()
        self.layers = torch.nn.ModuleList(layers)
        self.norm = torch.nn.LayerNorm(d_model)


class Transformer(torch.nn.Module):
    """The encoder–decoder core (chapter 5, section 5.10): ``num_layers`` encoder
    layers and as many decoder layers, each stack ending in a LayerNorm.

    Equals ``torch.nn.Transformer(d_model, nhead, num_layers, num_layers,
    dim_feedforward, dropout, batch_first=True)`` with the same weights.
    ``forward(src, tgt)`` takes embedded sequences and returns (batch, n_tgt,
    d_model); ``encode`` and ``decode`` are its two halves, for generation.
    """

    def __init__(
        self,
        d_model: int = 512,
        nhead: int = 8,
        num_layers: int = 6,
        dim_feedforward: int = 2048,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        _check_layer_sizes(d_model, nhead, dim_feedforward, dropout)
        validate.count("num_layers", num_layers)
        self.d_model = d_model
        self.encoder = _Stack(
            [
                EncoderLayer(d_model, nhead, dim_feedforward, dropout)
                for _ in range(num_layers)
            ],
            d_model,
        )
        self.decoder = _Stack(
            [
                DecoderLayer(d_model, nhead, dim_feedforward, dropout)
                for _ in range(num_layers)
            ],
            d_model,
        )

    def encode(
        self, src: torch.Tensor, src_padding_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """The encoder's output, the ``memory`` that every decoder layer reads."""
        x = src
        for layer in self.encoder.layers:
            x = layer(x, src_padding_mask)
        return self.encoder.norm(x)

    def decode(
        self,
        tgt: torch.Tensor,
        memory: torch.Tensor,
        tgt_padding_mask: torch.Tensor | None = None,
        src_padding_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """The decoder's output for the target so far, reading ``memory``."""
        x = tgt
        for layer in self.decoder.layers:
            x = layer(x, memory, tgt_padding_mask, src_padding_mask)
        return self.decoder.norm(x)

    def forward(
        self,
        src: torch.Tensor,
        tgt: torch.Tensor,
        src_padding_mask: torch.Tensor | None = None,
        tgt_padding_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        memory = self.encode(src, src_padding_mask)
        return self.decode(tgt, memory, tgt_padding_mask, src_padding_mask)


class Seq2SeqTransformer(torch.nn.Module):
    """A token-to-token encoder–decoder model (chapter 5, section 5.10): embeddings
    scaled by √d_model plus sinusoidal positions, the :class:`Transformer`, and a
    linear layer to the target vocabulary.

    ``model(src, tgt_in)`` takes token ids (batch, n_src) and (batch, n_tgt) and
    returns logits (batch, n_tgt, tgt_vocab): the prediction at target position t
    reads the whole source and the target tokens 0..t (teacher forcing).
    ``pad_id``, when given, marks padding in both sequences.
    """

    def __init__(
        self,
        src_vocab: int,
        tgt_vocab: int,
        d_model: int = 64,
        nhead: int = 4,
        num_layers: int = 2,
        dim_feedforward: int = 256,
        dropout: float = 0.0,
        max_len: int = 256,
        pad_id: int | None = None,
    ) -> None:
        super().__init__()
        validate.count("src_vocab", src_vocab)
        validate.count("tgt_vocab", tgt_vocab)
        validate.count("max_len", max_len)
        if pad_id is not None:
            validate.integer("pad_id", pad_id, minimum=0)
        self.pad_id = pad_id
        self.src_embed = torch.nn.Embedding(src_vocab, d_model)
        self.tgt_embed = torch.nn.Embedding(tgt_vocab, d_model)
        self.transformer = Transformer(
            d_model, nhead, num_layers, dim_feedforward, dropout
        )
        self.generator = torch.nn.Linear(d_model, tgt_vocab)
        for table in (self.src_embed, self.tgt_embed):  # √d_model · embedding ~ N(0, 1)
            torch.nn.init.normal_(table.weight, std=d_model**-0.5)
        positions = attention.sinusoidal_positional_encoding(max_len, d_model)
        self.register_buffer(
            "positions", torch.tensor(positions, dtype=torch.float32), persistent=False
        )

    def _embed(self, ids: torch.Tensor, table: torch.nn.Embedding, name: str):
        if not isinstance(ids, torch.Tensor) or ids.dtype not in (
            torch.int64,
            torch.int32,
        ):
            raise TypeError(f"{name} must be a tensor of integer token ids")
        if ids.ndim != 2 or ids.shape[1] == 0:
            raise ValueError(
                f"{name} must be (batch, n) with n ≥ 1, got {tuple(ids.shape)}"
            )
        if ids.shape[1] > len(self.positions):
            raise ValueError(
                f"{name} has {ids.shape[1]} tokens, more than max_len = "
                f"{len(self.positions)}"
            )
        if ids.min() < 0 or ids.max() >= table.num_embeddings:
            raise ValueError(
                f"{name} must lie in [0, {table.num_embeddings - 1}], got values from "
                f"{ids.min().item()} to {ids.max().item()}"
            )
        scale = math.sqrt(table.embedding_dim)
        return table(ids) * scale + self.positions[: ids.shape[1]]

    def _keep(self, ids: torch.Tensor) -> torch.Tensor | None:
        return None if self.pad_id is None else ids != self.pad_id

    def forward(self, src: torch.Tensor, tgt_in: torch.Tensor) -> torch.Tensor:
        src_x = self._embed(src, self.src_embed, "src")
        tgt_x = self._embed(tgt_in, self.tgt_embed, "tgt_in")
        if src.shape[0] != tgt_in.shape[0]:
            raise ValueError(
                f"src has batch {src.shape[0]}, tgt_in has batch {tgt_in.shape[0]}"
            )
        out = self.transformer(src_x, tgt_x, self._keep(src), self._keep(tgt_in))
        return self.generator(out)

    @torch.no_grad()
    def greedy_decode(
        self, src: torch.Tensor, bos_id: int, length: int
    ) -> torch.Tensor:
        """The ``length`` likeliest tokens after ``bos_id``, one at a time (chapter 5,
        section 5.10): the source is encoded once; each step decodes the target so
        far and appends the argmax of the last position. Returns (batch, length).
        """
        validate.integer("bos_id", bos_id, minimum=0)
        validate.count("length", length)
        was_training = self.training
        self.eval()
        src_keep = self._keep(src)
        memory = self.transformer.encode(
            self._embed(src, self.src_embed, "src"), src_keep
        )
        out = torch.full((src.shape[0], 1), bos_id, dtype=torch.long, device=src.device)
        for _ in range(length):
            x = self.transformer.decode(
                self._embed(out, self.tgt_embed, "tgt"), memory, None, src_keep
            )
            out = torch.cat([out, self.generator(x[:, -1]).argmax(-1, keepdim=True)], 1)
        self.train(was_training)
        return out[:, 1:]
