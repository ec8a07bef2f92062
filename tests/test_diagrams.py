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
    ],
)
def test_diagrams_show_their_key_labels(name, labels):
    fig = getattr(diagrams, name)()
    shown = texts(fig)
    for label in labels:
        assert label in shown, f"{name} lacks {label!r}"
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
