import math

import numpy as np
import pytest
import torch

from lmbook import checks, rnn


def test_check_close_accepts_and_reports(capsys):
    assert checks.check_close(1.01, 1.0, name="x", unit="m", rel_tol=0.02) is None
    assert "Correct" in capsys.readouterr().out


def test_check_close_gives_the_matching_hint():
    with pytest.raises(checks.AnswerError, match="forgot the square"):
        checks.check_close(
            2.0, 4.0, name="x", unit="m", rel_tol=0.01, hints=[(2.0, "forgot the square")]
        )


def test_check_close_reports_order_of_magnitude():
    with pytest.raises(checks.AnswerError, match=r"10\^3\.0"):
        checks.check_close(1000.0, 1.0, name="x", unit="m", rel_tol=0.01)


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (None, "No answer yet"),
        (..., "No answer yet"),
        ("5e23", "single number"),
        ([1.0, 2.0], "single number"),
        (np.array([1.0, 2.0]), "single number"),
        (True, "single number"),
        (float("nan"), "finite"),
    ],
)
def test_malformed_answers_get_a_clear_message(answer, message):
    with pytest.raises(checks.AnswerError, match=message):
        checks.ch01_training_compute(answer)


def test_rel_tol_must_be_sensible():
    with pytest.raises(ValueError):
        checks.check_close(1.0, 1.0, name="x", unit="m", rel_tol=0)


CHAPTER_1 = [
    # checker, a right answer, wrong answers with the hint each must give
    (
        checks.ch01_training_compute,
        5.46e23,
        [(9.1e22, "forward and backward"), (1.82e23, "forward pass alone")],
    ),
    (checks.ch01_chinchilla_rule, 9.13e10, [(1.826e12, "tokens"), (8.33e21, "square root")]),
    (checks.ch01_doubling_months, 2.18, [(0.1286, "log2"), (3.15, "log2"), (7.24, "log2")]),
]


# Chapter 2 ------------------------------------------------------------------


def sigmoid_derivative(z):
    s = 1 / (1 + np.exp(-z))
    return s * (1 - s)


def linear_backward(dz, a, w):
    return dz @ w, dz.T @ a, dz.sum(axis=0)


def test_chapter_2_function_checkers_accept_right_answers(capsys):
    checks.ch02_sigmoid_derivative(sigmoid_derivative)
    checks.ch02_linear_backward(linear_backward)
    assert capsys.readouterr().out.count("Correct") == 2


@pytest.mark.parametrize(
    ("wrong", "message"),
    [
        (None, "No answer yet: define sigmoid_derivative"),
        (0.25, "should be a function"),
        (lambda z: 1 / (1 + np.exp(-z)), "that is σ"),
        (lambda z: 1 - (1 / (1 + np.exp(-z))) ** 2, "tanh"),
        (lambda z: -sigmoid_derivative(z), "sign"),
        (lambda z: np.exp(-z) / (1 + np.exp(-z)) ** 2, "inf or nan"),
        (lambda z: z[:3], r"shape \(245,\)"),
        (lambda z: 1 / 0, "raised ZeroDivisionError"),
        (lambda z: 0.2 * np.ones_like(z), "largest error"),
    ],
)
def test_sigmoid_derivative_checker_explains_wrong_answers(wrong, message):
    with pytest.raises(checks.AnswerError, match=message):
        checks.ch02_sigmoid_derivative(wrong)


@pytest.mark.parametrize(
    ("wrong", "message"),
    [
        (lambda dz, a, w: (dz @ w, dz.T @ a), "three arrays"),
        (lambda dz, a, w: (dz, dz.T @ a, dz.sum(0)), r"dA should be .* shape \(5, 4\)"),
        (lambda dz, a, w: (dz @ w, a.T @ dz, dz.sum(0)), "dW has W's shape"),
        (lambda dz, a, w: (dz @ w, dz.T @ a, dz.mean(0)), "sum, do not average"),
        (lambda dz, a, w: (dz @ w, 2 * dz.T @ a, dz.sum(0)), "dW has the right shape but wrong"),
        (lambda dz, a, w: (dz @ w, dz.T @ a, "db"), "db should be a float array"),
    ],
)
def test_linear_backward_checker_explains_wrong_answers(wrong, message):
    with pytest.raises(checks.AnswerError, match=message):
        checks.ch02_linear_backward(wrong)


CHAPTER_2 = [
    (
        checks.ch02_max_learning_rate,
        0.5,
        [(4.0, "steep one"), (0.25, "one step"), (0.4444, "fastest"), (0.8889, "average")],
    ),
    (
        checks.ch02_softmax_as_logits_loss,
        1.4612,
        [(0.0, "second softmax"), (2.3026, "nearly"), (2.4612, "subtract")],
    ),
]


# Chapter 3 ------------------------------------------------------------------

CHAPTER_3 = [
    # checker, a right answer, wrong answers with the hint each must give
    (
        checks.ch03_output_size,
        56,
        [
            (112, "after the convolution"),
            (55, "one padding is missing"),
            (54, "both layers pad"),
            (56.5, "whole number"),
            (28, "twice"),
        ],
    ),
    (
        checks.ch03_flatten_size,
        3136,
        [
            (50176, "articles' number"),
            (12544, "two poolings"),
            (1568, "64 output channels"),
            (49, "multiply by the 64"),
            (2304, "pad by 1"),
            (4096, "32×32"),
            (100, "follow the shape"),
        ],
    ),
    (
        checks.ch03_vgg_receptive_field,
        212,
        [(32, "stride 2"), (27, "13 convolutions"), (196, "last pooling"), (224, "18 layers")],
    ),
]


def reference_max_pool_backward(dout, x):
    n, c, h, w = x.shape
    windows = x.reshape(n, c, h // 2, 2, w // 2, 2)
    winners = windows == windows.max(axis=(3, 5), keepdims=True)
    return (winners * dout[:, :, :, None, :, None]).reshape(x.shape)


def test_max_pool_backward_checker_accepts_a_right_answer(capsys):
    checks.ch03_max_pool_backward(reference_max_pool_backward)
    assert "Correct" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (lambda dout, x: np.repeat(np.repeat(dout, 2, axis=2), 2, axis=3), "average"),
        (lambda dout, x: np.repeat(np.repeat(dout, 2, axis=2), 2, axis=3) / 4, "average"),
        (lambda dout, x: reference_max_pool_backward(dout, -x), "wrong input"),
        (lambda dout, x: np.zeros_like(x), "zero except at the maximum"),
        (lambda dout, x: dout, "shape"),
        (lambda dout, x: 1 / 0, "ZeroDivisionError"),
        (None, "No answer yet"),
        ("dx", "should be a function"),
    ],
)
def test_max_pool_backward_checker_explains_wrong_answers(wrong, hint):
    with pytest.raises(checks.AnswerError, match=hint):
        checks.ch03_max_pool_backward(wrong)


# Chapter 4 ------------------------------------------------------------------

AnswerError = checks.AnswerError

CHAPTER_4 = [
    # checker, a right answer, wrong answers with the hint each must give
    (
        checks.ch04_lstm_parameters,
        5920,
        [
            (5120, "second layer reads"),
            (5760, "two bias vectors"),
            (5600, "left out the biases"),
            (2560, "one layer"),
            (1480, "four blocks"),
            (6000, "4 gates"),
        ],
    ),
    (
        checks.ch04_vanishing_steps,
        66,
        [(65.56, "whole number"), (65, "round up"), (4, "not 0.1"), (100, "logarithms")],
    ),
    (
        checks.ch04_forget_bias,
        4.9698,
        [
            (0.99309, "gate value f"),
            (-4.97, "sign"),
            (0.00691, "1 - f"),
            (-0.00693, "ln f"),
            (2.0, "f\\^100 = 0.5"),
        ],
    ),
]


def test_exact_answers_are_what_the_exercises_say():
    assert checks._lstm_parameters(20, (10, 20)) == 5920
    import torch

    layer = torch.nn.LSTM(10, 20, num_layers=2)
    assert sum(p.numel() for p in layer.parameters()) == 5920
    assert 0.9**66 < 1e-3 < 0.9**65
    f = 1 / (1 + math.exp(-4.9698))
    assert abs(f**100 - 0.5) < 1e-3


def reference_gru(params, x, h):
    return rnn.gru_cell(params, x, h)


def test_gru_checker_accepts_a_right_step(capsys):
    checks.ch04_gru_step(reference_gru)
    assert "Correct" in capsys.readouterr().out

    def written_out(params, x, h):  # an independent implementation, as a learner writes it
        def sig(a):
            return 1 / (1 + np.exp(-a))

        r = sig(x @ params["W_xr"].T + h @ params["W_hr"].T + params["b_r"])
        z = sig(x @ params["W_xz"].T + h @ params["W_hz"].T + params["b_z"])
        n = np.tanh(
            x @ params["W_xn"].T + params["b_xn"] + r * (h @ params["W_hn"].T + params["b_hn"])
        )
        return (1 - z) * n + z * h

    checks.ch04_gru_step(written_out)
    assert "Correct" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("switches", "hint"),
    [
        ({"swap_z": True}, "z weights the old state"),
        ({"reset_before": True}, "after the product"),
        ({"bias_outside": True}, "bias included"),
    ],
)
def test_gru_checker_names_the_usual_mistakes(switches, hint):
    def mistaken(params, x, h):
        return checks._gru_variant(params, x, h, **switches)

    with pytest.raises(AnswerError, match=hint):
        checks.ch04_gru_step(mistaken)


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (None, "No answer yet"),
        (..., "No answer yet"),
        (42, "should be a function"),
        (lambda params, x, h: None, "returned None"),
        (lambda params, x, h: np.zeros(5), r"shape \(5,\)"),
        (lambda params, x, h: x @ params["W_hn"], "raised ValueError"),
        (lambda params, x, h: np.tanh(h @ params["W_hn"]), "weights are stored"),
    ],
)
def test_gru_checker_reports_malformed_answers(answer, message):
    with pytest.raises(AnswerError, match=message):
        checks.ch04_gru_step(answer)


def test_gru_checker_does_not_let_the_answer_change_its_data():
    def vandal(params, x, h):
        for value in params.values():
            value[...] = 0.0
        return rnn.gru_cell(rnn.init_params("gru", 3, 5, seed=4), x, h)

    checks.ch04_gru_step(vandal)  # passes: the checker handed over copies


# Chapter 5 ------------------------------------------------------------------

CHAPTER_5 = [
    (
        checks.ch05_attention_flops,
        2 * 2 * 4096**2 * 128,
        [
            (2 * 4096**2 * 128, "QKᵀ alone"),
            (4096**2 * 128 * 2 / 2, "2 FLOPs"),
            (4 * 4096**2 * 128 + 8 * 4096 * 128**2, "projections"),
            (4 * 4096 * 128**2, "n²·d"),
            (1e6, "multiply-add is 2 FLOPs"),
        ],
    ),
    (
        checks.ch05_score_scale,
        1 / 32,
        [(1 / 8, "variance 4"), (1 / 16, "4·4"), (1 / 1024, "standard deviation"), (32, "below 1")],
    ),
]


def test_causal_mask_checker_accepts_a_right_answer(capsys):
    checks.ch05_causal_mask(lambda n: np.tril(np.ones((n, n), dtype=bool)))
    assert "Correct" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (lambda n: np.triu(np.ones((n, n), dtype=bool), 1), "True where attention is forbidden"),
        (lambda n: np.triu(np.ones((n, n), dtype=bool)), "see the future"),
        (lambda n: np.tril(np.ones((n, n), dtype=bool), -1), "attend to itself"),
        (lambda n: np.tril(np.ones((n, n))), "dtype float64"),
        (lambda n: np.ones((n, n), dtype=bool), "np.tril"),
        (lambda n: np.ones(n, dtype=bool), "shape \\(n, n\\)"),
        (lambda n: None, "returned None"),
        (lambda n: 1 / 0, "ZeroDivisionError"),
        (None, "No answer yet"),
    ],
)
def test_causal_mask_checker_explains_wrong_answers(wrong, hint):
    with pytest.raises(checks.AnswerError, match=hint):
        checks.ch05_causal_mask(wrong)


# Chapter 6 ------------------------------------------------------------------

MINILM_LAYER = 1_774_464

CHAPTER_6 = [
    (
        checks.ch06_bert_large_parameters,
        335_141_888,
        [
            (334_092_288, "pooler"),
            (303_358_976, "embedding"),
            (334_920_704, "bias"),
            (335_041_536, "2H"),
            (335_092_736, "two LayerNorms"),
            (3e8, "24 times"),
        ],
    ),
    (
        checks.ch06_trainable_parameters,
        2 * MINILM_LAYER + 770,
        [
            (2 * MINILM_LAYER, "head"),
            (MINILM_LAYER + 770, "two layers"),
            (6 * MINILM_LAYER + 770, "top two"),
            (2 * (MINILM_LAYER - 1536) + 770, "LayerNorms"),
            (1e6, "feed-forward"),
        ],
    ),
    (
        checks.ch06_accuracy_margin,
        0.022723,
        [(0.011593, "1.96"), (0.000263, "square root"), (0.071857, "1,000"), (2.2723, "fraction")],
    ),
]


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (["un", "##happ", "##iness"], "longest"),
        (["unh", "app", "##iness"], "## prefix"),
        (["unh", "##appi", "##ness"], "vocabulary"),
        (["un", "##hap"], "spell"),
        ("unh ##app ##iness", "list of strings"),
        (None, "No answer yet"),
    ],
)
def test_wordpiece_checker(wrong, hint, capsys):
    checks.ch06_wordpiece(["unh", "##app", "##iness"])
    assert "Correct" in capsys.readouterr().out
    with pytest.raises(checks.AnswerError, match=hint):
        checks.ch06_wordpiece(wrong)


def test_mean_pool_checker(capsys):
    def right(states, mask):
        weights = mask.unsqueeze(-1).float()
        return (states * weights).sum(1) / weights.sum(1)

    checks.ch06_mean_pool(right)
    assert "Correct" in capsys.readouterr().out
    mistakes = [
        (lambda s, m: s.mean(1), "counts the padding"),
        (lambda s, m: (s * m.unsqueeze(-1)).sum(1) / s.shape[1], "full length"),
        (
            lambda s, m: torch.nn.functional.normalize(right(s, m), dim=1),
            "before normalising",
        ),
        (lambda s, m: s[:, 0], "Hint"),
        (lambda s, m: s.mean(), "shape"),
        (lambda s: s, "raised TypeError"),
        (None, "No answer yet"),
        ("mean", "function"),
    ]
    for wrong, hint in mistakes:
        with pytest.raises(checks.AnswerError, match=hint):
            checks.ch06_mean_pool(wrong)


# Chapter 7 ------------------------------------------------------------------

CHAPTER_7 = [
    (
        checks.ch07_conv_params,
        295_168,
        [
            (294_912, "bias"),
            (590_080, "128 channels"),
            (33_024, "3×3 positions"),
            (1153, "one filter"),
        ],
    ),
    (
        checks.ch07_fc1_share,
        0.74276,
        [(0.89365, "all three"), (74.276, "percentage"), (0.01519, "flattened"), (0.5, "divide")],
    ),
]


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        ([255 - 103.939, 128 - 116.779, 0 - 123.68], "BGR"),
        ([0 - 123.68, 128 - 116.779, 255 - 103.939], "BGR order too"),
        ([0, 128, 255], "subtract"),
        ([2.2489, 0.2052, -1.8044], "torch-style"),
        ([1, 2, 3], "BGR order, then subtract"),
        ([1, 2], "shape \\(3,\\)"),
        (None, "No answer yet"),
    ],
)
def test_caffe_pixel_checker(wrong, hint, capsys):
    checks.ch07_caffe_pixel([0 - 103.939, 128 - 116.779, 255 - 123.68])
    assert "Correct" in capsys.readouterr().out
    with pytest.raises(checks.AnswerError, match=hint):
        checks.ch07_caffe_pixel(wrong)


# Every number checker -------------------------------------------------------


@pytest.mark.parametrize(
    ("checker", "right", "wrongs"),
    CHAPTER_1 + CHAPTER_2 + CHAPTER_3 + CHAPTER_4 + CHAPTER_5 + CHAPTER_6 + CHAPTER_7,
    ids=lambda value: getattr(value, "__name__", ""),
)
def test_number_checkers(checker, right, wrongs, capsys):
    checker(right)
    assert "Correct" in capsys.readouterr().out
    checker(np.float64(right))  # NumPy scalars are numbers too
    for wrong, hint in wrongs:
        with pytest.raises(checks.AnswerError, match=hint) as caught:
            checker(wrong)
        hint_text = str(caught.value).split("Hint:")[-1]
        assert f"{abs(right):.3g}" not in hint_text  # the hint must not give the answer away
    for malformed, message in [(None, "No answer yet"), ("66", "single number")]:
        with pytest.raises(checks.AnswerError, match=message):
            checker(malformed)
