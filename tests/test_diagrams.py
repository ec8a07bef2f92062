import warnings

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pytest
from matplotlib.figure import Figure

from lmbook import cnn, diagrams, plot

LIMIT = 45_000  # bytes of PNG per diagram, as notebooks store it (chapter pages ≤ 1.5 MB)

DEFAULTS = [
    "neuron_and_layer",
    "computational_graph",
    "convolution_window",
    "im2col",
    "lstm_cell",
    "gru_cell",
    "seq2seq_attention",
    "attention_matrices",
    "multi_head_attention",
    "transformer_block",
    "encoder_decoder",
    "residual_block",
    "tokenisation_to_encoder",
    "masked_language_modelling",
    "fine_tuning_head",
    "bio_viterbi",
    "vgg16_blocks",
    "transfer_learning",
]


def texts(fig: Figure) -> str:
    return "\n".join(t.get_text() for ax in fig.axes for t in ax.texts)


def rendered(draw, **kwargs) -> tuple[Figure, bytes]:
    """Draw and render as a notebook would, failing on any warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig = draw(**kwargs)
        png, _ = plot.retina_png(fig)
    return fig, png


@pytest.mark.parametrize("name", DEFAULTS)
def test_each_diagram_is_a_small_crisp_figure(name):
    fig, png = rendered(getattr(diagrams, name))
    assert isinstance(fig, Figure)
    assert not plt.get_fignums()  # not registered with pyplot: a cell shows it once
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(png) < LIMIT, f"{name}: {len(png)} bytes"
    width, _ = fig.get_size_inches() * fig.dpi
    assert 700 <= width <= 800
    plt.close(fig)


@pytest.mark.parametrize(
    ("name", "labels"),
    [
        ("neuron_and_layer", ["$x_1$", "$w_1$", "$b$", "$f$", r"W\mathbf{x} + \mathbf{b}", "4×3"]),
        (
            "computational_graph",
            [
                r"\boldsymbol{\delta}^{(2)}",
                r"W^{(2)\top}",
                r"\mathbf{z}^{(1)}",
                "softmax",
                r"\mathbf{a}^{(1)\top}",
                r"\mathbf{p} - \mathbf{y}",
            ],
        ),
        (
            "lstm_cell",
            ["$f_t$", "$i_t$", "$g_t$", "$o_t$", "$c_{t-1}$", "$h_t$", r"\sigma", "additive path"],
        ),
        ("gru_cell", ["$r_t$", "$z_t$", "$n_t$", "$h_{t-1}$", "W_{hn}", "$1 - z_t$"]),
        ("seq2seq_attention", [r"\alpha_{21}", "$c_2", r"\tanh(W s_{1}", "$h_4$", "$s_2$"]),
        ("attention_matrices", ["$Q$", r"$K^\top$", r"\sqrt{d_k}", "softmax", "$Y = AV$"]),
        ("multi_head_attention", ["$W^O$", "concatenate", "XW^Q_4", r"E/h"]),
        ("transformer_block", ["LN$_1$", "LN$_2$", "masked multi-head", "FFN", "residual"]),
        (
            "encoder_decoder",
            [
                "cross-attention",
                "$K, V$",
                "$Q$",
                "masked multi-head",
                "positional",
                "linear + softmax",
            ],
        ),
        ("residual_block", ["conv 3×3", "BN", "ReLU", "identity", r"F(x) + x"]),
        ("im2col", [r"W_\mathrm{mat}", r"X_\mathrm{col}", "9×4", "2×9", "im2col"]),
        (
            "tokenisation_to_encoder",
            ["[CLS]", "##for", "[SEP]", "29278", "position embedding", "h_\\mathrm{[CLS]}"],
        ),
        ("masked_language_modelling", ["[MASK]", "80%", "10%: random", "−100", "ignored"]),
        ("fine_tuning_head", ["h_\\mathrm{[CLS]}", "384 → 2", "softmax", "label $y$", "top 2"]),
        ("bio_viterbi", ["B-PER", "I-LOC", "forbidden", "Viterbi", "PER: 江泽民"]),
        ("vgg16_blocks", ["block 5", "softmax", "flatten\n25,088", "predictions"]),
        ("transfer_learning", ["1,000 classes", "removed", "5 classes", "last 2 blocks"]),
    ],
)
def test_diagrams_show_their_key_labels(name, labels):
    fig = getattr(diagrams, name)()
    shown = texts(fig)
    for label in labels:
        assert label in shown, f"{name} lacks {label!r}"
    plt.close(fig)


@pytest.mark.parametrize(
    ("tuned", "wording"), [(1, "the last block,"), (2, "the last 2 blocks,"), (7, "last 7 blocks,")]
)
def test_transfer_learning_says_block_or_blocks(tuned, wording):
    fig = diagrams.transfer_learning(blocks=7, fine_tuned_blocks=tuned, classes=10)
    shown = texts(fig)
    assert wording in shown
    assert "1 block" not in shown and "10 classes" in shown
    plt.close(fig)


@pytest.mark.parametrize(
    ("size", "kernel", "stride", "padding"),
    [(5, 3, 1, 1), (7, 3, 2, 0), (6, 2, 2, 1), (4, 4, 1, 0), (10, 5, 3, 2)],
)
def test_convolution_window_shows_the_output_size_of_cnn(size, kernel, stride, padding):
    fig = diagrams.convolution_window(size, kernel, stride, padding)
    out = cnn.output_size(size, kernel, stride, padding)
    assert out == (size + 2 * padding - kernel) // stride + 1
    shown = texts(fig)
    assert f"output {out}×{out}" in shown
    assert shown.rstrip().endswith(f"= {out}$")
    plt.close(fig)


def test_parameters_change_the_picture():
    fig = diagrams.neuron_and_layer(inputs=5, units=2)
    assert "2×5" in texts(fig) and "A layer of 2 units" in texts(fig)
    plt.close(fig)
    fig = diagrams.im2col(5, 2)
    assert "4×16" in texts(fig)  # K² = 4 rows, 4·4 = 16 patches
    plt.close(fig)
    fig = diagrams.attention_matrices(n=3, d_k=2, causal=True)
    assert r"$-\infty$" in texts(fig) and "causal mask" in texts(fig)
    plt.close(fig)
    fig = diagrams.multi_head_attention(heads=6)
    assert "XW^Q_6" in texts(fig) and "XW^Q_7" not in texts(fig)
    plt.close(fig)
    post = texts(diagrams.transformer_block(norm="post"))
    assert r"\mathrm{LN}(x + \mathrm{MHA}(x))" in post and "LN$_1$" not in post
    assert "1×1" in texts(diagrams.residual_block(downsample=True))
    assert r"\alpha_{36}" in texts(diagrams.seq2seq_attention(source_length=6, step=3))
    plt.close("all")


def test_attention_weights_rows_sum_to_one():
    fig = diagrams.attention_matrices(n=4, d_k=3)
    # A's 16 cells are the only texts that start with '.' or are '1.00'.
    cells = [t.get_text() for t in fig.axes[0].texts if t.get_text().startswith(".")]
    assert len(cells) >= 12
    rows = [cells[i : i + 4] for i in range(0, 16, 4) if len(cells[i : i + 4]) == 4]
    for row in rows:
        assert abs(sum(float(v) for v in row) - 1) < 0.03
    plt.close(fig)


@pytest.mark.parametrize(
    ("name", "kwargs", "error", "message"),
    [
        ("neuron_and_layer", {"inputs": 0}, ValueError, "inputs must be an integer in"),
        ("neuron_and_layer", {"units": 2.0}, TypeError, "units must be an integer"),
        ("convolution_window", {"input_size": 3, "kernel_size": 7}, ValueError, "larger than"),
        ("convolution_window", {"stride": 0}, ValueError, "stride must be"),
        ("convolution_window", {"padding": "1"}, TypeError, "padding must be"),
        ("convolution_window", {"position": (5, 0)}, ValueError, r"position must be .* \[0, 4\]"),
        ("convolution_window", {"position": 1}, TypeError, "position must be a pair"),
        ("im2col", {"input_size": 3, "kernel_size": 4}, ValueError, "kernel_size must be ≤"),
        ("im2col", {"input_size": 6, "kernel_size": 1}, ValueError, "at most 16 patches"),
        ("seq2seq_attention", {"step": 4}, ValueError, "step must be"),
        ("seq2seq_attention", {"source_length": True}, TypeError, "source_length must be"),
        ("attention_matrices", {"n": 9}, ValueError, "n must be an integer in"),
        ("attention_matrices", {"causal": 1}, TypeError, "causal must be True or False"),
        ("multi_head_attention", {"heads": 0}, ValueError, "heads must be"),
        ("transformer_block", {"norm": "sandwich"}, ValueError, "norm must be one of"),
        ("encoder_decoder", {"norm": None}, TypeError, "norm must be one of"),
        ("residual_block", {"downsample": "yes"}, TypeError, "downsample must be True or False"),
        ("tokenisation_to_encoder", {"layers": 0}, ValueError, "layers must be"),
        ("tokenisation_to_encoder", {"segments": None}, TypeError, "segments must be"),
        ("masked_language_modelling", {"show_labels": 1}, TypeError, "show_labels must be"),
        ("fine_tuning_head", {"trainable_layers": 7}, ValueError, r"trainable_layers .* \[0, 6\]"),
        ("fine_tuning_head", {"pooling": "max"}, ValueError, "pooling must be one of"),
        ("fine_tuning_head", {"classes": 1}, ValueError, "classes must be"),
        ("fine_tuning_head", {"width": 0}, ValueError, "width must be"),
        ("bio_viterbi", {"forbidden": "no"}, TypeError, "forbidden must be True or False"),
        ("vgg16_blocks", {"image_size": 100}, ValueError, "multiple of 32"),
        ("vgg16_blocks", {"image_size": 224.0}, TypeError, "image_size must be an integer"),
        ("transfer_learning", {"fine_tuned_blocks": 6}, ValueError, "fine_tuned_blocks"),
        ("transfer_learning", {"blocks": 2}, ValueError, "blocks must be"),
    ],
)
def test_bad_parameters_are_refused_with_a_message(name, kwargs, error, message):
    with pytest.raises(error, match=message):
        getattr(diagrams, name)(**kwargs)


def test_style_does_not_leak_and_does_not_depend_on_the_callers_settings():
    with matplotlib.rc_context({"font.family": "serif", "font.size": 20}):
        fig = diagrams.lstm_cell()
        assert matplotlib.rcParams["font.size"] == 20
    fonts = {t.get_fontfamily()[0] for t in fig.axes[0].texts}
    assert fonts == {"DejaVu Sans"}
    plt.close(fig)


def test_tokens_and_ids_are_those_of_the_books_tokenizer():
    from lmbook import text

    tokenizer, _ = text.load_minilm()
    ids = tokenizer("an unforgettable film")["input_ids"]
    assert tuple(tokenizer.convert_ids_to_tokens(ids)) == diagrams.TOKENS_06
    assert tuple(ids) == diagrams.TOKEN_IDS_06
    shown = texts(diagrams.tokenisation_to_encoder())
    assert all(f"{i}" in shown for i in ids)
    words = tokenizer("the film was a delight to watch")["input_ids"]
    assert tuple(tokenizer.convert_ids_to_tokens(words)) == diagrams.MLM_TOKENS
    for token, i in diagrams.MLM_IDS.items():
        assert tokenizer.convert_tokens_to_ids(token) == i
    assert tokenizer.convert_tokens_to_ids("river") != tokenizer.unk_token_id
    plt.close("all")


def test_mlm_labels_are_ignored_except_where_selected():
    fig = diagrams.masked_language_modelling()
    shown = [t.get_text() for t in fig.axes[0].texts]
    assert shown.count("−100") == len(diagrams.MLM_TOKENS) - 3
    assert shown.count("ignored") == len(diagrams.MLM_TOKENS) - 3
    assert "−100" not in texts(diagrams.masked_language_modelling(show_labels=False))
    plt.close("all")


@pytest.mark.parametrize("image_size", [224, 64])
def test_vgg16_numbers_agree_with_vision(image_size):
    from lmbook import vision

    table = vision.vgg16_layers(image_size)
    fig = diagrams.vgg16_blocks(image_size)
    shown = texts(fig)
    convs = table[table.kind == "conv"]
    for b in range(1, 6):
        block = convs[convs.name.str.startswith(f"block{b}_")]
        side, _, channels = block.output_shape.iloc[0]
        assert f"{side}×{side}" in shown
        assert f"{len(block)}× conv\n{channels} ch" in shown
    pooled = table[table.kind == "pool"].output_shape.iloc[-1]
    assert f"{pooled[0]}×{pooled[1]}×{pooled[2]}" in shown
    dense = table[table.kind == "dense"]
    assert [f"{shape[0]:,}" for shape in dense.output_shape] == ["4,096", "4,096", "1,000"]
    assert f"{int(table.params.sum()):,} parameters" in shown
    plt.close(fig)


def test_bio_lattice_uses_the_tags_and_rules_of_ner():
    from lmbook import ner

    assert diagrams.BIO_TAGS == tuple(ner.TAGS)
    allowed, may_start = ner.allowed_transitions()
    index = {tag: i for i, tag in enumerate(ner.TAGS)}
    path = [index[tag] for _, _, tag in diagrams.BIO_SENTENCE]
    assert may_start[path[0]]
    assert all(allowed[a, b] for a, b in zip(path, path[1:], strict=False))
    t, slip = diagrams.BIO_ARGMAX_SLIP
    assert not allowed[path[t - 1], index[slip]]  # the crossed-out edge is forbidden
    for a in ner.TAGS:
        for b in ner.TAGS:
            assert diagrams._bio_allowed(a, b) == allowed[index[a], index[b]]
        assert diagrams._bio_allowed("", a) == may_start[index[a]]
    assert "forbidden" not in texts(diagrams.bio_viterbi(forbidden=False))
    plt.close("all")


def test_bio_viterbi_without_a_chinese_font_writes_pinyin(monkeypatch):
    monkeypatch.setattr(diagrams, "_cjk_font", lambda: None)
    fig, _ = rendered(diagrams.bio_viterbi)
    shown = texts(fig)
    assert "jiāng" in shown and "江" not in shown
    plt.close(fig)


def test_frozen_and_trained_parts_follow_the_parameters():
    head_only = texts(diagrams.fine_tuning_head(trainable_layers=0))
    assert "reach the head only" in head_only and "frozen" in head_only
    full = texts(diagrams.fine_tuning_head(layers=12, trainable_layers=12, pooling="mean"))
    assert "whole encoder" in full and "frozen" not in full and "mean of" in full
    assert "768 → 3" in texts(diagrams.fine_tuning_head(width=768, classes=3))
    shown = texts(diagrams.transfer_learning(blocks=6, fine_tuned_blocks=3, classes=10))
    assert "10 classes" in shown and "last 3 blocks" in shown and "6" in shown.split("\n")
    plt.close("all")
