"""The shape of an answer: a boolean, a matrix, a bracketed or bare list (tuple, interval, set), an equation,
or a single expression (a leaf).  The strict grader compares shapes first and leaves last, so that
``(2,5)`` can never equal ``[2,5)`` and swapped matrix entries are never the same matrix.

Guarantees: pure string parsing, linear in the input, never raises.  Does not: evaluate anything.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_OPEN, _CLOSE = "([{", ")]}"
_MATRIX = re.compile(r"^\\begin\{([pbvBV]?matrix|array)\}(?:\{[^{}]*\})?(.*)\\end\{\1\}$", re.DOTALL)
_SYMPY_MATRIX = re.compile(r"^(?:Matrix|ImmutableMatrix)\(\[(.*)\]\)$", re.DOTALL)
_BOOL = {"true": True, "false": False, "yes": True, "no": False, "correct": True, "incorrect": False}


@dataclass(frozen=True)
class Shape:
    """``kind`` is leaf | bool | matrix | seq | eq.

    leaf: ``text``.  bool: ``value``.  matrix: ``rows`` of element texts.  seq: ``items``, with the
    brackets ``open``/``close`` as written ("" when bare).  eq: ``items == (lhs, rhs)``.
    """

    kind: str
    text: str = ""
    value: bool | None = None
    items: tuple[str, ...] = ()
    rows: tuple[tuple[str, ...], ...] = ()
    open: str = ""
    close: str = ""


def split_top(text: str, sep: str = ",") -> list[str]:
    """Split on ``sep`` outside any brackets or braces."""
    parts, depth, cur = [], 0, []
    i = 0
    while i < len(text):
        c = text[i]
        if c in _OPEN:
            depth += 1
        elif c in _CLOSE:
            depth = max(depth - 1, 0)
        if depth == 0 and text.startswith(sep, i):
            parts.append("".join(cur))
            cur = []
            i += len(sep)
            continue
        cur.append(c)
        i += 1
    parts.append("".join(cur))
    return [p.strip() for p in parts]


def _outer_brackets(s: str) -> tuple[str, str, str] | None:
    """``"[2,5)"`` -> ("[", "2,5", ")") when the first and last characters bracket the whole text."""
    if len(s) < 2 or s[0] not in _OPEN or s[-1] not in _CLOSE:
        return None
    depth = 0
    for i, c in enumerate(s):
        if c in _OPEN:
            depth += 1
        elif c in _CLOSE:
            depth -= 1
            if depth == 0 and i != len(s) - 1:
                return None
    return s[0], s[1:-1].strip(), s[-1]


def shape_of(text: str) -> Shape:
    """Read the outer shape of a cleaned answer (see :func:`tusk.grading.normalize.clean_answer`)."""
    s = text.strip()
    low = s.lower().rstrip(".")
    if low in _BOOL:
        return Shape("bool", text=s, value=_BOOL[low])
    m = _MATRIX.match(s)
    if m:
        body = m.group(2).strip()
        rows = tuple(
            tuple(cell.strip() for cell in row.split("&")) for row in re.split(r"\\\\", body) if row.strip()
        )
        return Shape("matrix", text=s, rows=rows)
    m = _SYMPY_MATRIX.match(s)
    if m:  # sympy's Matrix([[1, 2], [3, 4]]) as printed by a program
        rows = tuple(tuple(split_top(r.strip()[1:-1])) for r in split_top(m.group(1)) if r.strip())
        if rows and all(rows):
            return Shape("matrix", text=s, rows=rows)
    brackets = _outer_brackets(s)
    if brackets is not None:
        left, inner, right = brackets
        items = split_top(inner) if inner else []
        if len(items) > 1 or left + right in ("[]", "{}"):
            return Shape("seq", text=s, items=tuple(i for i in items if i), open=left, close=right)
    items = split_top(s)
    if len(items) > 1 and all(items):
        return Shape("seq", text=s, items=tuple(items))
    eq = split_top(s, "=")
    if len(eq) == 2 and eq[0] and eq[1] and not s.count("==") and "\\le" not in s and "\\ge" not in s:
        return Shape("eq", text=s, items=(eq[0], eq[1]))
    if re.fullmatch(r"[+-]?\d+(?:\.\d+)?(?:\s+[+-]?\d+(?:\.\d+)?)+", s):  # "12 3 0"
        return Shape("seq", text=s, items=tuple(s.split()))
    return Shape("leaf", text=s)


def is_variable(text: str) -> bool:
    """A single variable name such as ``x``, ``y``, ``k``, ``x_1``, ``f(x)``: the left side of ``x = 5``."""
    return bool(re.fullmatch(r"\\?[A-Za-z]+(?:_\{?\w+\}?)?(?:\([a-z]\))?", text.strip()))
