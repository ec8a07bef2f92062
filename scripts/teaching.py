"""The instructor's question bank: check it, draw it, and turn it into quizzes and keys.

The bank is one YAML file per chapter in instructor/questions/ (FORMAT.md there says what
a file holds). Numeric answers are never stored: each is a Python expression over the
question's values, evaluated here, so an instructor's private seed can draw other values
and the key follows.

    python scripts/teaching.py check [FILE ...]      validate, compute every answer
    python scripts/teaching.py quizzes [--seed-file F] quizzes, keys, GIFT and QTI
    python scripts/teaching.py exams [--seed-file F]   the sample exams and solutions

The last two write into _instructor/ (git ignores it); the Makefile's targets
`make quizzes` and `make exams` call them.
"""

from __future__ import annotations

import argparse
import builtins
import html
import importlib
import math
import random
import re
import secrets
import shutil
import string
import subprocess
import sys
import tempfile
from functools import cache
from pathlib import Path

import numpy as np
import yaml
from markdown_it import MarkdownIt
from mdit_py_plugins.dollarmath import dollarmath_plugin

ROOT = Path(__file__).resolve().parent.parent
BANK = ROOT / "instructor" / "questions"
OUT = ROOT / "_instructor"
SEED_FILE = OUT / "quiz_seed.txt"
KINDS = ("choice", "numeric", "written")
MIN_QUESTIONS = 15
# Canvas (through text2qti) grades no numeric answer whose accepted range comes this close
# to zero.
SMALLEST_ANSWER = 1e-4
MODULES = (
    "attention cnn compression deploy distributed economics explain generalisation "
    "generation gpt ner nn norm privacy rnn scale scaling seq2seq sharding text "
    "transformer vision"
).split()
# The built-ins an answer expression may call: arithmetic, nothing that reaches outside.
# Python's import machinery stays, because NumPy's C code imports lazily (the first
# ndarray.sum() of a process) through the calling frame's built-ins.
ARITHMETIC = {
    name: getattr(builtins, name)
    for name in "abs divmod float int len max min pow range round sum zip __import__".split()
}
DRAW_RULES = ("integers", "uniform", "log_uniform", "choices")
COMMON_KEYS = {"id", "type", "objective", "section", "text", "explanation"}
KEYS = {
    "choice": COMMON_KEYS | {"choices"},
    "numeric": COMMON_KEYS
    | {"given", "draw", "answer", "rel_tol", "abs_tol", "unit", "format", "points"},
    "written": COMMON_KEYS | {"answer", "rubric"},
}


class BankError(ValueError):
    """A question bank file that does not follow instructor/questions/FORMAT.md."""


@cache
def namespace() -> dict:
    """The names an answer expression may use: math, NumPy and the course's modules."""
    names = {"math": math, "np": np}
    for module in MODULES:
        names[module] = importlib.import_module(f"lmbook.{module}")
    return names


def bank_files() -> list[Path]:
    return sorted(BANK.glob("ch*.yaml"))


def load(path: Path) -> dict:
    with open(path, encoding="utf-8") as stream:
        bank = yaml.safe_load(stream)
    if not isinstance(bank, dict):
        raise BankError(f"{path.name}: expected a mapping with chapter, objectives, questions")
    return bank


def number(value: object) -> object:
    """YAML 1.1 reads 65e9 (no dot) as a string: such a string is the number it spells."""
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    if isinstance(value, list):
        return [number(item) for item in value]
    return value


def draw_value(rule: dict, rng: random.Random) -> object:
    """One value drawn by a FORMAT.md rule such as {log_uniform: [1e9, 1e11], digits: 2}."""
    (kind,) = [key for key in rule if key in DRAW_RULES]
    if kind == "choices":
        return number(rng.choice(rule["choices"]))
    low, high = rule[kind]
    if kind == "integers":
        return rng.randint(int(low), int(high))
    if kind == "uniform":
        value = rng.uniform(float(low), float(high))
    else:
        value = math.exp(rng.uniform(math.log(float(low)), math.log(float(high))))
    digits = int(rule.get("digits", 3))
    rounded = float(f"{value:.{digits}g}")
    return int(rounded) if rounded.is_integer() and abs(rounded) < 2**53 else rounded


def draw(question: dict, rng: random.Random) -> dict:
    """Values for a numeric question drawn from its rules (the private-seed version)."""
    return {name: draw_value(rule, rng) for name, rule in question["draw"].items()}


def compute(question: dict, values: dict) -> float:
    """Evaluate a numeric question's answer expression with ``values``."""
    # One namespace (globals), so that a comprehension in the expression sees the values.
    names = {"__builtins__": ARITHMETIC, **namespace(), **values}
    answer = eval(question["answer"], names)  # noqa: S307 (the bank's own code)
    answer = float(answer)
    if not math.isfinite(answer):
        raise BankError(f"{question['id']}: the answer is {answer} for {values}")
    return answer


def fill(template: str, values: dict) -> str:
    return string.Formatter().vformat(template, (), values)


def render(question: dict, values: dict | None = None) -> dict:
    """The question as a student and a key see it: text, choices, answer, explanation.

    ``values`` are a numeric question's values (its ``given`` ones when None).
    """
    shown = dict(question)
    if question["type"] == "numeric":
        values = {
            k: number(v) for k, v in (question["given"] if values is None else values).items()
        }
        answer = compute(question, values)
        values["answer"] = answer
        shown["values"] = values
        shown["answer_value"] = answer
        shown["answer"] = format(answer, question.get("format", ".4g"))
        shown["text"] = fill(question["text"], values)
        shown["explanation"] = fill(question["explanation"], values)
    return shown


def _text(value: object) -> bool:
    return isinstance(value, str) and value.strip() != ""


def problems(bank: dict, name: str, rng: random.Random | None = None) -> list[str]:
    """Every way ``bank`` breaks FORMAT.md, as messages (empty when it is right)."""
    found = []
    for key in ("chapter", "notebook", "title", "objectives", "questions"):
        if key not in bank:
            found.append(f"{name}: missing '{key}'")
    if found:
        return found
    chapter = bank["chapter"]
    if name != f"{chapter}.yaml":
        found.append(f"{name}: chapter is '{chapter}', expected the file's name")
    if not (ROOT / "notebooks" / f"{bank['notebook']}.ipynb").exists():
        found.append(f"{name}: no notebook notebooks/{bank['notebook']}.ipynb")
    objectives = bank["objectives"]
    if not isinstance(objectives, dict) or not all(map(_text, objectives.values())):
        found.append(f"{name}: objectives must map a slug to a sentence")
        objectives = {}
    questions = bank["questions"]
    if not isinstance(questions, list) or len(questions) < MIN_QUESTIONS:
        count = len(questions) if isinstance(questions, list) else 0
        found.append(f"{name}: {count} questions, at least {MIN_QUESTIONS} expected")
        questions = questions if isinstance(questions, list) else []
    seen, used = set(), set()
    rng = rng or random.Random(0)
    for number, question in enumerate(questions, 1):
        where = f"{name}: question {number}"
        if not isinstance(question, dict):
            found.append(f"{where}: expected a mapping")
            continue
        qid = question.get("id", "")
        where = f"{name}: {qid or f'question {number}'}"
        if not str(qid).startswith(f"{chapter}-") or qid in seen:
            found.append(f"{where}: id must be '{chapter}-NN' and unique")
        seen.add(qid)
        kind = question.get("type")
        if kind not in KINDS:
            found.append(f"{where}: type is {kind!r}, expected one of {KINDS}")
            continue
        unknown = set(question) - KEYS[kind]
        if unknown:
            found.append(f"{where}: unknown keys {sorted(unknown)}")
        for key in ("text", "explanation"):
            if not _text(question.get(key)):
                found.append(f"{where}: '{key}' is missing or empty")
        if question.get("objective") not in objectives:
            found.append(f"{where}: objective {question.get('objective')!r} is not defined")
        used.add(question.get("objective"))
        found += _kind_problems(question, kind, where, rng)
    for objective in set(objectives) - used:
        found.append(f"{name}: objective '{objective}' has no question")
    for kind in KINDS:
        if not any(isinstance(q, dict) and q.get("type") == kind for q in questions):
            found.append(f"{name}: no {kind} question")
    return found


def _kind_problems(question: dict, kind: str, where: str, rng: random.Random) -> list[str]:
    found = []
    if kind == "choice":
        choices = question.get("choices")
        if not isinstance(choices, list) or not 3 <= len(choices) <= 5:
            return [f"{where}: 3 to 5 choices expected"]
        if not all(isinstance(c, dict) and _text(c.get("text")) for c in choices):
            return [f"{where}: every choice needs a text"]
        correct = [c for c in choices if c.get("correct") is True]
        if len(correct) != 1:
            found.append(f"{where}: {len(correct)} correct choices, exactly 1 expected")
        texts = [c["text"].strip() for c in choices]
        if len(set(texts)) != len(texts):
            found.append(f"{where}: two choices say the same")
        if any(_is_number(text) for text in texts):
            found.append(f"{where}: a choice is a bare number: make it a numeric question")
    elif kind == "written":
        if not _text(question.get("answer")):
            found.append(f"{where}: a written question needs a model answer")
        rubric = question.get("rubric")
        if not isinstance(rubric, list) or not 2 <= len(rubric) <= 4:
            found.append(f"{where}: a rubric of 2 to 4 one-point criteria expected")
    else:
        found += _numeric_problems(question, where, rng)
    return found


def _is_number(text: str) -> bool:
    try:
        float(text.replace(",", "").replace("%", ""))
    except ValueError:
        return False
    return True


def _numeric_problems(question: dict, where: str, rng: random.Random) -> list[str]:
    given, rules = question.get("given"), question.get("draw")
    if not isinstance(given, dict) or not isinstance(rules, dict):
        return [f"{where}: 'given' and 'draw' must both map names to values and rules"]
    if set(given) != set(rules):
        return [f"{where}: 'draw' must have a rule for each given name, and no other"]
    if not _text(question.get("answer")):
        return [f"{where}: 'answer' must be a Python expression"]
    if not any(key in question for key in ("rel_tol", "abs_tol")):
        return [f"{where}: a tolerance (rel_tol or abs_tol) is needed"]
    for name, rule in rules.items():
        if not isinstance(rule, dict) or len([k for k in rule if k in DRAW_RULES]) != 1:
            return [f"{where}: draw rule for '{name}' must be one of {DRAW_RULES}"]
    try:
        answers = [render(question)["answer_value"]]
        answers += [render(question, draw(question, rng))["answer_value"] for _ in range(20)]
    except Exception as error:  # noqa: BLE001 (every failure is reported)
        return [f"{where}: {type(error).__name__}: {error}"]
    for answer in answers:
        accepted = tolerance(question, answer)
        if min(abs(answer - accepted), abs(answer + accepted)) < SMALLEST_ANSWER:
            return [
                f"{where}: an answer of {answer:.3g} ± {accepted:.2g} comes within "
                f"{SMALLEST_ANSWER:g} of 0, which an LMS cannot grade: ask in another unit"
            ]
    return []


def answer_fingerprints(question: dict) -> list[str]:
    """Text of ``question``'s answer long enough to be unmistakable (its explanation, and a
    written question's model answer and rubric), to search for where no key may be."""
    texts = [question["explanation"]]
    if question["type"] == "written":
        texts += [question["answer"], *question["rubric"]]
    return [" ".join(t.split())[:60] for t in texts if "{" not in t and len(t) > 50]


def seed_from(path: Path | None) -> int | None:
    """The instructor's private seed: read from ``path``, created there once if missing."""
    if path is None:
        return None
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"{secrets.randbits(63)}\n")
    return int(path.read_text().strip())


def question_rng(seed: int | None, qid: str) -> random.Random:
    """The draws of one question: the same for a seed whatever the bank's order."""
    return random.Random(f"{seed}:{qid}")


def instance(question: dict, seed: int | None) -> dict:
    """``question`` as one form shows it: values drawn with ``seed`` (book values when
    None), choices shuffled by the same seed, ``letter`` the correct choice's letter."""
    rng = question_rng(seed, question["id"])
    values = draw(question, rng) if seed is not None and question["type"] == "numeric" else None
    shown = render(question, values)
    if question["type"] == "choice":
        choices = list(question["choices"])
        rng.shuffle(choices)
        shown["choices"] = choices
        shown["letter"] = "abcde"[next(i for i, c in enumerate(choices) if c.get("correct"))]
    return shown


def tolerance(question: dict, answer: float) -> float:
    """The absolute error an LMS accepts around ``answer``."""
    if "abs_tol" in question:
        return float(question["abs_tol"])
    return abs(answer) * float(question["rel_tol"])


# Markdown with $maths$, rendered as Sphinx writes maths, so that the website's own code
# (book/_ext/lean_pages.py) typesets it in Node.js.
def _maths(content: str, options: dict) -> str:
    tex = html.escape(content.strip(), quote=False)
    return rf"\[{tex}\]" if options["display_mode"] else rf"\({tex}\)"


MARKDOWN = MarkdownIt("commonmark", {"typographer": False}).enable("table")
MARKDOWN.use(dollarmath_plugin, renderer=_maths, double_inline=True)
SPHINX_MATHS = (
    ('<span class="math inline">', '<span class="math notranslate nohighlight">'),
    ('<div class="math block">', '<div class="math notranslate nohighlight">'),
)


def to_html(text: str, inline: bool = False) -> str:
    rendered = MARKDOWN.renderInline(text) if inline else MARKDOWN.render(text)
    for before, after in SPHINX_MATHS:
        rendered = rendered.replace(before, after)
    return rendered


PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>{style}</style></head>
<body><header><p class="course">Large Models: From Neurons to Business</p>
<h1>{title}</h1><p class="form">{form}</p></header>
{body}
</body></html>
"""
STYLE = """
body { font: 11pt/1.45 "DejaVu Serif", Georgia, serif; max-width: 46em; margin: 2em auto;
  padding: 0 1em; color: #111; }
header { border-bottom: 1px solid #999; margin-bottom: 1.2em; }
.course, .form, .meta { color: #555; font-size: 0.9em; margin: 0.2em 0; }
h1 { font-size: 1.6em; margin: 0.2em 0; } h2 { font-size: 1.2em; margin-top: 1.6em; }
ol.questions > li { margin-bottom: 1.1em; break-inside: avoid; }
ol.choices { list-style-type: lower-alpha; margin: 0.3em 0; }
.blank { border-bottom: 1px solid #333; display: inline-block; min-width: 12em; }
.name { margin: 0.8em 0 1.2em; }
.lines { border: 1px solid #bbb; height: 7em; margin-top: 0.4em; }
.lines.long { height: 12em; }
.answer { background: #eef5ee; border-left: 3px solid #2a7a2a; padding: 0.3em 0.7em;
  margin-top: 0.4em; }
.answer p { margin: 0.25em 0; }
.points { float: right; color: #555; font-size: 0.9em; }
table { border-collapse: collapse; } td, th { border: 1px solid #bbb; padding: 0.2em 0.5em; }
code, pre { font-size: 0.92em; }
mjx-container[jax="CHTML"] { font-size: 110%; }
@media print { body { margin: 0; max-width: none; } }
"""


NAME_LINE = (
    '<p class="name">Name: <span class="blank">&nbsp;</span> '
    'Student number: <span class="blank">&nbsp;</span></p>'
)


def form_line(seed: int | None) -> str:
    if seed is None:
        return "Form: the book's values (public)."
    return "Form: values drawn with the instructor's private seed."


def question_html(shown: dict, key: bool, points: float | None = None) -> str:
    """One question as an <li>: for students, or (``key``) with its answer and why."""
    parts = []
    if points is not None:
        parts.append(f'<span class="points">{points:g} point{"s" * (points != 1)}</span>')
    parts.append(to_html(shown["text"]))
    kind = shown["type"]
    if kind == "choice":
        items = "".join(f"<li>{to_html(c['text'], inline=True)}</li>" for c in shown["choices"])
        parts.append(f'<ol class="choices">{items}</ol>')
    elif kind == "numeric" and not key:
        unit = html.escape(str(shown.get("unit", "")))
        parts.append(f'<p>Answer: <span class="blank">&nbsp;</span> {unit}</p>')
    elif not key:
        parts.append('<div class="lines"></div>')
    if key:
        parts.append(answer_html(shown))
    return f"<li>{''.join(parts)}</li>"


def answer_html(shown: dict) -> str:
    kind = shown["type"]
    lines = []
    if kind == "choice":
        correct = next(c for c in shown["choices"] if c.get("correct"))
        lines.append(
            f"<p><strong>Answer: ({shown['letter']})</strong> "
            f"{to_html(correct['text'], inline=True)}</p>"
        )
    elif kind == "numeric":
        unit = html.escape(str(shown.get("unit", "")))
        accepted = tolerance(shown, shown["answer_value"])
        lines.append(
            f"<p><strong>Answer: {shown['answer']} {unit}</strong> (accept ± {accepted:.3g})</p>"
        )
    else:
        lines.append(f"<p><strong>Model answer.</strong></p>{to_html(shown['answer'])}")
        criteria = "".join(f"<li>{to_html(c, inline=True)} (1 point)</li>" for c in shown["rubric"])
        lines.append(f"<p><strong>Rubric.</strong></p><ul>{criteria}</ul>")
    lines.append(f"<p><em>Why:</em> {to_html(shown['explanation'], inline=True)}</p>")
    lines.append(
        f'<p class="meta">Objective: {shown["objective"]} · section {shown.get("section", "")}'
        f" · {shown['id']}</p>"
    )
    return f'<div class="answer">{"".join(lines)}</div>'


def quiz_page(bank: dict, seed: int | None, key: bool) -> str:
    shown = [instance(q, seed) for q in bank["questions"]]
    title = f"{chapter_label(bank)}: {bank['title']}, {'answer key' if key else 'quiz'}"
    body = ['<ol class="questions">', *(question_html(q, key) for q in shown), "</ol>"]
    if key:
        body.append("<h2>Questions by learning objective</h2><table>")
        for slug, sentence in bank["objectives"].items():
            numbers = [str(i) for i, q in enumerate(shown, 1) if q["objective"] == slug]
            body.append(
                f"<tr><td>{html.escape(slug)}</td><td>{to_html(sentence, inline=True)}</td>"
                f"<td>{', '.join(numbers)}</td></tr>"
            )
        body.append("</table>")
    else:
        body.insert(
            0,
            NAME_LINE + "<p>Choose one answer for each multiple-choice question. Give "
            "numeric answers to the precision asked, with their unit.</p>",
        )
    return PAGE.format(
        title=html.escape(title), form=form_line(seed), style=STYLE, body="\n".join(body)
    )


def chapter_label(bank: dict) -> str:
    number = bank["chapter"].removeprefix("ch").lstrip("0")
    return f"Chapter {number}" if number[-1].isdigit() else f"Chapter {number[:-1]}{number[-1]}"


GIFT_SPECIALS = re.compile(r"([~=#{}:])")
GIFT_MATHS = re.compile(r"(\$[^$]*\$)")


def gift_text(text: str) -> str:
    """Markdown as GIFT's [html] text: GIFT's special characters escaped outside the
    maths, which gift-wrapper escapes itself; display maths made inline ($...$)."""
    text = text.replace("$$", "$")
    rendered = MARKDOWN.render(text) if "\n\n" in text.strip() else MARKDOWN.renderInline(text)
    # A line break in GIFT's text would become a <br>: HTML needs none.
    pieces = GIFT_MATHS.split(" ".join(rendered.split()))
    return "".join(p if p.startswith("$") else GIFT_SPECIALS.sub(r"\\\1", p) for p in pieces)


def gift_file(bank: dict, seed: int | None) -> str:
    """The chapter's choice and numeric questions in Moodle's GIFT format, written by
    gift-wrapper; written questions are left to the QTI package and the printed quiz."""
    from gift_wrapper import gift, question, transformer

    after = [gift.process_new_lines, transformer.LatexFormulas(False)]
    after.append(transformer.LatexCommandsWithinText())
    blocks = [f"$CATEGORY: $course$/Large Models/{bank['chapter']}"]
    for shown in (instance(q, seed) for q in bank["questions"]):
        feedback = gift_text(shown["explanation"])
        if shown["type"] == "choice":
            right = next(c for c in shown["choices"] if c.get("correct"))
            wrong = [gift_text(c["text"]) for c in shown["choices"] if c is not right]
            made = question.MultipleChoice(
                shown["id"],
                gift_text(shown["text"]),
                answers={"perfect": gift_text(right["text"]), "wrong": wrong},
                feedback=feedback,
                post_transforms=after,
            )
        elif shown["type"] == "numeric":
            value = shown["answer_value"]
            made = question.Numerical(
                shown["id"],
                gift_text(shown["text"]),
                solution={"value": value, "error": tolerance(shown, value)},
                feedback=feedback,
                post_transforms=after,
            )
        else:
            continue
        blocks.append(made.gift)
    return "\n\n".join(blocks) + "\n"


def text2qti_source(bank: dict, seed: int | None) -> str:
    """The chapter's quiz in text2qti's plain-text format (choice, numeric and essay)."""
    lines = [
        f"Quiz title: {chapter_label(bank)}: {bank['title']}",
        f"Quiz description: {form_line(seed)}",
        "",
    ]
    for number, shown in enumerate((instance(q, seed) for q in bank["questions"]), 1):
        lines += [f"Title: {shown['id']}", "Points: 1"]
        text = shown["text"].replace("$$", "$").strip().splitlines()
        start = f"{number}.  "
        lines.append(start + text[0])
        lines += [" " * len(start) + line if line.strip() else "" for line in text[1:]]
        lines.append(f"... {' '.join(shown['explanation'].split())}")
        if shown["type"] == "choice":
            for letter, choice in zip("abcde", shown["choices"], strict=False):
                mark = "*" if choice.get("correct") else ""
                lines.append(f"{mark}{letter}) {' '.join(choice['text'].split())}")
        elif shown["type"] == "numeric":
            value = shown["answer_value"]
            lines.append(f"=   {value:.6g} +- {tolerance(shown, value):.3g}")
        else:
            lines.append("____")
        lines.append("")
    return "\n".join(lines)


def write_qti(bank: dict, seed: int | None, target: Path) -> None:
    """A QTI package (a zip that Canvas imports) made by text2qti."""
    program = Path(sys.executable).with_name("text2qti")
    with tempfile.TemporaryDirectory() as work:
        source = Path(work) / f"{bank['chapter']}.txt"
        source.write_text(text2qti_source(bank, seed), encoding="utf-8")
        made = subprocess.run(
            [str(program), str(source)],
            cwd=work,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            check=False,
        )
        if made.returncode != 0:
            raise RuntimeError(f"text2qti failed on {bank['chapter']}: {made.stderr[-800:]}")
        shutil.move(source.with_suffix(".zip"), target)


def write_quizzes(out: Path, seed: int | None, pdf: bool = True) -> list[Path]:
    """Per chapter: quiz and key (HTML, PDF), GIFT file and QTI package, into ``out``."""
    quizzes, lms = out / "quizzes", out / "lms"
    for folder in (quizzes, lms):
        folder.mkdir(parents=True, exist_ok=True)
    pages = []
    for path in bank_files():
        bank = load(path)
        chapter = bank["chapter"]
        for key, suffix in ((False, "quiz"), (True, "key")):
            page = quizzes / f"{chapter}-{suffix}.html"
            page.write_text(quiz_page(bank, seed, key), encoding="utf-8")
            pages.append(page)
        (lms / f"{chapter}.gift").write_text(gift_file(bank, seed), encoding="utf-8")
        write_qti(bank, seed, lms / f"{chapter}-qti.zip")
    typeset_and_print(out, pages, pdf)
    return pages


def typeset_and_print(out: Path, pages: list[Path], pdf: bool) -> None:
    """Typeset the pages' maths in Node.js and print each to an A4 PDF beside it."""
    import slides  # scripts/, beside this one

    slides.typeset_pages(out, pages)
    if not pdf:
        return
    import page_weight

    with page_weight.serve(out) as base, page_weight.chromium() as browser:
        tab = browser.new_page()
        for page in pages:
            tab.goto(base + page.relative_to(out).as_posix(), wait_until="networkidle")
            tab.pdf(
                path=page.with_suffix(".pdf"),
                format="A4",
                print_background=True,
                margin={"top": "15mm", "bottom": "15mm", "left": "15mm", "right": "15mm"},
            )


EXAMS = ROOT / "instructor" / "exams"
MARKING = (
    "<h2>Marking</h2><ul>"
    "<li>Multiple choice: full points for the right letter, none otherwise.</li>"
    "<li>Numeric: full points within the stated tolerance; half the points for a correct "
    "method with one arithmetic slip, shown in the working.</li>"
    "<li>Written: one point per rubric criterion met; an answer that reaches a criterion by "
    "another correct route earns it.</li></ul>"
)


def exam_files() -> list[Path]:
    return sorted(EXAMS.glob("*.yaml"))


def bank_questions() -> dict[str, dict]:
    """Every question of the bank by id."""
    return {q["id"]: q for path in bank_files() for q in load(path)["questions"]}


def problem_parts(problem: dict) -> list[dict]:
    """A long problem's parts as questions that share the problem's values."""
    parts = []
    for letter, part in zip("abcdefgh", problem["parts"], strict=False):
        question = {**part, "id": f"{problem['id']}{letter}", "objective": problem["id"]}
        question.setdefault("explanation", "See the model answer.")
        if part["type"] == "numeric":
            question.update(given=problem.get("given", {}), draw=problem.get("draw", {}))
        parts.append(question)
    return parts


def part_points(part: dict) -> float:
    """A written question scores a point per rubric criterion; others their ``points``."""
    return float(len(part["rubric"])) if part["type"] == "written" else float(part["points"])


def exam_problems(exam: dict, name: str, known: dict[str, dict]) -> list[str]:
    """Every way an exam file breaks its format, as messages."""
    found = []
    for section in exam.get("sections", []):
        for qid in section.get("questions", []):
            if qid not in known:
                found.append(f"{name}: {qid} is not in the question bank")
            elif known[qid]["type"] != "written" and "points_each" not in section:
                found.append(f"{name}: section '{section.get('title')}' needs points_each")
        for problem in section.get("problems", []):
            for part in problem_parts(problem):
                where = f"{name}: {part['id']}"
                if part["type"] not in ("numeric", "written"):
                    found.append(f"{where}: a part is numeric or written")
                    continue
                if part["type"] == "numeric" and "points" not in part:
                    found.append(f"{where}: a numeric part needs points")
                found += _kind_problems(part, part["type"], where, random.Random(0))
    chapters = {
        qid.split("-")[0] for s in exam.get("sections", []) for qid in s.get("questions", [])
    }
    missing = set(exam.get("chapters", [])) - chapters
    if missing:
        found.append(f"{name}: no question from {sorted(missing)}")
    return found


def exam_page(exam: dict, seed: int | None, key: bool, known: dict[str, dict]) -> str:
    body, total, count = [], 0.0, 0
    body.append(to_html(exam["instructions"]))
    for section in exam["sections"]:
        body.append(f"<h2>{html.escape(section['title'])}</h2>")
        items = []
        for qid in section.get("questions", []):
            question = known[qid]
            points = part_points({**question, "points": section.get("points_each")})
            total += points
            items.append(question_html(instance(question, seed), key, points))
        for problem in section.get("problems", []):
            parts = problem_parts(problem)
            rng = question_rng(seed, problem["id"])
            values = draw(problem, rng) if seed is not None and problem.get("draw") else None
            given = {k: number(v) for k, v in (values or problem.get("given", {})).items()}
            points = sum(part_points(p) for p in parts)
            total += points
            text = fill(problem["text"], given)
            pieces = [
                f'<span class="points">{points:g} points</span>',
                f"<p><strong>{html.escape(problem['title'])}.</strong></p>",
                to_html(text),
                '<ol class="choices">',
            ]
            for part in parts:
                shown = render(part, given if part["type"] == "numeric" else None)
                if part["type"] == "written":  # render fills a numeric part's text itself
                    shown["text"] = fill(part["text"], given)
                inner = question_html(shown, key, part_points(part))
                if not key and part["type"] == "written":
                    inner = inner.replace('class="lines"', 'class="lines long"')
                pieces.append(inner)
            pieces.append("</ol>")
            items.append(f"<li>{''.join(pieces)}</li>")
        body.append(f'<ol class="questions" start="{count + 1}">{"".join(items)}</ol>')
        count += len(items)
    header = f'<p class="meta">{exam["covers"]} · {exam["minutes"]} minutes · {total:g} points</p>'
    header += "" if key else NAME_LINE
    if key:
        header += MARKING
    title = f"{exam['title']}{', solutions' if key else ''}"
    return PAGE.format(
        title=html.escape(title), form=form_line(seed), style=STYLE, body=header + "\n".join(body)
    )


def write_exams(out: Path, seed: int | None, pdf: bool = True) -> list[Path]:
    """Each sample exam, and its solutions with rubrics, as HTML and PDF in ``out``."""
    folder = out / "exams"
    folder.mkdir(parents=True, exist_ok=True)
    known, pages = bank_questions(), []
    for path in exam_files():
        exam = load(path)
        for key, suffix in ((False, ""), (True, "-solutions")):
            page = folder / f"{path.stem}{suffix}.html"
            page.write_text(exam_page(exam, seed, key, known), encoding="utf-8")
            pages.append(page)
    typeset_and_print(out, pages, pdf)
    return pages


def check(files: list[Path]) -> int:
    total, failed = 0, []
    for path in files:
        bank = load(path)
        found = problems(bank, path.name)
        failed += found
        count = len(bank.get("questions") or [])
        total += count
        kinds = {k: sum(q.get("type") == k for q in bank.get("questions") or []) for k in KINDS}
        summary = ", ".join(f"{n} {k}" for k, n in kinds.items())
        print(f"{path.name}: {count} questions ({summary}){'' if found else ', valid'}")
    if set(files) == set(bank_files()):
        known = bank_questions()
        for path in exam_files():
            found = exam_problems(load(path), path.name, known)
            print(f"{path.name}: {'valid' if not found else 'invalid'}")
            failed += found
    for message in failed:
        print(message, file=sys.stderr)
    print(f"{len(files)} files, {total} questions, {len(failed)} problems")
    return 1 if failed else 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    checking = commands.add_parser("check", help="validate the bank, compute every answer")
    checking.add_argument("files", nargs="*", type=Path)
    for name, about in (("quizzes", "quizzes, keys, GIFT and QTI"), ("exams", "sample exams")):
        command = commands.add_parser(name, help=about)
        command.add_argument("--out", type=Path, default=OUT)
        command.add_argument("--public", action="store_true", help="the book's values, no seed")
        command.add_argument("--seed-file", type=Path, default=SEED_FILE)
        command.add_argument("--no-pdf", action="store_true")
    arguments = parser.parse_args(argv)
    if arguments.command == "check":
        files = [path.resolve() for path in arguments.files] or bank_files()
        return check(files)
    seed = None if arguments.public else seed_from(arguments.seed_file)
    if arguments.command == "quizzes":
        if check(bank_files()):
            return 1
        pages = write_quizzes(arguments.out, seed, pdf=not arguments.no_pdf)
        print(f"{len(pages)} quiz and key pages, GIFT and QTI files in {arguments.out}")
        return 0
    pages = write_exams(arguments.out, seed, pdf=not arguments.no_pdf)
    print(f"{len(pages)} exam pages in {arguments.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
