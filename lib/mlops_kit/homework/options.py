"""Map an answer to the closest multiple-choice option, the way the course's form works.

The course publishes each homework question with a handful of options and asks learners
to pick the one closest to what they computed. Computed values rarely equal an option
exactly (library versions move RMSEs in the third decimal), so the kit does the same:
parse every option label into a number, take the nearest one, and warn when the choice
is shaky (the value sits nearly halfway between two options, or is far from all of them).

Three kinds of question exist:

* ``count``: whole numbers such as ``"1,054,112"`` (thousands separators allowed);
* ``number``: decimals such as ``"42.59"``;
* ``share``: a fraction between 0 and 1, shown as a percentage (``"98%"`` is 0.98).

Example:
    >>> closest_option(7.6427, ["3.64", "7.64", "11.64", "16.64"], "number").option
    '7.64'
"""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import KitError

KINDS = ("count", "number", "share")

#: the value counts as "nearly halfway" when the two nearest options' distances differ
#: by less than this fraction of the gap between those two options
TIE_FRACTION = 0.1

#: the closest option is "far" when it is further than this many typical option gaps; a
#: far answer is not that option and is never right (the mean 19.93 given for the standard
#: deviation 59.34, with options 10 apart, is far from every option, not 59.34)
FAR_GAPS = 0.5

#: a number within this of the key's value is right whatever the options (issue 6)
VALUE_TOLERANCE = 0.01

#: an answer larger than this in magnitude is not a homework figure but an attempt to game
#: the mapping (the largest real answer, a month's trip count, is millions)
MAX_MAGNITUDE = 1e12

#: a value further than this many option spans from every option maps to none: an answer
#: like -1e308 must not land on the lowest option and score where that one is right
MAX_SPANS = 10

#: strings longer than this are not read as numbers (no 4,001-digit parsing)
MAX_TEXT = 64


class OptionError(KitError):
    """An option label or an option rule that cannot be read."""


@dataclass(frozen=True)
class OptionMatch:
    """The option an answer maps to, with the warnings a learner should see.

    Attributes:
        value: the answer as given (after converting numpy scalars).
        number: the answer as a float, or None when it is not a number.
        option: the label of the closest option, or None (no answer, not a number).
        index: the position of ``option`` in the list, or None.
        distance: how far the value is from that option, in the question's unit.
        warnings: plain sentences, empty when the choice is clear.
        far: the value is further from every option than the spacing rule allows
            (:data:`FAR_GAPS`): ``option`` names the closest one, but the answer is not
            that option and is never right.
    """

    value: Any
    number: float | None
    option: str | None
    index: int | None
    distance: float | None
    warnings: tuple[str, ...] = field(default_factory=tuple)
    far: bool = False

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-friendly dict."""
        return {
            "value": self.value,
            "option": self.option,
            "index": self.index,
            "distance": self.distance,
            "warnings": list(self.warnings),
            "far": self.far,
        }


def check_kind(kind: str) -> str:
    """Return ``kind`` when it is one of :data:`KINDS`, else raise :class:`OptionError`."""
    if kind not in KINDS:
        raise OptionError(
            f"Unknown question kind {kind!r}.",
            f"Use one of {', '.join(KINDS)} in questions.yaml.",
        )
    return kind


def parse_option(label: Any, kind: str) -> float:
    """Return the number an option label stands for.

    ``"1,054,112"`` -> 1054112.0; ``"53%"`` -> 0.53; ``"42.59"`` -> 42.59. A ``share``
    label without a percent sign is read as a fraction already (``"0.98"``).

    Raises:
        OptionError: when the label is not a number.
    """
    check_kind(kind)
    text = str(label).strip().replace(",", "").replace("_", "")
    if len(text) > MAX_TEXT:
        raise OptionError(
            f"The option {text[:20]!r}... is {len(text)} characters long, not a number.",
            "Write options as numbers, e.g. '1,054,112', '42.59' or '98%'.",
        )
    percent = text.endswith("%")
    if percent:
        text = text[:-1].strip()
    try:
        number = float(text)
    except ValueError:
        raise OptionError(
            f"The option {label!r} is not a number.",
            "Write options as numbers, e.g. '1,054,112', '42.59' or '98%'.",
        ) from None
    if percent or (kind == "share" and number > 1):
        number /= 100.0
    return number


def to_number(value: Any, kind: str) -> float | None:
    """Return ``value`` as a float, or None when it is missing or not a usable number.

    Strings are read like option labels (``"98%"`` works), so a learner who types the
    option they chose still gets it mapped. Hostile values give None, never an exception:
    NaN, infinities, magnitudes past :data:`MAX_MAGNITUDE`, integers too large for a float,
    strings longer than :data:`MAX_TEXT`, containers and other objects.
    """
    return _number_or_problem(value, kind)[0]


def answer_problem(value: Any, kind: str) -> str | None:
    """Say why a given answer is invalid (not a usable number), or None when it is fine.

    A missing answer (None) is not invalid, just missing.
    """
    return None if value is None else _number_or_problem(value, kind)[1]


def _number_or_problem(value: Any, kind: str) -> tuple[float | None, str | None]:
    if value is None:
        return None, None
    if isinstance(value, bool):
        return None, "a true/false value is not a number"
    if isinstance(value, str):
        if len(value) > MAX_TEXT:
            return None, f"a text of {len(value)} characters is not a number"
        try:
            number = parse_option(value, kind)
        except OptionError:
            return None, f"{value!r} is not a number"
    elif isinstance(value, int):
        if abs(value) > MAX_MAGNITUDE:
            return None, f"an integer of {_digits(value)} digits is not a plausible answer"
        number = float(value)
    elif isinstance(value, float):
        number = value
    else:
        return None, f"a {type(value).__name__} is not a number"
    if math.isnan(number) or math.isinf(number):
        return None, f"{number!r} is not a finite number"
    if abs(number) > MAX_MAGNITUDE:
        return None, f"{number:.3g} is too large to be an answer"
    return number, None


def _digits(value: int) -> str:
    """The number of decimal digits of a (possibly huge) integer, without str()."""
    return f"{math.floor(math.log10(abs(value))) + 1:,}" if value else "1"


def format_value(value: object) -> str:
    """Show a learner's answer the way a person reads it: ``42.5944``, ``1,154,112``, ``0.9812``.

    Whole numbers get thousands separators, other numbers four decimals at most (enough to tell
    which option they are nearest; the full value stays in grades.csv). Anything else (a string,
    a marker of an invalid answer) is shown as Python writes it, ``repr``, so a hostile value
    cannot pass for a number.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return repr(value)
    if not math.isfinite(value):
        return str(value)
    if float(value).is_integer():
        return f"{int(value):,}"
    shown = f"{value:,.4f}".rstrip("0")
    return shown if not shown.endswith(".") else shown + "0"


def format_option(number: float, kind: str, decimals: int = 2) -> str:
    """Write a number as an option label of the given kind (the inverse of parse_option).

    Counts are whole numbers with thousands separators, shares percentages rounded to
    ``decimals`` digits after the point (0 by default for shares: ``"98%"``).
    """
    check_kind(kind)
    if kind == "count":
        return f"{round(number):,}"
    if kind == "share":
        return f"{number * 100:.{decimals}f}%"
    return f"{number:.{decimals}f}"


def closest_option(value: Any, options: Sequence[str], kind: str) -> OptionMatch:
    """Map ``value`` to the nearest of ``options`` and say when the choice is shaky.

    Args:
        value: what the learner computed (number, numpy scalar, or an option label).
        options: the option labels, as the course shows them.
        kind: ``count``, ``number`` or ``share``.

    Returns:
        An :class:`OptionMatch`; ``option`` is None when the value is missing or not a
        number (with a warning saying so).
    """
    from ..records import to_jsonable

    if not isinstance(value, (int, float, str)) and value is not None:
        try:  # numpy scalars; anything else (lists, dicts, objects) is not an answer
            value = to_jsonable(value)
        except (TypeError, ValueError, OverflowError, RecursionError):
            value = object()
        if not isinstance(value, (int, float, str)) and value is not None:
            kind_name = type(value).__name__ if type(value) is not object else "object"
            problem = f"invalid answer: a {kind_name} is not a number"
            return OptionMatch(None, None, None, None, None, (problem,))
    if value is None:
        return OptionMatch(None, None, None, None, None, ("no answer given",))
    if isinstance(value, str) and value.strip() in options:
        index = list(options).index(value.strip())
        return OptionMatch(value, parse_option(value, kind), options[index], index, 0.0, ())
    number, problem = _number_or_problem(value, kind)
    if number is None:
        shown = value if isinstance(value, (int, float, str)) else None
        if isinstance(value, int) and problem:
            shown = None  # an absurd integer is not kept (nor printed)
        if isinstance(value, str) and len(value) > MAX_TEXT:
            shown = value[:MAX_TEXT] + "..."
        return OptionMatch(shown, None, None, None, None, (f"invalid answer: {problem}",))
    if not options:  # a question asked without options is graded by its value
        return OptionMatch(value, number, None, None, None, ())
    numbers = [parse_option(o, kind) for o in options]
    warnings: list[str] = []
    if kind == "share" and 1 < number <= 100 and all(n <= 1 for n in numbers):
        warnings.append(
            f"{number:g} looks like a percentage: read as {number:g}%; give the share as a "
            f"fraction ({number / 100:g}, not {number:g})"
        )
        number /= 100.0
    distances = [abs(number - n) for n in numbers]
    order = sorted(range(len(options)), key=lambda i: (distances[i], i))
    best = order[0]
    span = max(numbers) - min(numbers) if len(numbers) > 1 else abs(numbers[0])
    if distances[best] > MAX_SPANS * max(span, 1e-9):
        return OptionMatch(
            value,
            number,
            None,
            None,
            distances[best],
            (
                f"invalid answer: {number:.4g} is further than {MAX_SPANS} times the options' "
                f"range from every option, so it maps to none",
            ),
        )
    far = False
    if len(order) > 1:
        second = order[1]
        gap = abs(numbers[best] - numbers[second])
        if gap > 0 and distances[second] - distances[best] < TIE_FRACTION * gap:
            warnings.append(
                f"nearly halfway between {options[best]} and {options[second]}: "
                "check your computation before choosing"
            )
        ordered = sorted(numbers)
        steps = [b - a for a, b in zip(ordered, ordered[1:], strict=False) if b > a]
        spacing = statistics.median(steps) if steps else 0.0
        if spacing > 0 and distances[best] > FAR_GAPS * spacing:
            far = True
            warnings.append(
                f"far from every option (closest is {options[best]}, "
                f"{distances[best]:.4g} away): not counted as {options[best]}; check your "
                "computation"
            )
    return OptionMatch(
        value, number, options[best], best, distances[best], tuple(warnings), far=far
    )


def generate_options(
    value: float,
    *,
    kind: str,
    step: float,
    count: int,
    seed: int | str,
    decimals: int = 2,
    minimum: float | None = None,
    maximum: float | None = None,
) -> tuple[list[str], str]:
    """Make ``count`` options around a computed answer, the right one at a seeded place.

    The rule (documented in homework/README.md): the right option is the answer written
    as a label (rounded to ``decimals``); the others are that rounded number plus whole
    multiples of ``step``; the right option's position is drawn with
    ``random.Random(seed)`` among the positions that keep every option within
    ``[minimum, maximum]``. Same answer and seed, same options.

    Returns:
        ``(labels, right_label)``.

    Raises:
        OptionError: when no position keeps the options in range.
    """
    check_kind(kind)
    right = format_option(value, kind, decimals)
    base = parse_option(right, kind)

    def fits(position: int) -> bool:
        values = [base + (i - position) * step for i in range(count)]
        low_ok = minimum is None or min(values) >= minimum - 1e-12
        high_ok = maximum is None or max(values) <= maximum + 1e-12
        return low_ok and high_ok

    positions = [p for p in range(count) if fits(p)]
    if not positions:
        raise OptionError(
            f"No way to place {count} options {step} apart around {right} within "
            f"[{minimum}, {maximum}].",
            "Use a smaller step or fewer options in the cohort's options rule.",
        )
    position = random.Random(seed).choice(positions)
    labels = [format_option(base + (i - position) * step, kind, decimals) for i in range(count)]
    return labels, labels[position]
