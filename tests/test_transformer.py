"""lmbook.transformer: encoder and decoder layers and the encoder–decoder against
torch.nn's, cross-attention, masks, decoding, bad inputs."""

import pytest
import torch

from lmbook import attention as att
from lmbook import transformer as tf

E, H, FF = 32, 4, 64


@pytest.fixture(autouse=True)
def no_fast_path():
    """PyTorch's fused inference path returns zeros at padded positions; compare
    with its reference path, which computes them like ours."""
    torch.backends.mha.set_fastpath_enabled(False)
    yield
    torch.backends.mha.set_fastpath_enabled(True)


def inputs(seed=0):
    g = torch.Generator().manual_seed(seed)
    src, tgt = torch.randn(2, 7, E, generator=g), torch.randn(2, 5, E, generator=g)
    keep = torch.tensor([[True] * 7, [True] * 5 + [False] * 2])  # True = real token
    return src, tgt, keep


def causal(n):
    """PyTorch's causal mask as booleans, True = masked out (like its padding masks)."""
    return ~torch.ones(n, n, dtype=torch.bool).tril()


def test_encoder_layer_matches_torch():
    torch.manual_seed(0)
    theirs = torch.nn.TransformerEncoderLayer(E, H, FF, 0.0, batch_first=True).eval()
    ours = tf.EncoderLayer(E, H, FF, 0.0).eval()
    ours.load_state_dict(theirs.state_dict())  # same names, strict
    src, _, keep = inputs()
    expected = theirs(src, src_key_padding_mask=~keep)
    assert (ours(src, keep) - expected).abs().max() < 1e-5
    assert (ours(src) - theirs(src)).abs().max() < 1e-5
    # post-LN: the output of every position is normalised
    out = ours(src).detach()
    gain, shift = ours.norm2.weight.detach(), ours.norm2.bias.detach()
    normalised = (out - shift) / gain
    assert normalised.mean(-1).abs().max() < 1e-5
    # the encoder sees the whole source: a later token changes an earlier output
    changed = src.clone()
    changed[:, -1] += 1
    assert (ours(changed)[:, 0] - ours(src)[:, 0]).abs().max() > 1e-4


def test_pre_ln_is_not_post_ln():
    """norm_first=True (chapter 5's GPT) is another function of the same weights."""
    torch.manual_seed(0)
    pre = torch.nn.TransformerEncoderLayer(E, H, FF, 0.0, batch_first=True, norm_first=True).eval()
    ours = tf.EncoderLayer(E, H, FF, 0.0).eval()
    ours.load_state_dict(pre.state_dict())
    src, _, _ = inputs()
    assert (ours(src) - pre(src)).abs().max() > 1e-2


def test_decoder_layer_matches_torch_and_hides_the_future():
    torch.manual_seed(1)
    theirs = torch.nn.TransformerDecoderLayer(E, H, FF, 0.0, batch_first=True).eval()
    ours = tf.DecoderLayer(E, H, FF, 0.0).eval()
    ours.load_state_dict(theirs.state_dict())
    src, tgt, keep = inputs()
    tgt_keep = torch.tensor([[True] * 5, [True] * 4 + [False]])
    expected = theirs(
        tgt,
        src,
        tgt_mask=causal(5),
        tgt_key_padding_mask=~tgt_keep,
        memory_key_padding_mask=~keep,
        tgt_is_causal=True,
    )
    assert (ours(tgt, src, tgt_keep, keep) - expected).abs().max() < 1e-5
    # causal on the target: changing target token 3 leaves positions 0..2 alone
    changed = tgt.clone()
    changed[:, 3] += 1
    a, b = ours(tgt, src), ours(changed, src)
    assert torch.equal(a[:, :3], b[:, :3]) and (a[:, 3:] - b[:, 3:]).abs().max() > 1e-4
    # no causal mask on the cross-attention: the last source token reaches position 0
    moved = src.clone()
    moved[:, -1] += 1
    assert (ours(tgt, moved)[:, 0] - a[:, 0]).abs().max() > 1e-4
    # the source's padding is hidden: padded source tokens change nothing
    padded = src.clone()
    padded[1, 5:] = 100.0
    assert torch.allclose(ours(tgt, padded, None, keep), ours(tgt, src, None, keep))


def test_cross_attention_is_lmbook_attention_with_queries_from_the_decoder():
    torch.manual_seed(2)
    layer = tf.MultiheadAttention(E, H).eval()
    src, tgt, keep = inputs()
    params = {
        "in_proj_weight": layer.in_proj_weight,
        "in_proj_bias": layer.in_proj_bias,
        "out_proj_weight": layer.out_proj.weight,
        "out_proj_bias": layer.out_proj.bias,
    }
    out, weights = att.multi_head_attention_torch(
        tgt, src, src, params, H, key_padding_mask=keep, return_weights=True
    )
    assert out.shape == (2, 5, E) and weights.shape == (2, 5, 7)  # n_tgt × n_src
    assert torch.equal(layer(tgt, src, keep), out)
    assert weights[1, :, 5:].abs().max() == 0  # no weight on padding
    mha = torch.nn.MultiheadAttention(E, H, batch_first=True).eval()
    mha.load_state_dict(layer.state_dict())
    theirs, _ = mha(tgt, src, src, key_padding_mask=~keep)
    assert (out - theirs).abs().max() < 1e-5


def test_transformer_matches_torch():
    torch.manual_seed(3)
    theirs = torch.nn.Transformer(E, H, 2, 2, FF, 0.0, batch_first=True).eval()
    ours = tf.Transformer(E, H, 2, FF, 0.0).eval()
    ours.load_state_dict(theirs.state_dict())
    src, tgt, keep = inputs()
    expected = theirs(
        src,
        tgt,
        tgt_mask=causal(5),
        src_key_padding_mask=~keep,
        memory_key_padding_mask=~keep,
        tgt_is_causal=True,
    )
    assert (ours(src, tgt, keep) - expected).abs().max() < 1e-5
    memory = ours.encode(src, keep)
    assert torch.equal(ours.decode(tgt, memory, None, keep), ours(src, tgt, keep))


def test_dropout_only_in_training():
    torch.manual_seed(4)
    layer = tf.EncoderLayer(E, H, FF, dropout=0.5)
    src, _, _ = inputs()
    assert not torch.equal(layer(src), layer(src))
    layer.eval()
    assert torch.equal(layer(src), layer(src))


def test_seq2seq_learns_to_copy_and_decodes_greedily():
    torch.manual_seed(5)
    g = torch.Generator().manual_seed(5)
    model = tf.Seq2SeqTransformer(
        12, 12, d_model=32, nhead=4, num_layers=1, dim_feedforward=64, pad_id=0
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(150):
        src = torch.randint(2, 12, (32, 6), generator=g)
        tgt_in = torch.cat([torch.ones(32, 1, dtype=torch.long), src[:, :-1]], 1)
        logits = model(src, tgt_in)
        loss = torch.nn.functional.cross_entropy(logits.transpose(1, 2), src)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    src = torch.randint(2, 12, (64, 6), generator=g)
    model.train()
    decoded = model.greedy_decode(src, bos_id=1, length=6)
    assert model.training and decoded.shape == (64, 6)
    assert (decoded == src).float().mean() > 0.9
    # greedy decoding equals the argmax of teacher forcing on its own output
    tgt_in = torch.cat([torch.ones(64, 1, dtype=torch.long), decoded[:, :-1]], 1)
    model.eval()
    assert torch.equal(model(src, tgt_in).argmax(-1), decoded)


def test_padding_in_seq2seq_changes_nothing():
    torch.manual_seed(6)
    model = tf.Seq2SeqTransformer(10, 10, 32, 4, 1, 64, pad_id=0).eval()
    src = torch.tensor([[3, 4, 5, 0, 0]])
    tgt = torch.tensor([[1, 6, 7]])
    assert torch.allclose(model(src, tgt), model(src[:, :3], tgt), atol=1e-6)


@pytest.mark.parametrize(
    ("make_call", "error", "message"),
    [
        (lambda: tf.EncoderLayer(30, 4), ValueError, "divisible by nhead"),
        (lambda: tf.EncoderLayer(32, 4, dropout=1.0), ValueError, "dropout"),
        (lambda: tf.DecoderLayer(32, 0), ValueError, "nhead"),
        (lambda: tf.Transformer(32, 4, num_layers=0), ValueError, "num_layers"),
        (lambda: tf.EncoderLayer(E, H, FF)(torch.randn(2, 7, 16)), ValueError, "(batch, n, 32)"),
        (
            lambda: tf.EncoderLayer(E, H, FF)(torch.ones(2, 7, E, dtype=torch.long)),
            TypeError,
            "float",
        ),
        (
            lambda: tf.EncoderLayer(E, H, FF)(torch.randn(2, 7, E), torch.ones(2, 7)),
            TypeError,
            "boolean",
        ),
        (
            lambda: tf.EncoderLayer(E, H, FF)(
                torch.randn(2, 7, E), torch.ones(2, 6, dtype=torch.bool)
            ),
            ValueError,
            r"\(batch, n\) = \(2, 7\)",
        ),
        (
            lambda: tf.DecoderLayer(E, H, FF)(torch.randn(2, 5, E), torch.randn(3, 7, E)),
            ValueError,
            "batch 3",
        ),
        (
            lambda: tf.Seq2SeqTransformer(10, 10, 32, 4)(
                torch.tensor([[1, 10]]), torch.tensor([[1]])
            ),
            ValueError,
            r"\[0, 9\]",
        ),
        (
            lambda: tf.Seq2SeqTransformer(10, 10, 32, 4)(torch.rand(1, 3), torch.tensor([[1]])),
            TypeError,
            "integer token ids",
        ),
        (
            lambda: tf.Seq2SeqTransformer(10, 10, 32, 4, max_len=4)(
                torch.ones(1, 5, dtype=torch.long), torch.tensor([[1]])
            ),
            ValueError,
            "max_len = 4",
        ),
        (
            lambda: tf.Seq2SeqTransformer(10, 10, 32, 4)(
                torch.ones(2, 3, dtype=torch.long), torch.ones(1, 2, dtype=torch.long)
            ),
            ValueError,
            "tgt_in has batch 1",
        ),
        (
            lambda: tf.Seq2SeqTransformer(10, 10, 32, 4).greedy_decode(
                torch.ones(1, 3, dtype=torch.long), 1, 0
            ),
            ValueError,
            "length",
        ),
        (lambda: tf.Seq2SeqTransformer(10, 10, 32, 4, pad_id=-1), ValueError, "pad_id"),
    ],
)
def test_bad_inputs_raise_clear_errors(make_call, error, message):
    with pytest.raises(error, match=message):
        make_call()
