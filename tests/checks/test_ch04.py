"""The checkers of chapter 4 (``lmbook.checks.ch04``), audited."""

from __future__ import annotations

import math

import numpy as np
import torch
from audit import AuditTests, Row, function, number

from lmbook import checks, rnn
from lmbook.checks import ch04

FORGET_GATE = 0.5 ** (1 / 100)


def gru_step(params, x, h, *, swap_z=False, reset_before=False, bias_outside=False):
    """One GRU step as the notebook's solution writes it, or with one of the usual mistakes."""

    def gate(name):
        return rnn.sigmoid(
            x @ params[f"W_x{name}"].T + h @ params[f"W_h{name}"].T + params[f"b_{name}"]
        )

    r, z = gate("r"), gate("z")
    if reset_before:  # Cho et al.'s original: the reset gate before the product
        recurrent = (r * h) @ params["W_hn"].T + params["b_hn"]
    elif bias_outside:
        recurrent = r * (h @ params["W_hn"].T) + params["b_hn"]
    else:
        recurrent = r * (h @ params["W_hn"].T + params["b_hn"])
    candidate = np.tanh(x @ params["W_xn"].T + params["b_xn"] + recurrent)
    return z * candidate + (1 - z) * h if swap_z else (1 - z) * candidate + z * h


def my_gru_step(params, x, h):
    return gru_step(params, x, h)


def mistaken_gru_step(**mistake):
    return lambda params, x, h: gru_step(params, x, h, **mistake)


def gru_cell_in_torch(params, x, h):  # another right answer: tensors, not arrays
    return torch.from_numpy(my_gru_step(params, x, h))


def gru_vandal(params, x, h):  # overwrites its inputs; the checker must hand over copies
    new = my_gru_step(params, x, h)
    for value in params.values():
        value[...] = 0.0
    x[...], h[...] = 0.0, 0.0
    return new


def wraps_the_library(params, x, h):
    from lmbook.rnn import gru_cell

    return gru_cell(params, x, h)


# Exercise 4.6: beam widths and their exact matches on 500 validation pairs, as a learner
# might measure them (any counts will do: the checker reads the conclusions off them).
def beams(**changes):
    answer = {
        "beam_widths": [1, 2, 4, 8],
        "correct": [361, 370, 374, 374],
        "examples": 500,
        "best_width": 4,
        "beam_beats_greedy": True,
    }
    return {**answer, **changes}


AUDIT = [
    number(
        checks.ch04_lstm_parameters,
        sum(4 * (20 * d_in + 20 * 20 + 2 * 20) for d_in in (10, 20)),
        [
            (5120, "read the states of the layer below"),
            (5760, "two bias vectors"),
            (5600, "left out the biases"),
            (2560, "one layer"),
            (1480, "four blocks"),
            (6000, "bias vectors"),
        ],
        solve=lambda input_size, hidden_size, num_layers: sum(
            4 * (hidden_size * d_in + hidden_size**2 + 2 * hidden_size)
            for d_in in [input_size] + [hidden_size] * (num_layers - 1)
        ),
    ),
    number(
        checks.ch04_vanishing_steps,
        math.ceil(math.log(1e-3) / math.log(0.9)),
        [
            (65.56, "whole number"),
            (65, "round up"),
            (3, "not (1 − s)^T"),
            (4, "not (1 − s)^T"),
            (100, "its T-th power"),
        ],
        generic=100,
        solve=lambda singular_value, ratio: (
            math.floor(math.log(ratio) / math.log(singular_value)) + 1
        ),
    ),
    number(
        checks.ch04_forget_bias,
        math.log(FORGET_GATE / (1 - FORGET_GATE)),
        [
            (0.99309, "gate value f"),
            (-4.97, "sign"),
            (0.00691, "1 - f"),
            (-0.00693, "ln f"),
            (2.0, "f = σ(b)"),
        ],
        solve=lambda steps, kept: math.log(kept ** (1 / steps) / (1 - kept ** (1 / steps))),
    ),
    function(
        checks.ch04_gru_step,
        my_gru_step,
        [
            (mistaken_gru_step(swap_z=True), "z weights the old state"),
            (mistaken_gru_step(reset_before=True), "after the product"),
            (mistaken_gru_step(bias_outside=True), "bias included"),
            (lambda params, x, h: np.tanh(h @ params["W_hn"]), "mixes the old state"),
            (rnn.gru_cell, "without lmbook.rnn"),  # the exercise forbids it
            (lambda params, x, h: rnn.gru_cell(params, x, h), "without lmbook.rnn"),
            (wraps_the_library, "without lmbook.rnn"),
        ],
        [
            (..., "No answer yet"),
            (42, "should be a function"),
            (lambda params, x, h: None, "got None"),
            (lambda params, x, h: np.zeros(5), "shape (5,)"),
            (lambda params, x, h: x @ params["W_hn"], "raised ValueError"),
            (lambda params, x, h: x @ params["W_hn"], "It is called with params"),
            (lambda params, x, h: "h", "not an array of numbers"),
            (lambda params, x, h: {"h": h}, "not an array of numbers"),
            (lambda params, x, h: h * np.nan, "nan or inf"),
        ],
        also_right=[gru_cell_in_torch, gru_vandal],
        generic=lambda params, x, h: np.tanh(h @ params["W_hn"]),
    ),
    Row(
        checks.ch04_beam_experiment,
        beams(),
        [
            (beams(best_width=2), "not among those with the most"),
            (beams(best_width=1), "not among those with the most"),
            (beams(beam_beats_greedy=False), "did get more exact matches"),
            (
                beams(correct=[374, 370, 374, 360], best_width=1),
                "did not get more exact matches",
            ),
        ],
        [
            (None, "No answer yet"),
            ({"beam_widths": [1, 2]}, "exactly the keys"),
            (beams(correct=np.array([361, 370, 374, 374])), "should be lists"),
            (beams(correct=[361, 370]), "at least two runs"),
            (beams(beam_widths=[1], correct=[361]), "at least two runs"),
            (beams(beam_widths=[2, 4, 8, 16]), "among them 1"),
            (beams(beam_widths=[1, 2, 2, 8]), "distinct widths"),
            (beams(correct=[361, 370, 374, 501]), "cannot exceed"),
            (beams(correct=[361, 370.5, 374, 374]), "whole number"),
            (beams(correct=[361, -1, 374, 374]), "whole number"),
            (beams(examples="500"), "single number"),
            (beams(best_width=3), "one of your widths"),
            (beams(beam_beats_greedy="yes"), "True or False"),
        ],
        "value",
        [
            beams(beam_beats_greedy=np.True_),
            beams(best_width=8),
            beams(beam_widths=(1, 16), correct=(400, 390), best_width=1, beam_beats_greedy=False),
            beams(correct=[374, 374, 374, 374], best_width=2, beam_beats_greedy=False),
        ],
        beams(best_width=2),
    ),
]


class TestAudit(AuditTests):
    module, rows = ch04, AUDIT


def test_exact_answers_are_what_the_exercises_say():
    layer = torch.nn.LSTM(10, 20, num_layers=2)
    assert sum(p.numel() for p in layer.parameters()) == AUDIT[0].right == 5920
    assert 0.9**66 < 1e-3 < 0.9**65
    f = 1 / (1 + math.exp(-AUDIT[2].right))
    assert abs(f**100 - 0.5) < 1e-9
