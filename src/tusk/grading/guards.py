"""Guards against answers that would make symbolic work explode: power towers (``5^{5^{5^5}}``), powers whose
exponent is itself huge (``9^(9^9)``), exponents of 5+ digits and factorials of 4+ digit numbers.

No benchmark asks for such answers, so the strict grader refuses them (rule ``too_heavy``) before any
symbolic check; the checker's hard time limit backs this up for everything the guard does not catch.
Guarantees: pure string scanning, linear in the input (nesting is explored at most 50 exponents wide).
"""

from __future__ import annotations

import math
import re

_POWER = re.compile(r"\^|\*\*")
_ATOM = re.compile(r"\s*(\\[A-Za-z]+|[A-Za-z0-9.]+)")
_HUGE_FACTORIAL = re.compile(r"(?:\d{4,}|[})])\s*!")
_CLOSING = {"{": "}", "(": ")"}


def _exponents(text: str) -> list[str]:
    """The exponent of every top-level power in ``text`` (a braced or parenthesised group, or one atom)."""
    out, i = [], 0
    while True:
        m = _POWER.search(text, i)
        if not m:
            return out
        j = m.end()
        while j < len(text) and text[j] == " ":
            j += 1
        if j < len(text) and text[j] in _CLOSING:
            depth, k = 0, j
            while k < len(text):
                if text[k] in "{(":
                    depth += 1
                elif text[k] in "})":
                    depth -= 1
                    if depth == 0:
                        break
                k += 1
            out.append(text[j + 1 : k])
            i = k + 1
        else:
            atom = _ATOM.match(text, j)
            if not atom:
                out.append("")
                i = j + 1
                continue
            k = atom.end()
            chained = _POWER.match(text, k)  # a^b^c: the exponent of a is b^c
            if chained:
                rest = _exponents(text[k:])
                out.append(text[j:k] + "^" + (f"{{{rest[0]}}}" if rest else ""))
                return out
            out.append(atom.group(1))
            i = k


def _power_depth(text: str, budget: int = 50) -> int:
    exps = _exponents(text)[:budget]
    return 1 + max((_power_depth(e, budget) for e in exps), default=0) if exps else 0


def _digits_of_power(exponent: str) -> float:
    """log10 of a purely numeric exponent such as ``9^9`` or ``2^{30}`` (0 when it is not numeric)."""
    m = re.fullmatch(r"\s*(\d+)\s*(?:\^|\*\*)\s*[{(]?\s*(\d+)\s*[})]?\s*", exponent)
    if not m:
        return 0.0
    return int(m.group(2)) * math.log10(max(int(m.group(1)), 1))


def too_heavy(text: str) -> bool:
    """Power towers (``5^{5^{5^5}}``), powers whose exponent is itself huge (``9^(9^9)``), exponents of 5+
    digits and factorials of 4+ digit numbers: answers no benchmark asks for, refused before any symbolic
    work (the checker's time limit backs this up for everything else)."""
    if "^" not in text and "**" not in text:
        return bool(_HUGE_FACTORIAL.search(text))
    if _HUGE_FACTORIAL.search(text) or _power_depth(text) >= 3:
        return True
    for exponent in _exponents(text):
        e = exponent.strip()
        if re.fullmatch(r"[+-]?\d{5,}", e) or _digits_of_power(e) > 4:
            return True
    return False
