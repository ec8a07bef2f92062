"""The checkers of chapter 2 (``lmbook.checks.ch02``), audited."""

from __future__ import annotations

import numpy as np
from audit import AuditTests, Row, function, number

from lmbook import checks, nn
from lmbook.checks import ch02

# Right answers written as learners would: the notebook's solution cells.


def sigmoid_derivative(z):
    s = nn.sigmoid(z)
    return s * (1 - s)


def naive_sigmoid_derivative(z):
    s = 1 / (1 + np.exp(-z))
    return s * (1 - s)


def linear_backward(dz, a, w):
    return dz @ w, dz.T @ a, dz.sum(axis=0)


# Exercise 2.6: section 2.4's bowl (curvatures 1 and 10, tilted by 30°) descended for
# 25 steps; the loss before every step and after the last.
ANGLE = np.deg2rad(30)
ROTATION = np.array([[np.cos(ANGLE), -np.sin(ANGLE)], [np.sin(ANGLE), np.cos(ANGLE)]])
BOWL = ROTATION @ np.diag([1.0, 10.0]) @ ROTATION.T


def bowl_history(lr, steps=25):
    theta, losses = np.array([-2.5, 1.5]), []
    for _ in range(steps + 1):
        losses.append(float(0.5 * theta @ BOWL @ theta))
        theta = theta - lr * BOWL @ theta
    return losses


CALM, WILD = bowl_history(0.19), bowl_history(0.22)


def runs(**changes):
    answer = {"learning_rates": [0.19, 0.22], "histories": [CALM, WILD], "diverged": [False, True]}
    return {**answer, **changes}


AUDIT = [
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
        generic=lambda z: 0.2 * np.ones_like(z),
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
        generic=lambda dz, a, w: (dz @ w, 2 * dz.T @ a, dz.sum(0)),
    ),
    number(
        checks.ch02_max_learning_rate,
        2 / 4,
        [
            (4.0, "steep one"),
            (0.25, "one step"),
            (0.4444, "fastest"),
            (0.8889, "average"),
            (0.1, "by (1 − ηλ)"),
        ],
        solve=lambda curvature_1, curvature_2: 2 / max(curvature_1, curvature_2),
    ),
    number(
        checks.ch02_softmax_as_logits_loss,
        np.log(np.e + 9) - 1,
        [
            (0.0, "second softmax"),
            (2.3026, "nearly"),
            (2.4612, "subtract"),
            (1.0, "applies a softmax to the probabilities"),
        ],
        solve=lambda classes: np.log(np.e + classes - 1) - 1,
    ),
    Row(
        checks.ch02_divergence_experiment,
        runs(),
        [
            (runs(diverged=[True, False]), "its own history says otherwise"),
            (runs(diverged=[False, False]), "its own history says otherwise"),
            (
                runs(learning_rates=[0.1, 0.19], histories=[bowl_history(0.1), CALM]),
                "all your runs converged",
            ),
            (
                runs(learning_rates=[0.22, 0.3], histories=[WILD, bowl_history(0.3)]),
                "all your runs diverged",
            ),
        ],
        [
            (None, "No answer yet"),
            ({"learning_rates": [0.19]}, "exactly the keys"),
            (runs(histories=np.array([CALM, WILD])), "should be lists"),
            (runs(diverged=[False]), "at least two runs"),
            (
                {"learning_rates": [0.19], "histories": [CALM], "diverged": [False]},
                "at least two runs",
            ),
            (runs(histories=[CALM[:5], WILD]), "at least 10 losses"),
            (runs(histories=[CALM, "up"]), "at least 10 losses"),
            (runs(histories=[CALM, [[1.0, 2.0]] * 12]), "at least 10 losses"),
            (runs(histories=[CALM, [-1.0] * 12]), "negative loss"),
            (runs(histories=[CALM, [float("inf")] * 12]), "before the first step"),
            (runs(diverged=[False, "yes"]), "True or False"),
            (runs(learning_rates=[0.19, -0.22]), "should be positive"),
            (runs(learning_rates=[0.19, "fast"]), "single number"),
        ],
        "value",
        [
            runs(diverged=[np.False_, np.True_]),
            runs(histories=[CALM, [*WILD[:20], float("inf"), float("nan")]]),
            runs(histories=(CALM, np.array(WILD)), learning_rates=(0.19, 0.22)),
            runs(
                learning_rates=[0.19, 0.22, 0.15],
                histories=[CALM, WILD, bowl_history(0.15)],
                diverged=[False, True, False],
            ),
        ],
        runs(diverged=[True, False]),
    ),
]


class TestAudit(AuditTests):
    module, rows = ch02, AUDIT
