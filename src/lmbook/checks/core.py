"""What every exercise checker is built from: the error it raises and the
answer's coercion.

A checker (one module per notebook, beside this one) turns the learner's answer into
a number, an array or a function with the helpers below, compares it with the
expected value, and either prints a one-line ``Correct: ...`` or raises
:class:`AnswerError`. The helpers raise :class:`AnswerError` themselves when the
answer is missing (``None`` or ``...``) or malformed, with a message that names the
learner's variable (``name``) and says what was expected.

- :class:`Hint`, :func:`next_hint`: an exercise's hint in two tiers. The first wrong
  answer gets the concept; a repeated one (or ``checks.hint("1.1")``) also the method.
  Neither tier ever states the expected value.
- :func:`check_close`: the whole check of a one-number exercise, hints included.
- :func:`as_number`: one finite real number (a NumPy scalar or a 0-d tensor counts).
- :func:`as_array`, :func:`as_finite_array`: a float array of a given shape (a list,
  a NumPy array or a torch tensor).
- :func:`as_function`, :func:`call`: a function the learner wrote, and a call of it
  that reports the learner's own error instead of crashing the checker.
- :func:`uses_module`: whether a learner's function calls a module that its exercise
  forbids (``lmbook.cnn`` in Exercise 3.3).
"""

from __future__ import annotations

import contextlib
import math
import numbers
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from types import ModuleType

import numpy as np

from lmbook.checks.messages import _

__all__ = [
    "AnswerError",
    "Hint",
    "SecondCase",
    "as_array",
    "as_finite_array",
    "as_function",
    "as_number",
    "as_record",
    "call",
    "check_close",
    "forget_wrong_answers",
    "next_hint",
    "show_message_only",
    "uses_module",
]


class AnswerError(AssertionError):
    """The answer is missing, malformed or wrong; the message says how to proceed.

    In IPython (Jupyter, JupyterLab, Colab, VS Code) it is shown as its message alone:
    a traceback would print the checker's source lines, and with them the expected
    value. The cell still fails, with ``AnswerError`` as its error's name.
    """

    def __init__(self, *args: object) -> None:
        super().__init__(*args)
        show_message_only()


def _message_only(shell, etype, value, tb, tb_offset=None) -> list[str]:
    lines = [f"{etype.__name__}: {value}"]
    shell._showtraceback(etype, value, lines)  # what IPython's own display calls
    return lines


def show_message_only() -> bool:
    """Make the running IPython shell show an :class:`AnswerError` as its message alone.

    Called when a checker raises, never at import; outside IPython it does nothing
    and returns False. Returns True when the shell shows the message alone.
    """
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    if shell is None or not hasattr(shell, "set_custom_exc"):
        return False
    if AnswerError not in shell.custom_exceptions:
        # Keep the classes registered before: a reloaded core (at grading) has its own.
        known = tuple(shell.custom_exceptions) + (AnswerError,)
        shell.set_custom_exc(known, _message_only)
    return True


@dataclass(frozen=True)
class Hint:
    """The hint of one exercise, in two tiers; neither may state the expected value.

    ``concept`` names the idea to use (the first wrong answer gets it); ``method``
    says how to proceed with it (a repeated wrong answer, or ``checks.hint(exercise)``,
    gets it too). ``exercise`` is the number the notebook prints, ``"1.1"``.
    """

    exercise: str
    concept: str
    method: str

    def __post_init__(self) -> None:
        for field in ("exercise", "concept", "method"):
            if (
                not isinstance(getattr(self, field), str)
                or not getattr(self, field).strip()
            ):
                raise ValueError(f"Hint.{field} must be a non-empty string")

    def both(self) -> str:
        """Both tiers, as ``checks.hint`` prints them, in the checkers' language."""
        return _(
            "Exercise {exercise}. Concept: {concept} Method: {method}",
            exercise=self.exercise,
            concept=_(self.concept),
            method=_(self.method),
        )


@dataclass(frozen=True)
class SecondCase:
    """How the hidden test of :mod:`lmbook.checks.grading` tests an exercise again.

    ``answer`` is the learner's variable or function (``"answer_1"``). With ``draw``
    (a function of a NumPy generator that returns other given values by name), the
    learner's answer cell is run again with those values and the checker is called as
    ``checker(new_answer, **values)``. With ``seeded``, the answer is a function that
    the checker tests on other inputs, ``checker(answer, seed=...)``. With neither, the
    exercise is worked by hand and has no second case. ``forbidden`` names what the
    rerun answer cell may not use (Exercise 3.1 asks for the formula, not ``torch``).
    """

    answer: str
    draw: Callable[[np.random.Generator], dict[str, object]] | None = None
    seeded: bool = False
    forbidden: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.answer, str) or not self.answer.isidentifier():
            raise ValueError(
                f"SecondCase.answer must be a variable's name, got {self.answer!r}"
            )
        if self.draw is not None and self.seeded:
            raise ValueError(
                "a SecondCase either draws given values or is seeded, not both"
            )
        if self.forbidden and self.draw is None:
            raise ValueError(
                "only a SecondCase that reruns the answer cell can forbid names"
            )


# Wrong answers so far in this kernel, per exercise: what decides the hint's tier.
_wrong_answers: dict[str, int] = {}


def next_hint(hint: Hint) -> str:
    """The hint for one more wrong answer to ``hint.exercise``: the concept, then
    the method.

    Each call counts one wrong answer. The first gets the concept and says how to
    get more; the second and later ones get the concept and the method.
    """
    if not isinstance(hint, Hint):
        raise TypeError(f"hint must be a Hint, got {type(hint).__name__}")
    count = _wrong_answers[hint.exercise] = _wrong_answers.get(hint.exercise, 0) + 1
    if count == 1:
        return _(
            "Hint: {concept} (Try again; a second wrong answer, or "
            'checks.hint("{exercise}"), also shows the method.)',
            concept=_(hint.concept),
            exercise=hint.exercise,
        )
    return _(
        "Hint: {concept} Method: {method}",
        concept=_(hint.concept),
        method=_(hint.method),
    )


def forget_wrong_answers() -> None:
    """Start every exercise's hints again from the first tier."""
    _wrong_answers.clear()


def uses_module(
    function: object, module: ModuleType, allowed: Iterable[str] = ()
) -> bool:
    """Whether ``function`` is, or refers to, ``module`` or one of its functions.

    Reads the names the function's code (and the code of functions defined inside it)
    refers to, and looks them up in its globals. Names in ``allowed`` (``"sigmoid"``)
    may be used; anything else of ``module`` may not.
    """
    if not isinstance(module, ModuleType):
        raise TypeError(f"module must be a module, got {type(module).__name__}")
    allowed = set(allowed)
    own = {
        name
        for name, value in vars(module).items()
        if callable(value) and getattr(value, "__module__", None) == module.__name__
    }
    if getattr(function, "__module__", None) == module.__name__:
        return getattr(function, "__name__", None) not in allowed
    code = getattr(function, "__code__", None)
    codes, names = ([code] if code is not None else []), set()
    while codes:  # the function's own names and those of functions defined inside it
        current = codes.pop()
        names |= set(current.co_names)
        codes += [const for const in current.co_consts if hasattr(const, "co_names")]
    known = dict(getattr(function, "__globals__", {}))
    if code is not None and getattr(function, "__closure__", None):
        for name, cell in zip(code.co_freevars, function.__closure__, strict=True):
            with contextlib.suppress(ValueError):  # an empty cell
                known[name] = cell.cell_contents
        names |= set(code.co_freevars)
    parent, _, short = module.__name__.rpartition(".")
    # Imported inside the function: ``import lmbook.cnn``, ``from lmbook import cnn``.
    imported = module.__name__ in names or (parent in names and short in names)
    for name in names:
        value = known.get(name)
        if (
            getattr(value, "__module__", None) == module.__name__
            and name not in allowed
        ):
            return True
        imported = imported or value is module
    # One of its functions, not allowed.
    return imported and bool((names & own) - allowed)


def _size(value: object) -> int | None:
    """The number of entries of a NumPy array or a torch tensor; None for
    anything else.
    """
    # Torch: .size is a method, .numel() the count.
    numel = getattr(value, "numel", None)
    size = numel() if callable(numel) else getattr(value, "size", None)
    return size if isinstance(size, int) else None


def as_number(answer: object, name: str, unit: str) -> float:
    """``answer`` as a finite float, or :class:`AnswerError` naming ``name``
    and ``unit``.

    Python and NumPy reals, and one-element NumPy arrays or torch tensors, are numbers;
    bools, strings and collections are not.
    """
    if answer is None or answer is Ellipsis:
        raise AnswerError(
            _(
                "No answer yet: set {name} to a number (in {unit}) and run the cell.",
                name=name,
                unit=_(unit),
            )
        )
    if isinstance(answer, bool) or not isinstance(answer, numbers.Real):
        # A NumPy scalar, a 0-d tensor.
        if hasattr(answer, "item") and _size(answer) == 1:
            return as_number(answer.item(), name, unit)
        raise AnswerError(
            _(
                "{name} should be a single number (in {unit}), "
                "but it is a {kind}: {answer}",
                name=name,
                unit=_(unit),
                kind=type(answer).__name__,
                answer=repr(answer),
            )
        )
    try:
        value = float(answer)
    except OverflowError:  # an int beyond the range of floats
        raise AnswerError(
            _(
                "{name} is an integer too large for a float; expected a "
                "finite number in {unit}.",
                name=name,
                unit=_(unit),
            )
        ) from None
    if not math.isfinite(value):
        raise AnswerError(
            _(
                "{name} is {value}; expected a finite number in {unit}.",
                name=name,
                value=value,
                unit=_(unit),
            )
        )
    return value


def as_record(answer: object, name: str, keys: Iterable[str]) -> dict:
    """``answer`` as a dict with exactly ``keys`` (an experiment's record), or
    :class:`AnswerError` naming ``name`` and the keys expected.
    """
    keys = tuple(keys)
    listed = ", ".join(repr(key) for key in keys)
    if answer is None or answer is Ellipsis:
        raise AnswerError(
            _(
                "No answer yet: run your experiment and set {name} to a dict with the "
                "keys {listed}.",
                name=name,
                listed=listed,
            )
        )
    if not isinstance(answer, dict) or set(answer) != set(keys):
        shown = (
            _("a dict with the keys {keys}", keys=", ".join(sorted(map(repr, answer))))
            if isinstance(answer, dict)
            else _("a {kind}", kind=type(answer).__name__)
        )
        raise AnswerError(
            _(
                "{name} should be a dict with exactly the keys {listed}, got {shown}.",
                name=name,
                listed=listed,
                shown=shown,
            )
        )
    return answer


def check_close(
    answer: object,
    expected: float,
    *,
    name: str,
    unit: str,
    rel_tol: float,
    hint: Hint,
    hints: list[tuple[float, str]] | None = None,
) -> None:
    """Accept ``answer`` if it is within ``rel_tol`` of ``expected``.

    ``name`` is the learner's variable (``"answer_1"``), shown in every message.
    ``hints`` pairs a typical wrong value with the advice for that mistake; the first
    one that ``answer`` matches (within ``rel_tol``) is given, else the next tier of
    ``hint`` (:func:`next_hint`). ``rel_tol`` must accept the answer rounded to the
    precision the exercise asks for (three significant figures need 0.005 or more).
    """
    if not 0 < rel_tol < 1:
        raise ValueError(f"rel_tol must be in (0, 1), got {rel_tol}")
    value = as_number(answer, name, unit)
    if math.isclose(value, expected, rel_tol=rel_tol):
        print(
            _(
                "Correct: {name} = {value:.4g} {unit}.",
                name=name,
                value=value,
                unit=_(unit),
            )
        )
        return
    advice = None
    for wrong_value, text in hints or []:
        if math.isclose(value, wrong_value, rel_tol=rel_tol):
            advice = _("Hint: {advice}", advice=_(text))
            break
    advice = advice or next_hint(hint)
    # The direction of a tenfold slip (a unit, a power of ten), never its size: an exact
    # factor would let a learner compute the expected value from a wrong one.
    size = ""
    if value > 0 and expected > 0 and not 0.1 < value / expected < 10:
        size = (
            _(" It is more than ten times too large.")
            if value > expected
            else _(" It is more than ten times too small.")
        )
    raise AnswerError(
        _(
            "Not quite: {name} = {value:.4g} {unit} is not right.{size} {advice}",
            name=name,
            value=value,
            unit=_(unit),
            size=size,
            advice=advice,
        )
    )


def as_function(answer: object, name: str, signature: str) -> Callable:
    """``answer`` if it is callable; else :class:`AnswerError` asking for
    ``signature``.
    """
    if answer is None or answer is Ellipsis:
        raise AnswerError(
            _(
                "No answer yet: define {signature} and run the cell.",
                signature=signature,
            )
        )
    if not callable(answer):
        raise AnswerError(
            _(
                "{name} should be a function {signature}, got {kind}",
                name=name,
                signature=signature,
                kind=type(answer).__name__,
            )
        )
    return answer


def call(function: Callable, signature: str, *args: object, note: str = "") -> object:
    """``function(*args)``; an error the learner's code raises becomes
    :class:`AnswerError`.

    The message names ``signature``, the error and its text, then ``note`` (how the
    checker called the function, say) if one is given.
    """
    try:
        return function(*args)
    except Exception as error:  # the learner's code: report its error, whatever it is
        message = _(
            "Calling {signature} raised {kind}: {error}",
            signature=signature,
            kind=type(error).__name__,
            error=error,
        )
        raise AnswerError(
            _("{message}. {note}", message=message, note=_(note)) if note else message
        ) from error


def _numpy_readable(value: object) -> object:
    """``value``, or, for a torch tensor, a detached CPU copy that NumPy can read."""
    detach = getattr(value, "detach", None)
    if callable(detach) and hasattr(value, "cpu"):
        try:
            return detach().cpu()
        # Not a tensor after all, whatever it raised; let NumPy judge it.
        except Exception:
            return value
    return value


def _float_array(value: object) -> np.ndarray | None:
    """``value`` as a float array, or None if it is not an array of numbers."""
    try:
        return np.asarray(_numpy_readable(value), dtype=float)
    # Strings, ragged lists, dicts.
    except (
        TypeError,
        ValueError,
        RuntimeError,
        OverflowError,
    ):
        return None


def as_array(value: object, what: str, shape: tuple[int, ...]) -> np.ndarray:
    """``value`` as a float array of ``shape``; else :class:`AnswerError`
    naming ``what``.

    ``what`` names the value for the learner: their variable (``"answer_3"``) or the
    call that returned it (``"my_gru_step(params, x, h)"``). A list, a NumPy array and
    a torch tensor (even one that requires grad) are all read.
    """
    array = None if value is None else _float_array(value)
    if array is None or array.shape != shape:
        if value is None:
            got = "None"
        elif array is None:
            got = _(
                "a {kind} that is not an array of numbers", kind=type(value).__name__
            )
        else:
            got = _("shape {shape}", shape=array.shape)
        raise AnswerError(
            _(
                "{what} should be a float array of shape {shape}, got {got}.",
                what=what,
                shape=shape,
                got=got,
            )
        )
    return array


def as_finite_array(value: object, what: str, shape: tuple[int, ...]) -> np.ndarray:
    """:func:`as_array`, and :class:`AnswerError` if any entry is nan or infinite."""
    array = as_array(value, what, shape)
    if not np.all(np.isfinite(array)):
        raise AnswerError(
            _(
                "{what} contains nan or inf; expected {size} finite numbers.",
                what=what,
                size=array.size,
            )
        )
    return array
