"""How big, how much compute, how fast it grows: the arithmetic of chapter 1.

- :func:`training_compute`: the C = 6·N·D estimate of training FLOPs.
- :func:`fit_doubling_time`: least-squares fit of log2(value) against year.
- :func:`kaplan_loss`: the single-variable power laws of Kaplan et al. (2020).
- :func:`chinchilla_loss` and :func:`chinchilla_optimal`: the parametric fit of
  Hoffmann et al. (2022), or Besiroglu et al.'s (2024) refit of the same data, and
  the compute-optimal model size it implies.
- :func:`fit_power_law`: least-squares fit of log(loss) against log(size).

Chapter 1 ("The rise of large models") derives and uses each of them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lmbook import validate

# One petaflop/s sustained for one day, in floating-point operations.
PF_DAY = 1e15 * 24 * 3600

# Kaplan et al. (2020), "Scaling Laws for Neural Language Models", section 1.2:
# L(N) = (N_c / N)^alpha_N with N the non-embedding parameters,
# L(D) = (D_c / D)^alpha_D with D in tokens, L(C) = (C_c / C)^alpha_C with C in PF-days.
# Losses are in nats per token on their WebText2 test set.
KAPLAN = {
    "alpha_N": 0.076,
    "N_c": 8.8e13,
    "alpha_D": 0.095,
    "D_c": 5.4e13,
    "alpha_C": 0.050,
    "C_c": 3.1e8,
}

# Hoffmann et al. (2022), "Training Compute-Optimal Large Language Models",
# approach 3: L(N, D) = E + A / N^alpha + B / D^beta, in nats per token on MassiveText.
CHINCHILLA = {"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.34, "beta": 0.28}

# Besiroglu et al. (2024), "Chinchilla Scaling: A replication attempt": the same loss
# surface fitted again, to the training runs they read off a figure of Hoffmann et al.
BESIROGLU = {"E": 1.8172, "A": 482.01, "B": 2085.43, "alpha": 0.3478, "beta": 0.3658}


def _loss_constants(constants: object) -> dict[str, float]:
    """``constants`` checked: a dict of E, A, B, alpha and beta, each a number > 0."""
    keys = ("E", "A", "B", "alpha", "beta")
    if not isinstance(constants, dict) or set(constants) != set(keys):
        raise TypeError(
            f"constants must be a dict with exactly the keys {keys} "
            f"(scaling.CHINCHILLA or scaling.BESIROGLU), got {constants!r}"
        )
    return {
        key: validate.positive(f"constants[{key!r}]", constants[key]) for key in keys
    }


def training_compute(parameters, tokens, flop_per_parameter_token: float = 6.0):
    """Training FLOPs ≈ 6·N·D for a dense model with N parameters trained on D tokens.

    The 6 is 2 FLOPs (a multiply and an add) per parameter per token in the
    forward pass and about twice that in the backward pass. For a mixture of
    experts, pass the parameters *active* per token. Works on arrays.
    """
    n = validate.positive_array("parameters", parameters)
    d = validate.positive_array("tokens", tokens)
    k = validate.positive("flop_per_parameter_token", flop_per_parameter_token)
    return validate.scalar_or_array(k * n * d)


@dataclass(frozen=True)
class DoublingFit:
    """Result of :func:`fit_doubling_time`: log2(value) ≈ intercept + slope · year."""

    slope: float  # doublings per year
    intercept: float
    r_squared: float
    n_points: int

    @property
    def doubling_time_years(self) -> float:
        return 1.0 / self.slope

    @property
    def doubling_time_months(self) -> float:
        return 12.0 / self.slope

    def predict(self, years):
        """The fitted value at ``years`` (a number or an array)."""
        return 2.0 ** (self.intercept + self.slope * np.asarray(years, dtype=float))


def fit_doubling_time(years, values) -> DoublingFit:
    """Fit exponential growth ``value = 2^(intercept + slope·year)`` by least
    squares in log2.

    The doubling time is ``1 / slope`` years. Needs at least two distinct years
    and positive values; raises if the fitted trend is not growing.
    """
    years = validate.finite_array("years", years)
    values = validate.positive_array("values", values)
    if years.ndim != 1 or values.ndim != 1 or years.shape != values.shape:
        raise ValueError(
            f"years and values must be 1-D arrays of equal length, got shapes "
            f"{years.shape} and {values.shape}"
        )
    if np.unique(years).size < 2:
        raise ValueError("need at least two different years to fit a growth rate")
    log_values = np.log2(values)
    slope, intercept = np.polyfit(years, log_values, deg=1)
    residual = log_values - (intercept + slope * years)
    total = log_values - log_values.mean()
    r_squared = (
        1.0 - float(residual @ residual) / float(total @ total) if total.any() else 1.0
    )
    if slope <= 0:
        raise ValueError(
            f"the fitted trend does not grow (slope {slope:.3g} doublings per year)"
        )
    return DoublingFit(float(slope), float(intercept), r_squared, int(years.size))


def kaplan_loss(*, parameters=None, tokens=None, compute_pf_days=None):
    """Kaplan et al. (2020) power laws, each valid when the other factors do not limit.

    Give exactly one of ``parameters`` (non-embedding), ``tokens`` or
    ``compute_pf_days`` (compute-efficient training). Returns the test loss in nats.
    """
    given = {
        key: value
        for key, value in (
            ("parameters", parameters),
            ("tokens", tokens),
            ("compute_pf_days", compute_pf_days),
        )
        if value is not None
    }
    if len(given) != 1:
        raise ValueError(
            "give exactly one of parameters, tokens or "
            f"compute_pf_days; got {sorted(given)}"
        )
    ((key, value),) = given.items()
    x = validate.positive_array(key, value)
    scale, exponent = {
        "parameters": (KAPLAN["N_c"], KAPLAN["alpha_N"]),
        "tokens": (KAPLAN["D_c"], KAPLAN["alpha_D"]),
        "compute_pf_days": (KAPLAN["C_c"], KAPLAN["alpha_C"]),
    }[key]
    return validate.scalar_or_array((scale / x) ** exponent)


def chinchilla_loss(parameters, tokens, constants: dict = CHINCHILLA):
    """Hoffmann et al. (2022) fit: L(N, D) = E + A/N^alpha + B/D^beta, in nats
    per token (chapter 1, section 1.5).

    ``constants`` holds E, A, B, alpha and beta: :data:`CHINCHILLA` (the paper's) by
    default, or :data:`BESIROGLU` (the replication's refit).
    """
    n = validate.positive_array("parameters", parameters)
    d = validate.positive_array("tokens", tokens)
    c = _loss_constants(constants)
    return validate.scalar_or_array(
        c["E"] + c["A"] / n ** c["alpha"] + c["B"] / d ** c["beta"]
    )


def chinchilla_optimal(compute_flop, constants: dict = CHINCHILLA):
    """Compute-optimal (parameters, tokens) for a budget of ``compute_flop`` FLOPs.

    Minimises :func:`chinchilla_loss` (with the same ``constants``) subject to
    C = 6·N·D. Setting the derivative of L(N, C/(6N)) to zero gives (chapter 1,
    section 1.5)

        N_opt = G · (C/6)^(beta/(alpha+beta)),  D_opt = (C/6) / N_opt,
        G = (alpha·A / (beta·B))^(1/(alpha+beta)).
    """
    budget = validate.positive_array("compute_flop", compute_flop) / 6.0
    c = _loss_constants(constants)
    total = c["alpha"] + c["beta"]
    g = (c["alpha"] * c["A"] / (c["beta"] * c["B"])) ** (1.0 / total)
    n_opt = g * budget ** (c["beta"] / total)
    d_opt = budget / n_opt
    return validate.scalar_or_array(n_opt), validate.scalar_or_array(d_opt)


def tokens_per_parameter_optimal(compute_flop, tokens_per_parameter: float = 20.0):
    """The rule of thumb D = r·N (r ≈ 20) with C = 6·N·D, solved: N = sqrt(C / (6r)).

    Returns ``(parameters, tokens)``.
    """
    budget = validate.positive_array("compute_flop", compute_flop)
    ratio = validate.positive("tokens_per_parameter", tokens_per_parameter)
    n = np.sqrt(budget / (6.0 * ratio))
    return validate.scalar_or_array(n), validate.scalar_or_array(ratio * n)


@dataclass(frozen=True)
class PowerLawFit:
    """Result of :func:`fit_power_law`: loss ≈ coefficient · size^(−exponent)."""

    exponent: float
    coefficient: float
    r_squared: float
    n_points: int

    def predict(self, sizes):
        """The fitted loss at ``sizes`` (a number or an array)."""
        return self.coefficient * np.asarray(sizes, dtype=float) ** -self.exponent


def fit_power_law(sizes, losses) -> PowerLawFit:
    """Fit ``loss = coefficient · size^(−exponent)`` by least squares in log-log.

    A power law is a straight line on log-log axes, log L = log k − a·log N, so the
    slope of the least-squares line through (log N, log L) is −a (chapter 1, section
    1.6). Needs at least two distinct sizes and positive values; a positive exponent
    means the loss falls as the size grows.
    """
    sizes = validate.positive_array("sizes", sizes)
    losses = validate.positive_array("losses", losses)
    if sizes.ndim != 1 or losses.ndim != 1 or sizes.shape != losses.shape:
        raise ValueError(
            f"sizes and losses must be 1-D arrays of equal length, got shapes "
            f"{sizes.shape} and {losses.shape}"
        )
    if np.unique(sizes).size < 2:
        raise ValueError("need at least two different sizes to fit a power law")
    log_n, log_l = np.log(sizes), np.log(losses)
    slope, intercept = np.polyfit(log_n, log_l, deg=1)
    residual = log_l - (intercept + slope * log_n)
    total = log_l - log_l.mean()
    r_squared = (
        1.0 - float(residual @ residual) / float(total @ total) if total.any() else 1.0
    )
    return PowerLawFit(
        float(-slope), float(np.exp(intercept)), r_squared, int(sizes.size)
    )
