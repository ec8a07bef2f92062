"""The audit of the exercise checkers: the table's rows and the tests every row goes through.

Each notebook's test file (``test_ch01.py`` … ``test_ch11.py``, ``test_ch06a.py`` …
``test_ch06d.py``) lists one :class:`Row` per checker of its module of
``lmbook.checks``: a right answer (the notebook's solution), wrong answers, each with
a piece of the hint it must get, and malformed answers, each with a piece of the
message it must get. It then runs the audit over its rows with two lines::

    class TestAudit(AuditTests):
        module, rows = ch01, AUDIT

:class:`AuditTests` fails if a checker of the module has no row, so a new checker
cannot ship without its three kinds of test, and if the notebook calls a checker
that is not in the table. ``tests/project/test_layout.py`` checks that every module
has such a file.
"""

from __future__ import annotations

import ast
import inspect
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
import torch

from lmbook import checks
from lmbook.checks import AnswerError


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


def number(checker, right, wrong, malformed=(), also_right=()):
    """A checker of one number, built on check_close."""
    return Row(
        checker,
        right,
        wrong,
        [(None, "No answer yet"), ("66", "single number"), *malformed],
        "number",
        list(also_right),
    )


def function(checker, right, wrong, malformed=(), also_right=()):
    """A checker of a function that the learner writes."""
    return Row(
        checker, right, wrong, [(None, "No answer yet"), *malformed], "function", list(also_right)
    )


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


def shown_numbers(answer) -> list[float]:
    """The numbers of a right answer, for rows whose answer is one number or several."""
    if isinstance(answer, str) or callable(answer):
        return []
    try:
        values = np.asarray(answer, dtype=float).ravel()
    except (TypeError, ValueError):
        return []
    return [float(v) for v in values]


def short_name(module: ModuleType) -> str:
    """``"ch06a"`` for ``lmbook.checks.ch06a``."""
    return module.__name__.rpartition(".")[2]


def checkers_of(module: ModuleType) -> dict[str, Any]:
    """The public functions a checker module defines (not those it imports)."""
    return {
        name: value
        for name, value in vars(module).items()
        if callable(value)
        and not name.startswith("_")
        and getattr(value, "__module__", None) == module.__name__
    }


def notebook_of(module: ModuleType, root: Path) -> Path:
    """The notebook whose checkers ``module`` holds: ch06a → notebooks/06a_*.ipynb."""
    (path,) = sorted((root / "notebooks").glob(f"{short_name(module)[2:]}_*.ipynb"))
    return path


def called_checkers(notebook: Path) -> set[str]:
    """The checkers a notebook calls, ``checks.<name>(...)``, in any cell."""
    called = set()
    for cell in json.loads(notebook.read_text(encoding="utf-8"))["cells"]:
        called |= set(re.findall(r"checks\.(ch\w+)\(", "".join(cell["source"])))
    return called


def verdict(checker, answer) -> str:
    """``"accepted"``, or the message of the AnswerError the checker raised."""
    try:
        checker(answer)
    except AnswerError as error:
        return str(error)
    return "accepted"


class AuditTests:
    """The audit of one checker module: subclass it as ``TestAudit``, with its module and rows."""

    module: ModuleType
    rows: list[Row]

    def pytest_generate_tests(self, metafunc):
        """Run the tests that take a ``row`` over this module's rows, with their answers."""
        if "row" not in metafunc.fixturenames:
            return
        if "hint" in metafunc.fixturenames or "text" in metafunc.fixturenames:
            attribute = "wrong" if "hint" in metafunc.fixturenames else "malformed"
            metafunc.parametrize(
                ("row", "answer", "hint" if attribute == "wrong" else "text"),
                [
                    pytest.param(row, answer, text, id=f"{row.name}-{i}")
                    for row in self.rows
                    for i, (answer, text) in enumerate(getattr(row, attribute))
                ],
            )
        else:
            metafunc.parametrize("row", self.rows, ids=lambda row: row.name)

    # The module -------------------------------------------------------------------

    def test_the_test_file_is_named_after_the_module(self):
        path = Path(inspect.getfile(type(self)))
        assert path.name == f"test_{short_name(self.module)}.py", "audits another module"

    def test_the_module_says_which_notebook_it_checks(self, root):
        notebook = notebook_of(self.module, root)
        assert f"``notebooks/{notebook.name}``" in self.module.__doc__

    def test_the_package_exports_every_checker_of_the_module(self):
        for name, checker in checkers_of(self.module).items():
            assert name in checks.__all__ and getattr(checks, name) is checker, name

    def test_the_module_uses_no_private_name_of_another(self):
        """It uses the core's public helpers (``as_number``), never ``_private`` ones."""
        tree = ast.parse(inspect.getsource(self.module))
        imported = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                imported |= {alias.asname or alias.name.partition(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                private = [alias.name for alias in node.names if alias.name.startswith("_")]
                assert not private, f"imports {private} from {node.module}"
                imported |= {alias.asname or alias.name for alias in node.names}
        used = [
            f"{node.value.id}.{node.attr} (line {node.lineno})"
            for node in ast.walk(tree)
            if isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in imported
            and re.match(r"_[^_]", node.attr)
        ]
        assert not used, f"private names of other modules: {used}"

    # The table --------------------------------------------------------------------

    def test_every_checker_of_the_module_has_one_row(self):
        checkers = checkers_of(self.module)
        assert checkers, f"found no checkers in {self.module.__name__}"
        prefix = f"{short_name(self.module)}_"
        misnamed = sorted(name for name in checkers if not name.startswith(prefix))
        assert not misnamed, f"checkers not named {prefix}...: {misnamed}"
        names = [row.name for row in self.rows]
        assert len(names) == len(set(names)), "a checker has two rows"
        assert all(row.checker is checkers.get(row.name) for row in self.rows), (
            "a row audits a checker of another module"
        )
        missing = sorted(checkers.keys() - set(names))
        assert not missing, f"checkers without a row: {missing}"

    def test_every_row_has_all_three_kinds_of_answer(self):
        for row in self.rows:
            assert row.wrong, f"{row.name}: no wrong answer"
            assert row.malformed, f"{row.name}: no malformed answer"
            assert any(answer is None for answer, _ in row.malformed), f"{row.name}: no None"

    def test_the_notebook_calls_exactly_the_audited_checkers(self, root):
        """The notebook calls no checker outside the table, and the table has no orphan."""
        notebook = notebook_of(self.module, root)
        assert called_checkers(notebook) == {row.name for row in self.rows}, notebook.name

    # The audit --------------------------------------------------------------------

    def test_right_answer_is_accepted(self, row, capsys):
        answers = [row.right, *row.also_right]
        if row.kind == "number":  # NumPy and torch scalars are numbers too
            answers += [np.float64(row.right), torch.tensor(float(row.right), dtype=torch.float64)]
        for answer in answers:
            assert row.checker(answer) is None
            out = capsys.readouterr().out
            assert out.startswith("Correct:"), f"{row.name}({answer!r}) printed {out!r}"
            assert out.count("\n") == 1

    def test_wrong_answer_gets_its_hint(self, row, answer, hint, capsys):
        with pytest.raises(AnswerError) as caught:
            row.checker(answer)
        assert capsys.readouterr().out == "", "a wrong answer must not print Correct"
        message = str(caught.value)
        assert hint in message
        assert not message.startswith("No answer yet")
        # The hint must teach, not give the answer away: the message holds none of the
        # expected numbers (the wrong answer itself, which it may repeat, is taken out first).
        for shown in shown_numbers(answer):
            for form in (".3g", ".4g", ".5g"):
                message = message.replace(format(shown, form), "<yours>")
        for expected in shown_numbers(row.right):
            for form in (".3g", ".4g"):
                assert format(expected, form) not in message, (expected, message)

    def test_malformed_answer_gets_a_clear_message(self, row, answer, text, capsys):
        with pytest.raises(AnswerError) as caught:
            row.checker(answer)
        assert capsys.readouterr().out == ""
        assert text in str(caught.value)
        assert "Not quite" not in str(caught.value)

    def test_no_malformed_answer_escapes_as_a_traceback(self, row, capsys):
        """Whatever comes in, a checker raises AnswerError, never TypeError and the like."""
        malformed = MALFORMED_FUNCTIONS if row.kind == "function" else MALFORMED_VALUES
        for answer in malformed:
            with pytest.raises(AnswerError) as caught:
                row.checker(answer)
            assert "Not quite" not in str(caught.value), (answer, str(caught.value))
            if answer is None or answer is Ellipsis:
                assert str(caught.value).startswith("No answer yet")
        assert capsys.readouterr().out == ""

    def test_number_checkers_reject_answers_off_by_a_little(self):
        """The tolerance is tight: 10 % off is wrong for every number exercise."""
        accepted = [
            (row.name, factor)
            for row in self.rows
            if row.kind == "number"
            for factor in (0.9, 1.1)
            if not verdict(row.checker, row.right * factor).startswith("Not quite")
        ]
        assert not accepted, f"not rejected as wrong when 10 % off: {accepted}"
