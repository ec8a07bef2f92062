"""Hidden tests: what nbgrader runs, at grading time, after an exercise's
public checker.

``make assignments`` (``scripts/assignments.py``) writes one line of this module into
the checker cell of every auto-graded exercise of the instructor's nbgrader source,
between ``### BEGIN HIDDEN TESTS`` and ``### END HIDDEN TESTS``, so that the released
notebooks and the student copies do not contain it::

    grading.hidden_test("ch01_training_compute", globals(), seed=1234567, points=2)

:func:`hidden_test` then

1. runs the exercise's checker again, freshly loaded from the course's files, so that a
   checker redefined or patched in an answer cell does not count;
2. runs a second case that nobody could see before grading, drawn from the instructor's
   private ``seed`` (:class:`~lmbook.checks.core.SecondCase`): for an answer computed
   from the exercise's given values (``parameters, tokens = 65e9, 1.4e12``), the
   learner's answer cell is run again with other given values; for a function, the
   checker tests it on other inputs. Exercises worked by hand (a list of WordPiece
   tokens) have no second case.

It returns the points earned, which nbgrader reads as the cell's partial credit: all of
them when both pass, half when only the public case passes (a copied number passes the
public case only). It raises :class:`AnswerError`, and the cell earns nothing, when the
freshly loaded checker rejects the answer. Each checker module declares its second cases
in ``SECOND_CASES``. The instructor guide explains the grading flow (chapter 0's guide).
"""

from __future__ import annotations

import ast
import contextlib
import importlib
import io
import warnings
import zlib
from collections.abc import Callable

import numpy as np

from lmbook import validate
from lmbook.checks.core import AnswerError, SecondCase
from lmbook.checks.messages import _

__all__ = ["answer_source", "hidden_test", "rerun_answer"]

CHAPTERS = (
    "ch01",
    "ch02",
    "ch02b",
    "ch03",
    "ch04",
    "ch05",
    "ch06a",
    "ch06b",
    "ch06c",
    "ch06d",
    "ch07",
    "ch08",
    "ch09",
    "ch10",
    "ch11",
)


def _assigned_names(statements: list[ast.stmt]) -> set[str]:
    """The names a cell binds in its own scope (assignments, defs, imports,
    loops, ifs).
    """
    names = set()
    for node in statements:
        targets = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, (ast.AnnAssign, ast.AugAssign, ast.For, ast.AsyncFor)):
            targets = [node.target]
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {
                alias.asname or alias.name.partition(".")[0] for alias in node.names
            }
        for target in targets:
            names |= {n.id for n in ast.walk(target) if isinstance(n, ast.Name)}
        for block in ("body", "orelse", "finalbody"):  # if, for, while, with, try
            if not isinstance(
                node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
            ):
                names |= _assigned_names(getattr(node, block, []))
        for handler in getattr(node, "handlers", []):
            names |= _assigned_names(handler.body)
    return names


def answer_source(history: list[str], answer: str) -> str:
    """The source of the latest cell in ``history`` (IPython's ``_ih``) that binds
    ``answer``.

    The last entry of ``history`` is the cell running now (the checker's), so it is
    skipped. Raises AnswerError if no earlier cell binds ``answer``.
    """
    if not isinstance(history, list) or not all(isinstance(s, str) for s in history):
        raise TypeError("history must be IPython's list of cell sources (_ih)")
    for source in reversed(history[:-1]):
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        if answer in _assigned_names(tree.body):
            return source
    raise AnswerError(
        _(
            "No cell of this notebook sets {answer}; the hidden test needs one.",
            answer=answer,
        )
    )


def _without_givens(source: str, given: set[str]) -> str:
    """``source`` less its top-level assignments of the given values
    (they are replaced).
    """
    tree = ast.parse(source)
    kept = []
    for node in tree.body:
        if isinstance(node, ast.Assign):
            bound = {
                n.id
                for t in node.targets
                for n in ast.walk(t)
                if isinstance(n, ast.Name)
            }
            if bound and bound <= given:
                continue
        kept.append(node)
    tree.body = kept
    return ast.unparse(tree)


def rerun_answer(
    namespace: dict,
    answer: str,
    values: dict[str, object],
    forbidden: tuple[str, ...] = (),
) -> object:
    """The learner's ``answer`` computed again by their cell, with ``values`` given.

    The cell runs in a copy of ``namespace`` (the notebook's globals), with its own
    assignments of the given names left out; its printed output and warnings are
    dropped. An error the cell raises becomes an AnswerError, and so does a cell that
    uses one of the ``forbidden`` names (a module the exercise rules out).
    """
    if not isinstance(namespace, dict):
        raise TypeError("namespace must be the notebook's globals(), a dict")
    if not isinstance(answer, str):
        raise TypeError(
            f"answer must be the name of a variable, got {type(answer).__name__}"
        )
    history = namespace.get("_ih")
    if history is None:
        raise RuntimeError(
            "a hidden test runs in a notebook kernel: globals() has no _ih"
        )
    source = _without_givens(answer_source(list(history), answer), set(values))
    used = {
        node.id for node in ast.walk(ast.parse(source)) if isinstance(node, ast.Name)
    }
    if used & set(forbidden):
        raise AnswerError(
            _(
                "Your cell that sets {answer} uses {names}, which the exercise rules "
                "out: compute it as the exercise asks.",
                answer=answer,
                names=", ".join(sorted(used & set(forbidden))),
            )
        )
    scope = {**namespace, **values}
    scope.pop(answer, None)
    silent = io.StringIO()
    with (
        contextlib.redirect_stdout(silent),
        contextlib.redirect_stderr(silent),
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("ignore")
        try:
            # The learner's own cell.
            exec(compile(source, "<answer cell>", "exec"), scope)
        except Exception as error:  # the learner's code, whatever it raises
            raise AnswerError(
                _(
                    "Your cell that sets {answer} raised {kind} with the hidden test's "
                    "values: {error}",
                    answer=answer,
                    kind=type(error).__name__,
                    error=error,
                )
            ) from error
    if answer not in scope:
        raise AnswerError(
            _(
                "Your cell did not set {answer} when run with other given values.",
                answer=answer,
            )
        )
    return scope[answer]


def _fresh_checker(name: str) -> tuple[Callable, SecondCase, type]:
    """The checker ``name``, its second case and AnswerError, loaded again from
    the files.
    """
    if not isinstance(name, str):
        raise TypeError(
            f"name must be a checker's name, a str, got {type(name).__name__}"
        )
    chapter = name.partition("_")[0]
    validate.choice("the checker's chapter", chapter, CHAPTERS)
    core = importlib.reload(importlib.import_module("lmbook.checks.core"))
    module = importlib.reload(importlib.import_module(f"lmbook.checks.{chapter}"))
    importlib.reload(importlib.import_module("lmbook.checks"))  # checks.<name> restored
    cases = getattr(module, "SECOND_CASES", {})
    if name not in cases or not callable(getattr(module, name, None)):
        raise ValueError(
            f"{name} is not a checker with a second case in lmbook.checks.{chapter}"
        )
    return getattr(module, name), cases[name], core.AnswerError


def _plain(value: object) -> object:
    """``value`` with NumPy scalars as Python numbers, for the learner's feedback."""
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(v) for v in value)
    return value.item() if isinstance(value, np.generic) else value


def _seed_for(seed: int, name: str) -> int:
    """One seed per exercise, from the instructor's seed and the checker's name."""
    return (seed * 1_000_003 + zlib.crc32(name.encode())) % 2**63


def hidden_test(name: str, namespace: dict, *, seed: int, points: float) -> float:
    """The hidden test of checker ``name``: the points it earns (see the module's text).

    ``namespace`` is the notebook's ``globals()``, ``seed`` the instructor's private
    seed, ``points`` the cell's points in nbgrader.
    """
    validate.integer("seed", seed)
    validate.positive("points", points)
    if not isinstance(namespace, dict):
        raise TypeError("namespace must be the notebook's globals(), a dict")
    checker, case, fresh_error = _fresh_checker(name)
    learner = namespace.get(case.answer)
    with contextlib.redirect_stdout(io.StringIO()):
        try:
            checker(learner)
        except fresh_error as error:
            raise fresh_error(
                _(
                    "Hidden test: the course's own checker rejects {answer}. {error}",
                    answer=case.answer,
                    error=error,
                )
            ) from None
    rng = np.random.default_rng(_seed_for(seed, name))
    shown = _("other inputs")
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            if case.seeded:
                checker(learner, seed=int(rng.integers(2**31)))
            elif case.draw is None:
                shown = _("no second case: the exercise is worked by hand")
            else:
                values = case.draw(rng)
                shown = ", ".join(
                    f"{key} = {_plain(value)!r}" for key, value in values.items()
                )
                rerun = rerun_answer(namespace, case.answer, values, case.forbidden)
                checker(rerun, **values)
    except (AnswerError, fresh_error) as error:
        print(_("Hidden test failed, with {shown}. {error}", shown=shown, error=error))
        print(
            _(
                "Points: {earned:g} of {points:g} (the public case passed).",
                earned=points / 2,
                points=points,
            )
        )
        return points / 2
    print(
        _(
            "Hidden test passed, with {shown}: {points:g} of {points:g} points.",
            shown=shown,
            points=points,
        )
    )
    return float(points)
