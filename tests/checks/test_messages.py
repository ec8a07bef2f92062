"""The checkers' messages in Chinese (lmbook.checks.messages): every template has a
current translation that keeps its placeholders, no learner-facing English escapes the
templates, and a checker set to Chinese answers in Chinese."""

from __future__ import annotations

import ast
import re
import string
from collections import Counter
from pathlib import Path

import pytest
import translations  # scripts/, on the path through conftest

from lmbook import checks
from lmbook.checks import core, messages
from lmbook.checks.core import AnswerError

MODULES = sorted(translations.CHECKERS.glob("*.py"))
HAN = re.compile(r"[\u4e00-\u9fff]")
WORDS = re.compile(r"[A-Za-z]{2,}")


@pytest.fixture
def chinese():
    checks.set_language("zh_CN")
    core.forget_wrong_answers()
    yield
    checks.set_language("en")
    core.forget_wrong_answers()


def fields(template: str) -> Counter:
    """The placeholders of a template, with their format specs: ``{value:.4g}``."""
    return Counter(
        (field, spec)
        for _text, field, spec, _conversion in string.Formatter().parse(template)
        if field is not None
    )


def test_set_language_takes_a_known_language_only():
    assert checks.language() == "en"
    with pytest.raises(ValueError, match="'en', 'zh_CN'.*'fr'"):
        checks.set_language("fr")
    with pytest.raises(TypeError, match="template must be a string"):
        messages._(None)
    assert messages._("Correct: {name}.", name="x") == "Correct: x."
    assert messages._("advice about {d} with {braces}") == "advice about {d} with {braces}"


def test_an_untranslated_template_is_shown_in_english(chinese):
    assert messages._("no such template {n}", n=3) == "no such template 3"
    assert HAN.search(messages._("Hint: {advice}", advice="x"))


@pytest.mark.parametrize("module", MODULES, ids=lambda path: path.stem)
def test_every_template_has_a_current_translation_with_its_placeholders(module):
    """Fails when a message was added or changed without its Chinese: run
    ``python scripts/translations.py checks`` and translate what it marks new or fuzzy."""
    templates = {message.id for message in translations.checker_templates(module) if message.id}
    path = translations.CHECKER_LOCALE / module.with_suffix(".po").name
    if not templates:
        assert not path.exists(), f"{path.name} has no templates left: delete it"
        return
    assert path.exists(), f"no catalogue {path.name}: run translations.py checks"
    catalogue = {m.id: m for m in translations.read(path) if m.id}
    assert set(catalogue) == templates, (
        f"{path.name} is not in step with {module.name}: run translations.py checks; "
        f"missing {sorted(templates - set(catalogue))[:3]}, "
        f"left over {sorted(set(catalogue) - templates)[:3]}"
    )
    for template, message in catalogue.items():
        assert message.string and not message.fuzzy, f"untranslated: {template!r}"
        assert fields(message.string) == fields(template), (template, message.string)
        if WORDS.search(re.sub(r"\{[^}]*\}|checks\.\w+|\w+\(|nan|inf", "", template)):
            assert HAN.search(message.string), f"not Chinese: {message.string!r}"
        message.string.format(**{field: 1.0 for field, _spec in fields(template)})


def _is_translated(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in ("_", "N_")
    )


def _is_authors_error(node: ast.AST) -> bool:
    """``raise ValueError(...)`` or ``TypeError``: a checker called wrongly by the
    course's code (a learner's answer gets an AnswerError)."""
    return (
        isinstance(node, ast.Raise)
        and isinstance(node.exc, ast.Call)
        and getattr(node.exc.func, "id", None) in ("ValueError", "TypeError")
    )


# Exercise data, in English by design: the help-desk corpus and questions that the
# English encoder of Exercise 6a.4 searches.
EXERCISE_DATA = {"HELP_DESK", "QUESTIONS"}


def _english_literals(module: Path) -> list[tuple[int, str]]:
    """String literals of three words or more outside ``_``/``N_`` calls and
    docstrings: text a learner could see in English."""
    tree = ast.parse(module.read_text(encoding="utf-8"))
    skip: set[int] = set()
    for node in ast.walk(tree):
        data = isinstance(node, ast.Assign) and any(
            getattr(target, "id", None) in EXERCISE_DATA for target in node.targets
        )
        if _is_translated(node) or _is_authors_error(node) or data:
            skip |= {id(child) for child in ast.walk(node)}
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
            if isinstance(body[0].value, ast.Constant):  # a docstring
                skip.add(id(body[0].value))
    found = []
    for node in ast.walk(tree):
        if id(node) in skip or not isinstance(node, ast.Constant):
            continue
        if isinstance(node.value, str) and len(WORDS.findall(node.value)) >= 3:
            found.append((node.lineno, node.value))
    return found


# Literals that a learner never reads as a message: code that a checker runs or
# compares, and errors for the course's authors (a checker defined wrongly).
NOT_MESSAGES = re.compile(
    r"must be a (non-empty string|variable's name)|a SecondCase|only a SecondCase"
    r"|^[\w.]+$|^[\w.]+\(.*\)$|^def |^import |^from "
    r'|^\w+\["\w+"\]\[?$'  # a key of an answer: answer_6["best_width"]
    r"|^(about the same|no clear difference)$"  # verdicts an answer states
)


@pytest.mark.parametrize("module", MODULES, ids=lambda path: path.stem)
def test_no_learner_facing_english_outside_the_templates(module):
    if module.name in ("messages.py", "grading.py"):
        return
    leaks = [
        f"{module.name}:{line}: {text!r}"
        for line, text in _english_literals(module)
        if not NOT_MESSAGES.search(text)
    ]
    assert not leaks, "wrap these in _() or N_():\n" + "\n".join(leaks)


CHECKERS = [name for name in checks.__all__ if re.match(r"ch\d\d[a-z]?_", name)]


@pytest.mark.parametrize("name", CHECKERS)
def test_a_checker_set_to_chinese_answers_a_missing_answer_in_chinese(name, chinese):
    with pytest.raises(AnswerError) as error:
        getattr(checks, name)(...)
    assert HAN.search(str(error.value)), str(error.value)


def test_hints_come_in_chinese(chinese, capsys):
    checks.hint("1.1")
    printed = capsys.readouterr().out
    assert HAN.search(printed) and "1.1" in printed
    with pytest.raises(AnswerError) as error:
        checks.ch01_training_compute(1.0)
    assert HAN.search(str(error.value))
    checks.ch01_training_compute(6 * 65e9 * 1.4e12)
    assert HAN.search(capsys.readouterr().out)


def test_a_template_used_by_several_modules_has_one_translation():
    """The catalogues are merged into one table: two translations of one template would
    leave one module's message in the other's words."""
    found: dict[str, dict[str, list[str]]] = {}
    for path in sorted(translations.CHECKER_LOCALE.glob("*.po")):
        for message in translations.read(path):
            if message.id:
                found.setdefault(message.id, {}).setdefault(message.string, []).append(path.stem)
    differ = {template: strings for template, strings in found.items() if len(strings) > 1}
    assert not differ, differ
