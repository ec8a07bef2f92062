"""The language of the checkers' messages: English, or Chinese for the notebooks of
the Chinese edition (``notebooks/zh/``), whose setup cell calls
``checks.set_language("zh_CN")``.

Every message a checker shows is an English template passed through :func:`_`
(``_("Correct: {name} = {value:.4g} {unit}.", name=..., value=..., unit=...)``). A
template defined in one place and shown in another (the tiers of a
:class:`~lmbook.checks.core.Hint`, a unit, a typical mistake's advice) is marked
with :func:`N_` where it is defined and translated with :func:`_` where it is shown.
The translations are gettext catalogues in the package,
``locale/<language>/<module>.po``, one per checker module; ``scripts/translations.py
checks`` extracts the templates into them, and a test fails when a template has no
translation or a translation changes its ``{placeholders}``.

The language lives in this module alone, which grading never reloads, so that a
checker reloaded at grading time speaks the notebook's language.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

__all__ = ["LANGUAGES", "N_", "_", "catalogue", "language", "set_language"]

LANGUAGES = ("en", "zh_CN")
LOCALE = Path(__file__).with_name("locale")

_current = "en"


def set_language(code: str) -> None:
    """Show the checkers' messages and hints in ``code``: ``"en"`` or ``"zh_CN"``."""
    global _current
    if code not in LANGUAGES:
        raise ValueError(
            f"language must be one of {', '.join(map(repr, LANGUAGES))}, got {code!r}"
        )
    _current = code


def language() -> str:
    """The language of the checkers' messages now (``"en"`` unless set)."""
    return _current


def N_(template: str) -> str:
    """Mark ``template`` for translation where it is defined; it is translated
    where it is shown, with :func:`_`.
    """
    return template


def _(template: str, /, **values: object) -> str:
    """``template`` in the current language, with ``values`` filled in by
    :meth:`str.format` (so a template with values writes a literal brace twice).

    A template without a translation is shown in English. Without values it is returned
    as it is, so that text already filled in (a typical mistake's advice) may be
    translated again whatever braces it holds.
    """
    if not isinstance(template, str):
        raise TypeError(f"a message template must be a string, got {template!r}")
    if _current != "en":
        template = catalogue(_current).get(template) or template
    return template.format(**values) if values else template


def _unquote(lines: list[str]) -> str:
    """The string of a .po keyword's quoted lines."""
    return "".join(ast.literal_eval(line) for line in lines)


@cache
def catalogue(code: str) -> dict[str, str]:
    """The translations of ``code``: every ``locale/<code>/*.po`` file's msgid to
    msgstr, the untranslated and fuzzy entries left out.
    """
    if code not in LANGUAGES:
        raise ValueError(
            f"language must be one of {', '.join(map(repr, LANGUAGES))}, got {code!r}"
        )
    translations: dict[str, str] = {}
    for path in sorted((LOCALE / code).glob("*.po")):
        for entry in path.read_text(encoding="utf-8").split("\n\n"):
            keyword, parts, fuzzy = None, {"msgid": [], "msgstr": []}, False
            for line in entry.splitlines():
                if line.startswith("#,") and "fuzzy" in line:
                    fuzzy = True
                elif line.startswith(("msgid ", "msgstr ")):
                    keyword, _, quoted = line.partition(" ")
                    parts[keyword].append(quoted)
                elif line.startswith('"') and keyword:
                    parts[keyword].append(line)
            msgid, msgstr = _unquote(parts["msgid"]), _unquote(parts["msgstr"])
            if msgid and msgstr and not fuzzy:
                translations[msgid] = msgstr
    return translations
