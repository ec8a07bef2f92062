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
from lmbook.checks import AnswerError, core


@dataclass
class Row:
    """One checker: a right answer, wrong answers with hints, malformed answers with messages."""

    checker: Any
    right: Any
    wrong: list[tuple[Any, str]]
    malformed: list[tuple[Any, str]]
    kind: str = "value"  # "number" (a check_close checker), "value" or "function"
    also_right: list[Any] = field(default_factory=list)
    # A wrong answer that no specific hint matches: it gets the exercise's tiered hint.
    generic: Any = None
    # The right answer for other given values (the second case), as a function of them.
    solve: Any = None

    @property
    def name(self) -> str:
        return self.checker.__name__


def number(checker, right, wrong, malformed=(), also_right=(), generic=None, solve=None):
    """A checker of one number, built on check_close (generic: by default 3.7 × right)."""
    return Row(
        checker,
        right,
        wrong,
        [(None, "No answer yet"), ("66", "single number"), *malformed],
        "number",
        list(also_right),
        3.7 * right if generic is None else generic,
        solve,
    )


def function(checker, right, wrong, malformed=(), also_right=(), generic=None):
    """A checker of a function that the learner writes."""
    return Row(
        checker,
        right,
        wrong,
        [(None, "No answer yet"), *malformed],
        "function",
        list(also_right),
        generic,
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


def verdict(checker, answer, **given) -> str:
    """``"accepted"``, or the message of the AnswerError the checker raised."""
    try:
        checker(answer, **given)
    except AnswerError as error:
        return str(error)
    return "accepted"


def exercise_of(checker) -> str:
    """The exercise a checker checks, from its docstring: "Exercise 6b.2: ..." gives "6b.2"."""
    found = re.match(r"Exercise (\d+[a-d]?\.\d+)", checker.__doc__ or "")
    assert found, f"{checker.__name__}'s docstring does not start with 'Exercise N.M:'"
    return found[1]


def cells_of(notebook: Path) -> list[dict]:
    return json.loads(notebook.read_text(encoding="utf-8"))["cells"]


def source(cell: dict) -> str:
    return "".join(cell["source"])


def exercise_cells(notebook: Path, checker_name: str) -> tuple[str, str]:
    """The exercise's text and its answer cell (the first exercise code cell after the text)."""
    text, answer = None, None
    for cell in cells_of(notebook):
        tags = cell.get("metadata", {}).get("tags", [])
        if cell["cell_type"] == "markdown" and "exercise" in tags:
            text, answer = source(cell), None
        elif cell["cell_type"] == "code" and "exercise" in tags:
            if f"checks.{checker_name}(" in source(cell):
                assert text is not None and answer is not None, checker_name
                return text, answer
            answer = answer if answer is not None else source(cell)
    raise AssertionError(f"the notebook never calls checks.{checker_name}")


WORDS = {"one": 1, "two": 2, "three": 3, "four": 4}


def precision_asked(text: str) -> tuple[str, int] | None:
    """("significant", 3) for "to three significant figures", ("decimals", 2), or None."""
    found = re.search(r"\b(one|two|three|four) significant\s+figures", text)
    if found:
        return "significant", WORDS[found[1]]
    found = re.search(r"\b(one|two|three|four) decimal(?:s| places)", text)
    if found:
        return "decimals", WORDS[found[1]]
    return None


def rounded(value: float, precision: tuple[str, int]) -> float:
    kind, digits = precision
    if kind == "decimals" or value == 0:
        return round(value, digits)
    return float(f"{value:.{digits - 1}e}")


def given_values(answer_cell: str) -> dict[str, Any]:
    """The names an answer cell gives the exercise's numbers, and their values."""
    values = {}
    for node in ast.parse(answer_cell).body:
        if not isinstance(node, ast.Assign) or len(node.targets) != 1:
            continue
        target, value = node.targets[0], node.value
        if isinstance(target, ast.Name) and target.id.startswith("answer"):
            continue
        if isinstance(target, ast.Tuple) and isinstance(value, ast.Tuple):
            pairs = zip(target.elts, value.elts, strict=True)
        else:
            pairs = [(target, value)]
        for name, literal in pairs:
            values[name.id] = ast.literal_eval(literal)
    return values


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
                # ``_`` is the translation function of lmbook.checks.messages, not private.
                private = [
                    alias.name
                    for alias in node.names
                    if alias.name.startswith("_") and alias.name != "_"
                ]
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
        # expected numbers (the wrong answer itself, which it may repeat, and the exercise's
        # number in checks.hint("6c.3") are taken out first).
        message = re.sub(r'checks\.hint\("[^"]*"\)', "checks.hint(...)", message)
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

    # Hints in two tiers -----------------------------------------------------------

    @pytest.fixture(autouse=True)
    def first_tier(self):
        """Every test starts with no wrong answer counted, so hints start at the concept."""
        core.forget_wrong_answers()
        yield
        core.forget_wrong_answers()

    def test_every_checker_has_a_hint_in_two_tiers(self, row):
        hint = self.module.HINTS.get(exercise_of(row.checker))
        assert isinstance(hint, core.Hint), f"{row.name}: no Hint in HINTS"
        assert hint.concept != hint.method

    def test_a_repeated_wrong_answer_gets_the_method_too(self, row, capsys):
        assert row.generic is not None, f"{row.name}: the row needs a generic wrong answer"
        hint = self.module.HINTS[exercise_of(row.checker)]
        first = verdict(row.checker, row.generic)
        assert hint.concept in first and hint.method not in first, first
        assert f'checks.hint("{hint.exercise}")' in first
        second = verdict(row.checker, row.generic)
        assert hint.concept in second and hint.method in second, second
        capsys.readouterr()
        checks.hint(hint.exercise)
        assert capsys.readouterr().out.strip() == hint.both()

    def test_no_hint_states_the_expected_value(self, row):
        hint = self.module.HINTS[exercise_of(row.checker)]
        text = f"{hint.concept} {hint.method}"
        for expected in shown_numbers(row.right):
            forms = {format(expected, ".3g"), format(expected, ".4g"), f"{expected:,.0f}"}
            if abs(expected) >= 10:  # a small number (0.5, 2) may be an input of the text
                assert not any(form in text for form in forms), (expected, text)

    # Precision and the second case ----------------------------------------------------

    def test_the_answer_rounded_as_the_exercise_asks_is_accepted(self, row, root):
        text, _ = exercise_cells(notebook_of(self.module, root), row.name)
        numbers = shown_numbers(row.right)
        if row.kind not in ("number", "value") or not numbers:
            return
        if all(float(n).is_integer() for n in numbers):
            return  # whole numbers: exact, with nothing to round
        precision = precision_asked(text)
        assert precision, f"{row.name}: the exercise does not say to what precision to answer"
        answer = [rounded(n, precision) for n in numbers]
        if isinstance(row.right, np.ndarray):
            shaped = np.asarray(answer).reshape(row.right.shape)
        else:
            shaped = answer[0] if row.kind == "number" else type(row.right)(answer)
        assert verdict(row.checker, shaped) == "accepted", (precision, shaped)

    def test_every_checker_has_a_second_case(self, row):
        assert isinstance(self.module.SECOND_CASES.get(row.name), core.SecondCase), row.name

    def test_the_answer_cell_gives_the_checkers_values(self, row, root):
        """The names of the answer cell are the checker's keywords, with their defaults."""
        case = self.module.SECOND_CASES[row.name]
        if case.draw is None:
            return
        _, answer_cell = exercise_cells(notebook_of(self.module, root), row.name)
        defaults = {
            name: parameter.default
            for name, parameter in inspect.signature(row.checker).parameters.items()
            if parameter.default is not inspect.Parameter.empty
        }
        assert given_values(answer_cell) == defaults, answer_cell
        assert set(case.draw(np.random.default_rng(0))) == set(defaults)

    @pytest.mark.parametrize("seed", [1, 2, 3])
    def test_the_second_case_takes_right_answers_and_not_the_public_one(self, row, seed):
        case = self.module.SECOND_CASES[row.name]
        if case.seeded:
            assert verdict(row.checker, row.right, seed=seed) == "accepted"
            for answer, _ in row.wrong:
                assert verdict(row.checker, answer, seed=seed) != "accepted", answer
        elif case.draw is not None:
            assert row.solve is not None, f"{row.name}: the row needs solve(**values)"
            values = case.draw(np.random.default_rng(seed))
            assert verdict(row.checker, row.solve(**values), **values) == "accepted", values
            assert verdict(row.checker, row.right, **values) != "accepted", values

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
