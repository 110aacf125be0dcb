"""Numeric values of multiple-choice options, and the option closest to a computed number.

Used by verification when a config allows a tolerance for multiple-choice sources whose options are rounded
(MathQA: a program printing 0.4375 for the option "0.44").  Readable option forms: ``1,200``, ``rs . 400``,
``12 %``, ``- 25``, ``1 / 2``, ``13 1 / 2`` (mixed number), ``4 : 5`` (ratio, read as 4/5).  Options with
letters mixed into the number (``4 π``, ``x + 2``) have no value and never match.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from tusk.prompts import split_choice

_NUM = r"\d+(?:\.\d+)?|\.\d+"
_MIXED = re.compile(rf"^(-?)\s*({_NUM})\s+({_NUM})\s*/\s*({_NUM})$")
_FRACTION = re.compile(rf"^(-?)\s*({_NUM})\s*[/:]\s*({_NUM})$")
_PLAIN = re.compile(rf"^(-?)\s*({_NUM})$")
_NOISE = re.compile(r"\b(?:rs|inr|usd|dollars?|cents?|km|kmph|kg|cm|m|sq|units?|hours?|hrs?|minutes?|min|"
                    r"seconds?|sec|days?|years?|months?|weeks?|meters?|metres?|litres?|liters?|mph|percent|"
                    r"gm|grams?|mins?)\b\.?|[$%€£₹]")


def option_value(text: str) -> float | None:
    """The number an option states, or None when it is not a plain number, fraction, ratio or mixed number."""
    t = _NOISE.sub(" ", text.lower().replace(",", "")).strip(" .")
    t = re.sub(r"\s+", " ", t)
    try:
        if m := _MIXED.match(t):
            sign = -1 if m.group(1) else 1
            return sign * (float(m.group(2)) + float(m.group(3)) / float(m.group(4)))
        if m := _FRACTION.match(t):
            sign = -1 if m.group(1) else 1
            return sign * float(m.group(2)) / float(m.group(3))
        if m := _PLAIN.match(t):
            return (-1 if m.group(1) else 1) * float(m.group(2))
    except ZeroDivisionError:
        return None
    return None


def closest_choice(value: float, choices: Sequence[str], tolerance: float) -> str | None:
    """The letter of the only option within ``tolerance`` (relative) of ``value``.

    None when no option is close enough, or when more than one is (ambiguous: no guess).
    """
    if not math.isfinite(value):
        return None
    scored = []
    for choice in choices:
        letter, text = split_choice(choice)
        v = option_value(text)
        if v is None:
            continue
        error = abs(value - v) / max(abs(v), 1e-9)
        if error <= tolerance:
            scored.append((error, letter))
    return scored[0][1] if len(scored) == 1 else None
