"""Input checks shared by every ``lmbook`` module, with one rule for which error
is raised.

- ``TypeError``: the value is not the kind of thing expected: a string, ``None``
  or a bool where a number is needed, a float such as ``3.0`` where a count is,
  a list where an array is, an integer array where floating-point values are.
- ``ValueError``: the kind is right but the value is not allowed: zero or a
  negative number where a positive one is needed, NaN or infinity, a number
  outside its interval, an empty array, a wrong shape, an unknown option.

Every message names the argument, says what was expected and shows what was
given: ``"lr must be a number > 0, got -0.1"``. NumPy scalars count as numbers
(``np.int64(3)`` is an integer, ``np.float32(0.5)`` a number); bools never do.
Each function returns the value converted to the plain Python or NumPy type
the caller computes with. Every chapter relies on these through the modules.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable

import numpy as np


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:57]}..."


def _bound(value: float) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)  # integers exactly


def _interval(
    low: float | None, high: float | None, low_open: bool, high_open: bool
) -> str:
    if low is not None and high is not None:
        left, right = "(" if low_open else "[", ")" if high_open else "]"
        return f"in {left}{_bound(low)}, {_bound(high)}{right}"
    if low is not None:
        return f"{'>' if low_open else '≥'} {_bound(low)}"
    if high is not None:
        return f"{'<' if high_open else '≤'} {_bound(high)}"
    return ""


def is_integer(value: object) -> bool:
    """Whether ``value`` is a Python or NumPy integer (bools are not)."""
    return isinstance(value, numbers.Integral) and not isinstance(
        value, bool | np.bool_
    )


def is_number(value: object) -> bool:
    """Whether ``value`` is a real Python or NumPy number (bools are not)."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool | np.bool_)


def integer(
    name: str, value: object, *, minimum: int | None = None, maximum: int | None = None
) -> int:
    """``value`` as an ``int``, checked to be an integer within [minimum, maximum]."""
    bounds = _interval(minimum, maximum, False, False)
    expected = f"an integer {bounds}".rstrip()
    if not is_integer(value):
        raise TypeError(f"{name} must be {expected}, got {_shown(value)}")
    if (minimum is not None and value < minimum) or (
        maximum is not None and value > maximum
    ):
        raise ValueError(f"{name} must be {expected}, got {value}")
    return int(value)


def count(name: str, value: object) -> int:
    """``value`` as an ``int`` ≥ 1: a number of steps, layers, examples, devices."""
    return integer(name, value, minimum=1)


def number(
    name: str,
    value: object,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """``value`` as a finite ``float`` within its interval
    (open or closed at each end).
    """
    expected = f"a finite number {_interval(low, high, low_open, high_open)}".rstrip()
    if not is_number(value):
        raise TypeError(f"{name} must be {expected}, got {_shown(value)}")
    result = float(value)
    if (
        not math.isfinite(result)
        or (low is not None and (result < low or (low_open and result == low)))
        or (high is not None and (result > high or (high_open and result == high)))
    ):
        raise ValueError(f"{name} must be {expected}, got {value}")
    return result


def positive(name: str, value: object) -> float:
    """``value`` as a finite ``float`` > 0."""
    return number(name, value, low=0.0, low_open=True)


def non_negative(name: str, value: object) -> float:
    """``value`` as a finite ``float`` ≥ 0."""
    return number(name, value, low=0.0)


def probability(
    name: str, value: object, *, zero: bool = True, one: bool = True
) -> float:
    """``value`` as a ``float`` in [0, 1]; ``zero=False`` or ``one=False``
    opens that end.
    """
    return number(name, value, low=0.0, high=1.0, low_open=not zero, high_open=not one)


def flag(name: str, value: object) -> bool:
    """``value`` as a ``bool``; only ``True``, ``False`` and NumPy bools
    are accepted.
    """
    if not isinstance(value, bool | np.bool_):
        raise TypeError(f"{name} must be True or False, got {_shown(value)}")
    return bool(value)


def choice(name: str, value: object, options: Iterable[object]) -> object:
    """``value`` itself, checked to be one of ``options``."""
    options = list(options)
    if not any(type(value) is type(option) and value == option for option in options):
        listed = ", ".join(repr(option) for option in options)
        raise ValueError(f"{name} must be one of {listed}; got {_shown(value)}")
    return value


def positive_array(name: str, value: object) -> np.ndarray:
    """``value`` (a number or an array of them) as a float array, every entry
    finite and > 0.
    """
    if value is None or isinstance(value, bool | np.bool_ | str | bytes):
        raise TypeError(
            f"{name} must be a positive number or array of numbers, got {_shown(value)}"
        )
    try:
        array = np.asarray(value, dtype=float)
    except (TypeError, ValueError) as error:
        raise TypeError(
            f"{name} must be a positive number or array of numbers, got {_shown(value)}"
        ) from error
    if array.size == 0:
        raise ValueError(f"{name} is empty; expected at least one positive number")
    if not np.all(np.isfinite(array)) or np.any(array <= 0):
        raise ValueError(
            f"{name} must be finite and > 0 everywhere, got {_shown(value)}"
        )
    return array


def finite_array(name: str, value: object) -> np.ndarray:
    """``value`` (a number, a sequence or an array of numbers) as a float64 array,
    all finite.

    For numbers given as data, such as per-channel statistics or a range's ends:
    strings, None, bools and anything NumPy does not read as numbers are a TypeError.
    """
    if value is None or isinstance(value, str | bytes):
        raise TypeError(
            f"{name} must be a number or array of numbers, got {_shown(value)}"
        )
    array = np.asarray(value)
    if array.dtype == np.bool_ or not (
        np.issubdtype(array.dtype, np.integer)
        or np.issubdtype(array.dtype, np.floating)
    ):
        raise TypeError(
            f"{name} must be a number or array of numbers, got {_shown(value)}"
        )
    array = array.astype(np.float64)
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must be finite everywhere, got {_shown(value)}")
    return array


def scalar_or_array(array: np.ndarray) -> float | np.ndarray:
    """A 0-d result as a ``float`` and anything larger as the array, as the
    inputs came.
    """
    return float(array) if np.ndim(array) == 0 else array


def float_array(
    name: str, value: object, *, ndim: int | None = None, layout: str = ""
) -> np.ndarray:
    """``value``, a NumPy array of float32 or float64, with ``ndim``
    dimensions if given.

    ``layout`` names the axes for the message, for example ``"(batch, features)"``.
    """
    if not isinstance(value, np.ndarray):
        hint = " (convert a tensor with .numpy())" if hasattr(value, "detach") else ""
        raise TypeError(
            f"{name} must be a NumPy array, got {type(value).__name__}{hint}"
        )
    if value.dtype not in (np.float32, np.float64):
        raise TypeError(
            f"{name} must be a float32 or float64 array, got dtype {value.dtype}; "
            f"convert it with {name}.astype(np.float32)"
        )
    if ndim is not None and value.ndim != ndim:
        shape = f" of shape {layout}" if layout else ""
        raise ValueError(
            f"{name} must be a {ndim}-D array{shape}, got shape {value.shape}"
        )
    return value
