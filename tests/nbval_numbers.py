"""nbval, with numbers compared within tolerances: the output checks that travel.

nbval compares a notebook's fresh outputs with the committed ones character by
character. Another processor, BLAS library or thread count sums in another order,
so the last digits of a result, and the outcome of a training run, move a little.
This pytest plugin (loaded by ``make nbval`` with ``-p nbval_numbers``) keeps every
other character exact and compares numbers by three rules, documented in
tests/README.md:

1. **Exact text.** Text outside numbers must be equal (runs of spaces or tabs next
   to a number may differ, since a wider number shifts a table's columns). So must
   the count of numbers and every integer: shapes, parameter counts, labels.
2. **Floating-point noise** (every cell): a number written with a decimal point or
   an exponent may differ by one unit in its last printed digit (a rounding flip),
   or by at most ``NOISE_ABS`` (round-off residues such as ``8.9e-16`` against
   ``4.4e-16``).
3. **Measured quantities** (only cells that say so in their metadata): a number
   with a decimal point or an exponent may also differ by a relative ``rel`` or an
   absolute ``abs`` amount, and so may integers if the cell adds ``"counts": true``.
   ``{"nbval": {"tolerance": "measured", "reason": "..."}}`` takes ``MEASURED_REL``;
   a chaotic cell names its own ``rel`` and ``abs`` instead. Every such override
   says why.

A fresh output that passes these rules is replaced by the committed one before
nbval's own comparison runs, so nbval still reports every other difference in its
usual format; a failure adds a line saying which number broke which rule.
"""

import math
import re
from collections import defaultdict
from dataclasses import dataclass

NOISE_ABS = 1e-5  # float32 round-off: about a hundred times its machine epsilon
MEASURED_REL = 0.02
METADATA_KEY = "nbval"
ALLOWED_KEYS = {"tolerance", "rel", "abs", "counts", "reason"}

# A number not glued to a word or a dot before it ("fp32", "H100" and "v1.2.3"'s
# later parts stay text); thousands separators are part of the number.
NUMBER = re.compile(
    r"(?<![\w.])[-+]?(?:\d{1,3}(?:,\d{3})+(?!\d)|\d+)(?:\.\d*)?(?:[eE][-+]?\d+)?"
    r"|(?<![\w.])[-+]?\.\d+(?:[eE][-+]?\d+)?"
)
PLACEHOLDER = "\0"


@dataclass(frozen=True)
class Tolerance:
    """How far a fresh number may be from the committed one, beyond exact equality."""

    rel: float = 0.0
    abs: float = 0.0
    counts: bool = False
    reason: str = "floating-point noise"

    @property
    def measured(self) -> bool:
        return self.rel > 0 or self.abs > 0


NOISE = Tolerance()


def tolerance_of(metadata: dict) -> Tolerance:
    """The tolerance a cell asks for in ``metadata["nbval"]``; rule 2 alone if none."""
    spec = metadata.get(METADATA_KEY)
    if spec is None:
        return NOISE
    where = f"cell metadata {METADATA_KEY!r}"
    if not isinstance(spec, dict):
        raise ValueError(f"{where} must be a dict, got {spec!r}")
    unknown = set(spec) - ALLOWED_KEYS
    if unknown:
        raise ValueError(f"{where} has unknown keys {sorted(unknown)}; allowed: {ALLOWED_KEYS}")
    reason = spec.get("reason")
    if not isinstance(reason, str) or len(reason.split()) < 3:
        raise ValueError(f"{where} must give its reason in a sentence, got {reason!r}")
    counts = spec.get("counts", False)
    if not isinstance(counts, bool):
        raise ValueError(f"{where}: counts must be true or false, got {counts!r}")
    if spec.get("tolerance") == "measured":
        if "rel" in spec or "abs" in spec:
            raise ValueError(f"{where}: 'measured' takes rel={MEASURED_REL}; give rel/abs alone")
        return Tolerance(rel=MEASURED_REL, counts=counts, reason=reason)
    if "tolerance" in spec:
        raise ValueError(f"{where}: tolerance must be 'measured', got {spec['tolerance']!r}")
    rel, abs_ = spec.get("rel", 0.0), spec.get("abs", 0.0)
    for name, value in (("rel", rel), ("abs", abs_)):
        if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
            raise ValueError(f"{where}: {name} must be a number >= 0, got {value!r}")
    if rel == 0 and abs_ == 0:
        raise ValueError(f"{where} gives neither rel nor abs; remove it instead")
    return Tolerance(rel=float(rel), abs=float(abs_), counts=counts, reason=reason)


def _value(token: str) -> float:
    return float(token.replace(",", ""))


def _is_integer(token: str) -> bool:
    return not any(c in token for c in ".eE")


def last_digit_unit(token: str) -> float:
    """The value of one unit in the last printed digit: 0.01 for "3.14", 1e-08 for "4.2e-07"."""
    mantissa, _, exponent = token.lower().partition("e")
    decimals = len(mantissa.partition(".")[2])
    return 10.0 ** (int(exponent or 0) - decimals)


def numbers_match(committed: str, fresh: str, tolerance: Tolerance = NOISE) -> str | None:
    """None if two printed numbers agree under the rules, otherwise why not."""
    a, b = _value(committed), _value(fresh)
    if a == b:
        return None
    if math.isnan(a) or math.isnan(b) or math.isinf(a) or math.isinf(b):
        return "differs (not finite)"
    difference = abs(a - b)
    integers = _is_integer(committed) and _is_integer(fresh)
    within = difference <= max(tolerance.rel * max(abs(a), abs(b)), tolerance.abs)
    if tolerance.measured and within and (tolerance.counts or not integers):
        return None
    if integers:
        if tolerance.measured and tolerance.counts:
            return f"is outside the tolerance (rel {tolerance.rel:g}, abs {tolerance.abs:g})"
        return "is an integer, which must match exactly"
    unit = max(last_digit_unit(committed), last_digit_unit(fresh))
    if difference <= unit * (1 + 1e-9) or difference <= NOISE_ABS:
        return None
    if tolerance.measured:
        return f"is outside the tolerance (rel {tolerance.rel:g}, abs {tolerance.abs:g})"
    return f"differs by more than one unit in its last digit ({unit:g}) and than {NOISE_ABS:g}"


def _skeleton(text: str) -> tuple[str, list[str]]:
    tokens = NUMBER.findall(text)
    skeleton = NUMBER.sub(PLACEHOLDER, text)
    skeleton = re.sub(rf"[ \t]*{PLACEHOLDER}[ \t]*", PLACEHOLDER, skeleton)
    return skeleton, tokens


def texts_match(committed: str, fresh: str, tolerance: Tolerance = NOISE) -> str | None:
    """None if two outputs agree under the rules, otherwise the first disagreement."""
    if committed == fresh:
        return None
    skeleton_a, numbers_a = _skeleton(committed)
    skeleton_b, numbers_b = _skeleton(fresh)
    if skeleton_a != skeleton_b:
        return "the text around the numbers differs, or their count"
    for index, (a, b) in enumerate(zip(numbers_a, numbers_b, strict=True)):
        why = numbers_match(a, b, tolerance)
        if why:
            return f"number {index + 1}: committed {a}, now {b}: {why} [{tolerance.reason}]"
    return None


def _text_slots(outputs: list, skip: tuple) -> dict[str, list[tuple[dict, str]]]:
    """Where each output's compared text lives, grouped by key in order, as nbval groups it."""
    slots = defaultdict(list)
    for output in outputs:
        if output.get("output_type") == "stream":
            slots[output["name"]].append((output, "text"))
        for mime, value in output.get("data", {}).items():
            if mime not in skip and isinstance(value, str):
                slots[mime].append((output["data"], mime))
    return slots


def accept_tolerated(item, fresh: list, committed: list, skip: tuple) -> list[str]:
    """Replace each fresh text that agrees with its committed one under the rules by it.

    ``item`` is nbval's test item for one cell. Returns the reasons for the texts that
    disagree, for nbval's failure report.
    """
    tolerance = tolerance_of(item.cell.metadata)
    fresh_slots, committed_slots = _text_slots(fresh, skip), _text_slots(committed, skip)
    notes = []
    for key, pairs in committed_slots.items():
        # Unequal counts of outputs are left to nbval, which reports them itself.
        for (c_holder, c_field), (f_holder, f_field) in zip(
            pairs, fresh_slots.get(key, []), strict=False
        ):
            c_text, f_text = item.sanitize(c_holder[c_field]), item.sanitize(f_holder[f_field])
            why = texts_match(c_text, f_text, tolerance)
            if why is None:
                f_holder[f_field] = c_holder[c_field]
            else:
                notes.append(f"nbval_numbers, {key}: {why}")
    return notes


def pytest_configure(config) -> None:
    from nbval.plugin import IPyNbCell

    if getattr(IPyNbCell.compare_outputs, "tolerant", False):
        return
    exact = IPyNbCell.compare_outputs

    def compare_outputs(self, test, ref, skip_compare=None):
        skip = skip_compare or self.parent.skip_compare
        notes = accept_tolerated(self, test, ref, skip)
        if exact(self, test, ref, skip_compare):
            return True
        self.comparison_traceback.extend(notes)
        return False

    compare_outputs.tolerant = True
    IPyNbCell.compare_outputs = compare_outputs
