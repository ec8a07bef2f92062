"""The exercise checkers of ``lmbook.checks``, audited.

``AUDIT`` has one row for every public checker: a right answer (the notebook's
solution), wrong answers, each with a piece of the hint it must get, and
malformed answers, each with a piece of the message it must get. The tests run
over the table; ``test_every_checker_is_audited`` fails if a checker is missing
from it, so a new checker cannot ship without its three kinds of test.
"""

from __future__ import annotations

import inspect
import math
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
import torch

from lmbook import checks, nn, privacy, rnn

AnswerError = checks.AnswerError


@dataclass
class Row:
    """One checker: a right answer, wrong answers with hints, malformed answers with messages."""

    checker: Any
    right: Any
    wrong: list[tuple[Any, str]]
    malformed: list[tuple[Any, str]]
    kind: str = "value"  # "number" (a check_close checker), "value" or "function"
    also_right: list[Any] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.checker.__name__


def number(checker, right, wrong, malformed=()):
    """A checker of one number, built on check_close."""
    return Row(
        checker,
        right,
        wrong,
        [(None, "No answer yet"), ("66", "single number"), *malformed],
        "number",
    )


def function(checker, right, wrong, malformed=(), also_right=()):
    """A checker of a function that the learner writes."""
    return Row(
        checker, right, wrong, [(None, "No answer yet"), *malformed], "function", list(also_right)
    )


# Right answers written as learners would: the notebooks' solution cells.


def sigmoid_derivative(z):
    s = nn.sigmoid(z)
    return s * (1 - s)


def naive_sigmoid_derivative(z):
    s = 1 / (1 + np.exp(-z))
    return s * (1 - s)


def linear_backward(dz, a, w):
    return dz @ w, dz.T @ a, dz.sum(axis=0)


def my_max_pool_backward(dout, x):
    n, c, h, w = x.shape
    windows = x.reshape(n, c, h // 2, 2, w // 2, 2)
    is_max = windows == windows.max(axis=(3, 5), keepdims=True)
    return (is_max * dout[:, :, :, None, :, None]).reshape(x.shape)


def my_gru_step(params, x, h):
    def gate(name):
        return rnn.sigmoid(
            x @ params[f"W_x{name}"].T + h @ params[f"W_h{name}"].T + params[f"b_{name}"]
        )

    r, z = gate("r"), gate("z")
    candidate = np.tanh(
        x @ params["W_xn"].T + params["b_xn"] + r * (h @ params["W_hn"].T + params["b_hn"])
    )
    return (1 - z) * candidate + z * h


def gru_cell_in_torch(params, x, h):  # another right answer: tensors, not arrays
    return torch.from_numpy(my_gru_step(params, x, h))


def gru_vandal(params, x, h):  # overwrites its inputs; the checker must hand over copies
    for value in params.values():
        value[...] = 0.0
    return rnn.gru_cell(rnn.init_params("gru", 3, 5, seed=4), x, h)


def gru_variant(**switches):
    return lambda params, x, h: checks._gru_variant(params, x, h, **switches)


def my_causal_mask(n):
    return np.tril(np.ones((n, n), dtype=bool))


def mean_pool(states, mask):
    weights = mask.unsqueeze(-1).to(states.dtype)
    return (states * weights).sum(dim=1) / weights.sum(dim=1)


def integrated_gradients(forward, x, baseline, steps):
    t = torch.arange(1, steps + 1, dtype=x.dtype) / steps
    path = (baseline + t.view(-1, *[1] * x.ndim) * (x - baseline)).requires_grad_(True)
    (grads,) = torch.autograd.grad(forward(path).sum(), path)
    return (x - baseline) * grads.mean(dim=0)


def averaged_gradient(forward, x, baseline, steps):
    return integrated_gradients(forward, x, baseline, steps) / (x - baseline)


def left_riemann_sum(forward, x, baseline, steps):
    return integrated_gradients(forward, x - (x - baseline) / steps, baseline, steps)


def spread_gradient(dout, x):
    return np.repeat(np.repeat(dout, 2, axis=2), 2, axis=3)


# The numbers the exercises ask for, from the solution cells.

CHINCHILLA_N = math.sqrt(1e24 / 120)
FORGET_GATE = 0.5 ** (1 / 100)
BERT_H, BERT_F = 1024, 4096
BERT_LAYER = (
    4 * (BERT_H * BERT_H + BERT_H)
    + 2 * BERT_H
    + (BERT_H * BERT_F + BERT_F)
    + (BERT_F * BERT_H + BERT_H)
    + 2 * BERT_H
)
BERT_LARGE = (30_522 + 512 + 2) * BERT_H + 2 * BERT_H + 24 * BERT_LAYER + BERT_H**2 + BERT_H
MINILM_LAYER = 4 * (384**2 + 384) + 2 * 384 + (384 * 1536 + 1536) + (1536 * 384 + 384) + 2 * 384
MARGIN_SE = math.sqrt(0.84 * 0.16 / 1000)
PERPLEXITY_NLL = -np.mean(np.log([0.5, 0.25, 0.1, 0.4]))
TEMPERATURE_LOGITS = np.array([2.0, 1.0, 0.0])
TRAINING_SECONDS = 6 * 70e9 * 2e12 / (1024 * 989e12 * 0.4)
KV_CACHE_GB = 2 * 32 * 8 * 128 * 8192 * 16 * 2 / 1e9
QP_SCALE = (2.4 + 0.8) / 255
BREAK_EVEN_PRICE, BREAK_EVEN_REPLICA = 0.50 / 1e6, 2.00 * 730
TRAINING_GPU_HOURS = 6 * 70e9 * 15e12 / (0.40 * 989e12 * 3600)
DECODE_TOKENS = 2 * 3.35e12 / (70.6e9 * 2)
EMISSIONS_KWH = 1_720_320 * 0.400 * 1.1
DP_EPSILON = privacy.dp_epsilon(noise_multiplier=1.1, sample_rate=0.01, steps=10_000, delta=1e-5)
BIO_GOLD = ["B-PER", "I-PER", "I-PER", "O", "O", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "I-ORG"]
TOP_P_RANKED = ["the", "a", "his", "her", "my", "this"]


AUDIT = [
    # Chapter 1 ---------------------------------------------------------------
    number(
        checks.ch01_training_compute,
        6 * 65e9 * 1.4e12,
        [(9.1e22, "forward and backward"), (1.82e23, "forward pass alone"), (5e20, "6 · N · D")],
        [
            (..., "No answer yet"),
            ([1.0, 2.0], "single number"),
            (np.array([1.0, 2.0]), "single number"),
            (True, "single number"),
            (float("nan"), "finite"),
            (10**400, "too large"),
        ],
    ),
    number(
        checks.ch01_chinchilla_rule, CHINCHILLA_N, [(1.826e12, "tokens"), (8.33e21, "square root")]
    ),
    number(
        checks.ch01_doubling_months,
        15 / np.log2(175e9 / 1.5e9),
        [
            (0.1286, "log2(ratio)"),
            (3.15, "not ln"),
            (7.24, "not log10"),
            (1.0, "count the doublings"),
        ],
    ),
    # Chapter 2 ---------------------------------------------------------------
    function(
        checks.ch02_sigmoid_derivative,
        sigmoid_derivative,
        [
            (lambda z: nn.sigmoid(z), "that is σ"),
            (lambda z: 1 - nn.sigmoid(z) ** 2, "tanh"),
            (lambda z: -sigmoid_derivative(z), "sign"),
            (lambda z: np.exp(-z) / (1 + np.exp(-z)) ** 2, "inf or nan"),
            (lambda z: 0.2 * np.ones_like(z), "largest error"),
        ],
        [
            (0.25, "should be a function"),
            (lambda z: z[:3], "shape (245,)"),
            (lambda z: 1 / 0, "raised ZeroDivisionError"),
        ],
        also_right=[naive_sigmoid_derivative],
    ),
    function(
        checks.ch02_linear_backward,
        linear_backward,
        [
            (lambda dz, a, w: (dz @ w, a.T @ dz, dz.sum(0)), "dW has W's shape"),
            (lambda dz, a, w: (dz @ w, dz.T @ a, dz.mean(0)), "sum, do not average"),
            (
                lambda dz, a, w: (dz @ w, 2 * dz.T @ a, dz.sum(0)),
                "dW has the right shape but wrong",
            ),
            (lambda dz, a, w: (2 * dz @ w, dz.T @ a, dz.sum(0)), "sum over i"),
        ],
        [
            (lambda dz, a, w: (dz @ w, dz.T @ a), "three arrays"),
            (
                lambda dz, a, w: (dz, dz.T @ a, dz.sum(0)),
                "dA should be a float array of shape (5, 4)",
            ),
            (lambda dz, a, w: (dz @ w, dz.T @ a, "db"), "db should be a float array"),
            (lambda dz, a, w: (dz @ w * np.nan, dz.T @ a, dz.sum(0)), "dA contains nan"),
        ],
    ),
    number(
        checks.ch02_max_learning_rate,
        2 / 4,
        [
            (4.0, "steep one"),
            (0.25, "one step"),
            (0.4444, "fastest"),
            (0.8889, "average"),
            (0.1, "|1 − ηλ|"),
        ],
    ),
    number(
        checks.ch02_softmax_as_logits_loss,
        np.log(np.e + 9) - 1,
        [(0.0, "second softmax"), (2.3026, "nearly"), (2.4612, "subtract"), (1.0, "length 10")],
    ),
    # Chapter 3 ---------------------------------------------------------------
    number(
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
    number(
        checks.ch03_flatten_size,
        64 * 7 * 7,
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
    function(
        checks.ch03_max_pool_backward,
        my_max_pool_backward,
        [
            (spread_gradient, "average"),
            (lambda dout, x: spread_gradient(dout, x) / 4, "average"),
            (lambda dout, x: my_max_pool_backward(dout, -x), "wrong input"),
            (lambda dout, x: np.zeros_like(x), "zero except at the maximum"),
        ],
        [
            ("dx", "should be a function"),
            (lambda dout, x: dout, "shape"),
            (lambda dout, x: 1 / 0, "ZeroDivisionError"),
            (lambda dout, x: x * np.nan, "nan or inf"),
        ],
    ),
    number(
        checks.ch03_vgg_receptive_field,
        212,
        [(32, "stride 2"), (27, "13 convolutions"), (196, "last pooling"), (224, "18 layers")],
    ),
    # Chapter 4 ---------------------------------------------------------------
    number(
        checks.ch04_lstm_parameters,
        sum(4 * (20 * d_in + 20 * 20 + 2 * 20) for d_in in (10, 20)),
        [
            (5120, "second layer reads"),
            (5760, "two bias vectors"),
            (5600, "left out the biases"),
            (2560, "one layer"),
            (1480, "four blocks"),
            (6000, "4 gates"),
        ],
    ),
    number(
        checks.ch04_vanishing_steps,
        math.ceil(math.log(1e-3) / math.log(0.9)),
        [(65.56, "whole number"), (65, "round up"), (4, "not 0.1"), (100, "logarithms")],
    ),
    number(
        checks.ch04_forget_bias,
        math.log(FORGET_GATE / (1 - FORGET_GATE)),
        [
            (0.99309, "gate value f"),
            (-4.97, "sign"),
            (0.00691, "1 - f"),
            (-0.00693, "ln f"),
            (2.0, "f^100 = 0.5"),
        ],
    ),
    function(
        checks.ch04_gru_step,
        my_gru_step,
        [
            (gru_variant(swap_z=True), "z weights the old state"),
            (gru_variant(reset_before=True), "after the product"),
            (gru_variant(bias_outside=True), "bias included"),
            (lambda params, x, h: np.tanh(h @ params["W_hn"]), "weights are stored"),
        ],
        [
            (..., "No answer yet"),
            (42, "should be a function"),
            (lambda params, x, h: None, "returned None"),
            (lambda params, x, h: np.zeros(5), "shape (5,)"),
            (lambda params, x, h: x @ params["W_hn"], "raised ValueError"),
            (lambda params, x, h: "h", "not an array of numbers"),
            (lambda params, x, h: {"h": h}, "not an array of numbers"),
            (lambda params, x, h: h * np.nan, "nan or inf"),
        ],
        also_right=[rnn.gru_cell, gru_cell_in_torch, gru_vandal],
    ),
    # Chapter 5 ---------------------------------------------------------------
    function(
        checks.ch05_causal_mask,
        my_causal_mask,
        [
            (
                lambda n: np.triu(np.ones((n, n), dtype=bool), 1),
                "True where attention is forbidden",
            ),
            (lambda n: np.triu(np.ones((n, n), dtype=bool)), "see the future"),
            (lambda n: np.tril(np.ones((n, n), dtype=bool), -1), "attend to itself"),
            (lambda n: np.ones((n, n), dtype=bool), "np.tril"),
        ],
        [
            (lambda n: np.tril(np.ones((n, n))), "dtype float64"),
            (lambda n: np.ones(n, dtype=bool), "shape (n, n)"),
            (lambda n: None, "returned None"),
            (lambda n: 1 / 0, "ZeroDivisionError"),
            (lambda n: [[True] * (i + 1) for i in range(n)], "rows differ in length"),
        ],
        also_right=[lambda n: torch.tril(torch.ones(n, n, dtype=torch.bool))],
    ),
    number(
        checks.ch05_attention_flops,
        2 * 4096 * 4096 * 128 + 2 * 4096 * 4096 * 128,
        [
            (2 * 4096**2 * 128, "QKᵀ alone"),
            (4096**2 * 128 * 2 / 2, "2 FLOPs"),
            (4 * 4096**2 * 128 + 8 * 4096 * 128**2, "projections"),
            (4 * 4096 * 128**2, "n²·d"),
            (1e6, "multiply-add is 2 FLOPs"),
        ],
    ),
    number(
        checks.ch05_score_scale,
        1 / math.sqrt(64 * 4 * 4),
        [(1 / 8, "variance 4"), (1 / 16, "4·4"), (1 / 1024, "standard deviation"), (32, "below 1")],
    ),
    # Chapter 6, part 1 -------------------------------------------------------
    Row(
        checks.ch06_wordpiece,
        ["unh", "##app", "##iness"],
        [
            (["un", "##happ", "##iness"], "longest"),
            (["unh", "app", "##iness"], "## prefix"),
            (["unh", "##appi", "##ness"], "vocabulary"),
            (["un", "##hap"], "spell"),
        ],
        [
            (None, "No answer yet"),
            ("unh ##app ##iness", "list of strings"),
            (["unh", 2], "list of strings"),
            ({"unh", "##app", "##iness"}, "list of strings"),
        ],
        also_right=[("unh", "##app", "##iness")],
    ),
    number(
        checks.ch06_bert_large_parameters,
        BERT_LARGE,
        [
            (334_092_288, "pooler"),
            (303_358_976, "embedding"),
            (334_920_704, "bias"),
            (335_041_536, "2H"),
            (335_092_736, "two LayerNorms"),
            (3e8, "24 times"),
        ],
    ),
    function(
        checks.ch06_mean_pool,
        mean_pool,
        [
            (lambda s, m: s.mean(1), "counts the padding"),
            (lambda s, m: (s * m.unsqueeze(-1)).sum(1) / s.shape[1], "full length"),
            (
                lambda s, m: torch.nn.functional.normalize(mean_pool(s, m), dim=1),
                "before normalising",
            ),
            (lambda s, m: s[:, 0], "sum of the mask"),
        ],
        [
            ("mean", "function"),
            (lambda s, m: s.mean(), "shape"),
            (lambda s: s, "raised TypeError"),
            (lambda s, m: s[:, 0] * np.nan, "nan or inf"),
        ],
        also_right=[
            lambda s, m: mean_pool(s, m).numpy(),
            lambda s, m: mean_pool(s, m).requires_grad_(),
        ],
    ),
    # Chapter 6, part 2 -------------------------------------------------------
    number(
        checks.ch06_trainable_parameters,
        2 * MINILM_LAYER + (384 * 2 + 2),
        [
            (2 * MINILM_LAYER, "head"),
            (MINILM_LAYER + 770, "two layers"),
            (6 * MINILM_LAYER + 770, "top two"),
            (2 * (MINILM_LAYER - 1536) + 770, "LayerNorms"),
            (1e6, "feed-forward"),
        ],
    ),
    number(
        checks.ch06_accuracy_margin,
        1.96 * MARGIN_SE,
        [
            (0.011593, "1.96"),
            (0.000263, "square root"),
            (0.071857, "1,000"),
            (2.2723, "fraction"),
            (0.5, "sqrt"),
        ],
    ),
    # Chapter 6, part 3 -------------------------------------------------------
    Row(
        checks.ch06_entity_scores,
        (1 / 2, 1 / 3, 2 * (1 / 2) * (1 / 3) / (1 / 2 + 1 / 3)),
        [
            ((1 / 3, 1 / 2, 0.4), "swapped"),
            ((1.0, 3 / 7, 0.6), "character-level"),
            ((1.0, 2 / 3, 0.8), "partial match earns nothing"),
            ((0.3, 0.3, 0.3), "count the exact matches"),
        ],
        [
            (None, "No answer yet"),
            ((0.5, 0.3), "shape (3,), got shape (2,)"),
            ("0.5, 0.3, 0.4", "not an array of numbers"),
            ((0.5, float("nan"), 0.4), "nan or inf"),
        ],
        also_right=[np.array([0.5, 0.333, 0.4]), torch.tensor([0.5, 0.3333, 0.4])],
    ),
    Row(
        checks.ch06_spans_to_bio,
        BIO_GOLD,
        [
            (BIO_GOLD[:7] + ["I-ORG"] + BIO_GOLD[8:], "starts a new entity"),
            (["O"] + BIO_GOLD[:9], "count the characters from 0"),
            (["B-MISC"] + BIO_GOLD[1:], "must be one of"),
        ],
        [
            (None, "No answer yet"),
            (" ".join(BIO_GOLD), "list of 10 tags, got str"),
            (BIO_GOLD[:9], "has 9 tags"),
            (np.array(BIO_GOLD), "list of 10 tags, got ndarray"),
        ],
        also_right=[tuple(BIO_GOLD)],
    ),
    Row(
        checks.ch06_bio_errors,
        3,
        [(6, "same type is fine"), (5, "too many"), (1, "too few")],
        [
            (None, "No answer yet"),
            (3.0, "whole number"),
            ("3", "whole number"),
            (True, "whole number"),
        ],
        also_right=[np.int64(3)],
    ),
    # Chapter 6, part 4 -------------------------------------------------------
    number(
        checks.ch06_perplexity_from_probs,
        math.exp(PERPLEXITY_NLL),
        [
            (PERPLEXITY_NLL, "its exp"),
            (PERPLEXITY_NLL / math.log(2), "bits per token"),
            (math.exp(-PERPLEXITY_NLL), "at least 1"),
            (np.mean([2, 4, 10, 2.5]), "inverse probabilities"),
            (1.0, "exp(-(1/N)"),
        ],
    ),
    Row(
        checks.ch06_top_p_survivors,
        ["the", "a", "his", "her", "my"],
        [
            (TOP_P_RANKED[:4], "keep the token that crosses it"),
            (TOP_P_RANKED, "smallest such set"),
            (["the", "a", "his", "her", "this"], "sort the tokens"),
        ],
        [
            (None, "No answer yet"),
            ("the a his her my", "list (or set) of tokens"),
            (["the", 1], "list (or set) of tokens"),
            ({"the": 0.42}, "list (or set) of tokens"),
            (["The"], "not among the six tokens"),
        ],
        also_right=[{"my", "her", "his", "a", "the"}, ("the", "a", "his", "her", "my")],
    ),
    Row(
        checks.ch06_temperature_probs,
        np.exp(TEMPERATURE_LOGITS / 0.5) / np.exp(TEMPERATURE_LOGITS / 0.5).sum(),
        [
            (nn.softmax(TEMPERATURE_LOGITS), "temperature 1"),
            (nn.softmax(TEMPERATURE_LOGITS * 0.5), "do not multiply"),
            (TEMPERATURE_LOGITS / 0.5, "with a softmax"),
            (np.exp(TEMPERATURE_LOGITS / 0.5), "must sum to 1"),
            ([0.5, 0.3, 0.1], "probabilities sum to 1"),
            ([0.6, 0.3, 0.1], "exp(z_i / T)"),
        ],
        [
            (None, "No answer yet"),
            ([0.8, 0.2], "shape (3,)"),
            ([float("nan")] * 3, "nan or inf"),
            ({"the": 0.867}, "not an array of numbers"),
        ],
    ),
    # Chapter 7 ---------------------------------------------------------------
    number(
        checks.ch07_conv_params,
        256 * 3 * 3 * 128 + 256,
        [
            (294_912, "bias"),
            (590_080, "128 channels"),
            (33_024, "3×3 positions"),
            (1153, "one filter"),
        ],
    ),
    number(
        checks.ch07_fc1_share,
        (7 * 7 * 512 * 4096 + 4096) / 138_357_544,
        [(0.89365, "all three"), (74.276, "percentage"), (0.01519, "flattened"), (0.5, "divide")],
    ),
    Row(
        checks.ch07_caffe_pixel,
        [0 - 103.939, 128 - 116.779, 255 - 123.68],
        [
            ([255 - 103.939, 128 - 116.779, 0 - 123.68], "BGR"),
            ([0 - 123.68, 128 - 116.779, 255 - 103.939], "BGR order too"),
            ([0, 128, 255], "subtract"),
            ([2.2489, 0.2052, -1.8044], "torch-style"),
            ([1, 2, 3], "BGR order, then subtract"),
        ],
        [
            (None, "No answer yet"),
            ([1, 2], "shape (3,)"),
            ("orange", "not an array of numbers"),
            ([float("nan"), 0, 0], "nan or inf"),
        ],
    ),
    # Chapter 8 ---------------------------------------------------------------
    number(
        checks.ch08_finetune_memory,
        16 * 7e9 / 1e9,
        [
            (14, "bf16 weights alone"),
            (28, "what does Adam keep"),
            (84, "fp32 part"),
            (104.3, "GiB"),
            (50, "bytes per parameter"),
        ],
    ),
    number(
        checks.ch08_training_days,
        TRAINING_SECONDS / 86400,
        [
            (TRAINING_SECONDS / 86400 / 3, "6 FLOPs per parameter"),
            (TRAINING_SECONDS / 86400 * 0.16, "MFU"),
            (TRAINING_SECONDS / 3600, "in hours"),
            (TRAINING_SECONDS, "in seconds"),
            (100, "convert seconds to days"),
        ],
    ),
    number(
        checks.ch08_allreduce_gigabytes,
        2 * (8 - 1) / 8 * 1e9 * 2 / 1e9,
        [
            (1.75, "one phase"),
            (7.0, "bytes is that per value"),
            (28.0, "1/p of the buffer"),
            (2.0, "Count the steps"),
            (1.0, "2·(p − 1)/p"),
        ],
    ),
    # Chapter 9 ---------------------------------------------------------------
    number(
        checks.ch09_int4_size,
        8.03e9 * (4 + 16 / 64) / 8 / 1e9,
        [
            (4.015, "add each group's scale"),
            (20.075, "shared by a group"),
            (8.03, "int8"),
            (16.06, "bf16"),
            (32.12, "fp32"),
            (34.1275, "divide bits by 8"),
            (1.0, "bits per weight"),
        ],
    ),
    Row(
        checks.ch09_qparams,
        (QP_SCALE, round(0.8 / QP_SCALE)),
        [
            ((3.2 / 256, 64), "255 steps"),
            ((2.4 / 255, 64), "from the minimum"),
            ((255 / 3.2, 64), "real size of one integer step"),
            ((0.5, 64), "q_max - q_min"),
            ((QP_SCALE, -64), "mind the sign"),
            ((QP_SCALE, 63.75), "is an integer"),
            ((QP_SCALE, 63), "nearest integer"),
            ((QP_SCALE, 10), "q_min = 0"),
        ],
        [
            (None, "No answer yet"),
            (QP_SCALE, "a pair"),
            ((QP_SCALE, 64, 0), "a pair"),
            (np.array(0.5), "a pair"),
            ({"scale": QP_SCALE, "zero_point": 64}, "a pair"),
            (("0.0125", 64), "the scale should be a single number"),
            ((QP_SCALE, float("nan")), "finite"),
        ],
        also_right=[[0.01255, 64], np.array([QP_SCALE, 64.0])],
    ),
    number(
        checks.ch09_kv_cache,
        KV_CACHE_GB,
        [
            (KV_CACHE_GB / 2, "key AND a value"),
            (KV_CACHE_GB * 4, "8 key/value heads"),
            (KV_CACHE_GB * 2, "2 bytes per value"),
            (KV_CACHE_GB / 16, "one sequence"),
            (KV_CACHE_GB * 1e9 / 2**30, "not 2^30"),
            (1.0, "2 · layers"),
        ],
    ),
    number(
        checks.ch09_csr_break_even,
        1 - 4 / (4 + 4),
        [(2 / 3, "8-byte indices"), (50, "not a percentage"), (0.9, "set them equal")],
    ),
    # Chapter 10 --------------------------------------------------------------
    number(
        checks.ch10_break_even,
        (2 * BREAK_EVEN_REPLICA + 3000) / BREAK_EVEN_PRICE,
        [
            ((BREAK_EVEN_REPLICA + 3000) / BREAK_EVEN_PRICE, "Count the replicas"),
            (BREAK_EVEN_REPLICA / BREAK_EVEN_PRICE, "fixed monthly cost"),
            (3000 / BREAK_EVEN_PRICE, "billed on top"),
            ((2 * BREAK_EVEN_REPLICA + 3000) / BREAK_EVEN_PRICE * 1e6, "per million tokens"),
            (5000 * 3600 * 730, "full load"),
            (1e9, "fewest replicas"),
        ],
    ),
    number(
        checks.ch10_training_cost,
        TRAINING_GPU_HOURS * 2.0,
        [
            (TRAINING_GPU_HOURS * 2.0 * 0.4, "40 %"),
            (TRAINING_GPU_HOURS * 2.0 / 3, "6 FLOPs"),
            (TRAINING_GPU_HOURS, "number of GPU-hours"),
            (TRAINING_GPU_HOURS * 2.0 * 3600, "3,600 seconds"),
            (1e5, "6·N·D"),
        ],
    ),
    number(
        checks.ch10_decode_tokens,
        DECODE_TOKENS,
        [
            (DECODE_TOKENS / 2, "in parallel"),
            (2 * DECODE_TOKENS, "2 bytes"),
            (2 * 989e12 / (2 * 70.6e9), "compute limit"),
            (1000 / DECODE_TOKENS, "milliseconds"),
            (1.0, "summed bandwidth"),
        ],
    ),
    # Chapter 11 --------------------------------------------------------------
    number(
        checks.ch11_dp_epsilon,
        DP_EPSILON,
        [
            (privacy.dp_epsilon(1.1, 0.01, 1, 1e-5), "that is one step"),
            (privacy.dp_epsilon(1.1, 1.0, 10_000, 1e-5), "amplifies privacy"),
            (1.0, "RDPAccountant"),
        ],
    ),
    number(
        checks.ch11_training_emissions,
        EMISSIONS_KWH * 0.4 / 1000,
        [
            (EMISSIONS_KWH * 0.4, "kilograms"),
            (EMISSIONS_KWH * 0.4 / 1000 / 1.1, "PUE"),
            (EMISSIONS_KWH / 1000, "carbon intensity"),
            (1.0, "GPU-hours × kW"),
        ],
    ),
    function(
        checks.ch11_integrated_gradients,
        integrated_gradients,
        [
            (averaged_gradient, "multiply the averaged gradient"),
            (left_riemann_sum, "t = 1/m, …, 1"),
            (lambda forward, x, baseline, steps: torch.zeros(6), "baseline + t·"),
        ],
        [
            (5, "should be a function"),
            (lambda forward, x, baseline, steps: x.numpy(), "torch tensor"),
            (lambda forward, x, baseline, steps: x[None], "got shape (1, 6)"),
            (lambda forward, x, baseline, steps: 1 / 0, "raised ZeroDivisionError"),
            (lambda forward, x, baseline, steps: x * float("nan"), "nan, inf"),
        ],
        also_right=[
            lambda forward, x, baseline, steps: integrated_gradients(
                forward, x, baseline, steps
            ).double()
        ],
    ),
]

ROWS = {row.name: row for row in AUDIT}

# Answers that no checker may take for a right or a wrong answer, nor crash on.
MALFORMED_VALUES = [None, ..., "42", {"a": 1}, float("nan"), [[1, 2], [3]], object(), print]
MALFORMED_FUNCTIONS = [
    None,
    ...,
    42,
    "f",
    {"a": 1},
    lambda *args: None,
    lambda *args: 1 / 0,
    lambda *args: "text",
    lambda *args: {"a": 1},
    lambda *args: [[1, 2], [3]],
    lambda *args: float("nan"),
    lambda *args: object(),
]


def cases(attribute: str):
    return [
        pytest.param(row, answer, text, id=f"{row.name}-{i}")
        for row in AUDIT
        for i, (answer, text) in enumerate(getattr(row, attribute))
    ]


def shown_numbers(answer) -> list[float]:
    """The numbers of a right answer, for rows whose answer is one number or several."""
    if isinstance(answer, str) or callable(answer):
        return []
    try:
        values = np.asarray(answer, dtype=float).ravel()
    except (TypeError, ValueError):
        return []
    return [float(v) for v in values]


# The meta-test ------------------------------------------------------------------


def test_every_checker_is_audited():
    public = {
        name
        for name, value in inspect.getmembers(checks, inspect.isfunction)
        if not name.startswith("_") and value.__module__ == checks.__name__
    }
    checkers = {name for name in public if re.match(r"ch\d\d_", name)}
    assert checkers, "found no checkers"
    missing = sorted(checkers - ROWS.keys())
    assert not missing, f"checkers without a row in AUDIT: {missing}"
    assert len(ROWS) == len(AUDIT), "a checker has two rows in AUDIT"
    # A public helper that is not a ch* checker needs tests of its own, below.
    assert public - checkers == {"check_close"}


def test_every_row_has_all_three_kinds_of_answer():
    for row in AUDIT:
        assert row.wrong, f"{row.name}: no wrong answer"
        assert row.malformed, f"{row.name}: no malformed answer"
        assert any(answer is None for answer, _ in row.malformed), f"{row.name}: no None"


# The audit --------------------------------------------------------------------


@pytest.mark.parametrize("row", AUDIT, ids=lambda row: row.name)
def test_right_answer_is_accepted(row, capsys):
    answers = [row.right, *row.also_right]
    if row.kind == "number":  # NumPy and torch scalars are numbers too
        answers += [np.float64(row.right), torch.tensor(float(row.right), dtype=torch.float64)]
    for answer in answers:
        assert row.checker(answer) is None
        out = capsys.readouterr().out
        assert out.startswith("Correct:"), f"{row.name}({answer!r}) printed {out!r}"
        assert out.count("\n") == 1


@pytest.mark.parametrize(("row", "answer", "hint"), cases("wrong"))
def test_wrong_answer_gets_its_hint(row, answer, hint, capsys):
    with pytest.raises(AnswerError) as caught:
        row.checker(answer)
    assert capsys.readouterr().out == "", "a wrong answer must not print Correct"
    message = str(caught.value)
    assert hint in message
    assert not message.startswith("No answer yet")
    # The hint must teach, not give the answer away: the message holds none of the expected
    # numbers (the wrong answer itself, which it may repeat, is taken out first).
    for shown in shown_numbers(answer):
        for form in (".3g", ".4g", ".5g"):
            message = message.replace(format(shown, form), "<yours>")
    for expected in shown_numbers(row.right):
        for form in (".3g", ".4g"):
            assert format(expected, form) not in message, (expected, message)


@pytest.mark.parametrize(("row", "answer", "text"), cases("malformed"))
def test_malformed_answer_gets_a_clear_message(row, answer, text, capsys):
    with pytest.raises(AnswerError) as caught:
        row.checker(answer)
    assert capsys.readouterr().out == ""
    assert text in str(caught.value)
    assert "Not quite" not in str(caught.value)


@pytest.mark.parametrize("row", AUDIT, ids=lambda row: row.name)
def test_no_malformed_answer_escapes_as_a_traceback(row, capsys):
    """Whatever comes in, a checker raises AnswerError, never TypeError and the like."""
    malformed = MALFORMED_FUNCTIONS if row.kind == "function" else MALFORMED_VALUES
    for answer in malformed:
        with pytest.raises(AnswerError) as caught:
            row.checker(answer)
        assert "Not quite" not in str(caught.value), (answer, str(caught.value))
        if answer is None or answer is Ellipsis:
            assert str(caught.value).startswith("No answer yet")
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize(
    "row", [row for row in AUDIT if row.kind == "number"], ids=lambda r: r.name
)
def test_number_checkers_reject_answers_off_by_a_little(row):
    """The tolerance is tight: 10 % off is wrong for every number exercise."""
    for factor in (0.9, 1.1):
        with pytest.raises(AnswerError, match="Not quite"):
            row.checker(row.right * factor)


# The solutions ----------------------------------------------------------------


def test_exact_answers_are_what_the_exercises_say():
    assert checks._lstm_parameters(20, (10, 20)) == ROWS["ch04_lstm_parameters"].right
    layer = torch.nn.LSTM(10, 20, num_layers=2)
    assert sum(p.numel() for p in layer.parameters()) == 5920
    assert 0.9**66 < 1e-3 < 0.9**65
    f = 1 / (1 + math.exp(-ROWS["ch04_forget_bias"].right))
    assert abs(f**100 - 0.5) < 1e-9
    assert BERT_LARGE == 335_141_888
    assert ROWS["ch09_qparams"].right[1] == 64
    assert ROWS["ch10_break_even"].right == pytest.approx(1.184e10)


def test_the_notebooks_call_exactly_the_audited_checkers(root):
    """No notebook calls a checker outside the table, and the table has no orphan."""
    import json

    called = set()
    for notebook in sorted((root / "notebooks").glob("*.ipynb")):
        for cell in json.loads(notebook.read_text(encoding="utf-8"))["cells"]:
            source = "".join(cell["source"])
            called |= set(re.findall(r"checks\.(ch\w+)\(", source))
    assert called == ROWS.keys()


# check_close, the helper of the number checkers ------------------------------------


def test_check_close_accepts_and_reports(capsys):
    assert checks.check_close(1.01, 1.0, name="x", unit="m", rel_tol=0.02) is None
    assert capsys.readouterr().out == "Correct: x = 1.01 m.\n"


def test_check_close_gives_the_matching_hint():
    with pytest.raises(AnswerError, match="forgot the square"):
        checks.check_close(
            2.0, 4.0, name="x", unit="m", rel_tol=0.01, hints=[(2.0, "forgot the square")]
        )


def test_check_close_reports_order_of_magnitude():
    with pytest.raises(AnswerError, match=r"10\^3\.0"):
        checks.check_close(1000.0, 1.0, name="x", unit="m", rel_tol=0.01)


def test_check_close_rejects_malformed_answers():
    with pytest.raises(AnswerError, match="No answer yet: set x to a number"):
        checks.check_close(None, 1.0, name="x", unit="m", rel_tol=0.01)
    with pytest.raises(AnswerError, match="single number"):
        checks.check_close(torch.ones(2), 1.0, name="x", unit="m", rel_tol=0.01)


def test_rel_tol_must_be_sensible():
    with pytest.raises(ValueError):
        checks.check_close(1.0, 1.0, name="x", unit="m", rel_tol=0)
