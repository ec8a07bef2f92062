"""lmbook.validate: the one rule for bad inputs (TypeError for the wrong kind, ValueError
for a value out of range), tested once here; each module's tests check its own messages."""

import math

import numpy as np
import pytest

from lmbook import validate


@pytest.mark.parametrize("value", [3, np.int64(3), np.int32(3), np.uint8(3)])
def test_integer_accepts_python_and_numpy_integers(value):
    result = validate.integer("layers", value, minimum=1)
    assert result == 3 and type(result) is int


@pytest.mark.parametrize("value", [3.0, "3", None, True, np.bool_(True), [3], np.float64(3)])
def test_integer_rejects_other_kinds_with_type_error(value):
    with pytest.raises(TypeError, match=r"^layers must be an integer ≥ 1, got "):
        validate.integer("layers", value, minimum=1)


@pytest.mark.parametrize(
    ("value", "bounds", "message"),
    [
        (0, {"minimum": 1}, "steps must be an integer ≥ 1, got 0"),
        (-2, {"minimum": 0}, "steps must be an integer ≥ 0, got -2"),
        (9, {"minimum": 0, "maximum": 8}, r"steps must be an integer in \[0, 8\], got 9"),
        (9, {"maximum": 8}, "steps must be an integer ≤ 8, got 9"),
    ],
)
def test_integer_rejects_out_of_range_with_value_error(value, bounds, message):
    with pytest.raises(ValueError, match=f"^{message}$"):
        validate.integer("steps", value, **bounds)


def test_count_is_an_integer_of_at_least_one():
    assert validate.count("n", np.int64(2)) == 2
    with pytest.raises(ValueError, match="n must be an integer ≥ 1, got 0"):
        validate.count("n", 0)
    with pytest.raises(TypeError):
        validate.count("n", 2.0)


@pytest.mark.parametrize("value", [0.5, 1, np.float32(0.5), np.int64(1)])
def test_number_accepts_python_and_numpy_reals(value):
    result = validate.number("lr", value)
    assert result == float(value) and type(result) is float


@pytest.mark.parametrize("value", ["0.1", None, True, np.bool_(False), [0.1], 1j, np.array(0.1)])
def test_number_rejects_other_kinds_with_type_error(value):
    with pytest.raises(TypeError, match=r"^lr must be a finite number > 0, got "):
        validate.positive("lr", value)


@pytest.mark.parametrize("value", [0, -0.1, math.nan, math.inf, -math.inf, np.float64("nan")])
def test_positive_rejects_zero_negative_and_non_finite_with_value_error(value):
    with pytest.raises(ValueError, match=r"^lr must be a finite number > 0, got "):
        validate.positive("lr", value)


def test_interval_ends_are_open_or_closed_as_asked():
    assert validate.non_negative("decay", 0) == 0.0
    assert validate.probability("p", 0) == 0.0 and validate.probability("p", 1) == 1.0
    with pytest.raises(ValueError, match=r"p must be a finite number in \(0, 1\], got 0"):
        validate.probability("p", 0, zero=False)
    with pytest.raises(ValueError, match=r"p must be a finite number in \[0, 1\), got 1"):
        validate.probability("p", 1.0, one=False)
    with pytest.raises(ValueError, match=r"must be a finite number ≥ 0, got -1"):
        validate.non_negative("decay", -1)
    with pytest.raises(ValueError, match=r"x must be a finite number < 2, got 2"):
        validate.number("x", 2, high=2, high_open=True)
    assert validate.number("x", -5) == -5.0


def test_flag_accepts_only_bools():
    assert validate.flag("causal", np.bool_(True)) is True
    for value in (1, 0, "yes", None):
        with pytest.raises(TypeError, match="causal must be True or False"):
            validate.flag("causal", value)


def test_choice_lists_the_options():
    assert validate.choice("precision", "bf16", ["fp32", "bf16"]) == "bf16"
    for value in ("BF16", None, 1, ["bf16"]):
        with pytest.raises(ValueError, match=r"precision must be one of 'fp32', 'bf16'; got "):
            validate.choice("precision", value, ["fp32", "bf16"])
    with pytest.raises(ValueError):
        validate.choice("stage", True, [0, 1, 2, 3])  # True == 1 but is not a stage


def test_positive_array_and_scalar_or_array():
    assert validate.positive_array("n", 2).ndim == 0
    np.testing.assert_array_equal(validate.positive_array("n", [1, 2]), [1.0, 2.0])
    assert validate.scalar_or_array(np.array(2.0)) == 2.0
    assert validate.scalar_or_array(np.array([2.0])).shape == (1,)
    for bad in (None, "7", True, ["a"]):
        with pytest.raises(TypeError, match="n must be a positive number or array of numbers"):
            validate.positive_array("n", bad)
    for bad in ([], [1, 0], [1, np.nan], -3):
        with pytest.raises(ValueError, match="n "):
            validate.positive_array("n", bad)


def test_float_array_checks_kind_dtype_and_dimensions():
    x = np.zeros((2, 3), dtype=np.float32)
    assert validate.float_array("x", x, ndim=2) is x
    with pytest.raises(TypeError, match="x must be a NumPy array, got list"):
        validate.float_array("x", [[0.0]])
    with pytest.raises(TypeError, match=r"dtype int64; convert it with x.astype\(np.float32\)"):
        validate.float_array("x", np.zeros(3, dtype=np.int64))
    with pytest.raises(
        ValueError, match=r"x must be a 3-D array of shape \(C, H, W\), got shape \(2, 3\)"
    ):
        validate.float_array("x", x, ndim=3, layout="(C, H, W)")


def test_long_values_are_shortened_in_messages():
    with pytest.raises(TypeError) as error:
        validate.number("x", "a" * 500)
    assert len(str(error.value)) < 120 and str(error.value).endswith("...")


def test_finite_array_reads_numbers_and_rejects_the_rest():
    np.testing.assert_array_equal(validate.finite_array("mean", (1, 2.5)), [1.0, 2.5])
    assert validate.finite_array("x", np.float32(2)).dtype == np.float64
    for bad in (None, "0.5", [True, False], ["a", "b"], {"a": 1}):
        with pytest.raises(TypeError, match="mean must be a number or array of numbers"):
            validate.finite_array("mean", bad)
    for bad in ([1.0, np.nan], np.inf):
        with pytest.raises(ValueError, match="mean must be finite everywhere"):
            validate.finite_array("mean", bad)


def test_integer_bounds_are_shown_exactly():
    with pytest.raises(ValueError, match=r"^seed must be an integer in \[0, 4294967295\], got -1$"):
        validate.integer("seed", -1, minimum=0, maximum=2**32 - 1)
    with pytest.raises(ValueError, match=r"^x must be a finite number ≥ 1e\+06, got 5$"):
        validate.number("x", 5, low=1e6)
