"""Plain numbers: read one from answer text, and decide whether two numbers are the same answer.

Guarantees:
- Reading is exact: ``"0.5"``, ``"1/2"`` and ``"\\frac{1}{2}"`` all become ``Fraction(1, 2)``; nothing goes
  through binary floats, so ``1.0001`` never equals ``1`` and ``0.5`` never equals ``50``.
- Huge inputs are refused, not computed: more than :data:`MAX_DIGITS` digits or an exponent beyond
  :data:`MAX_EXPONENT` gives ``None`` (the caller falls back to the killable checker or calls it wrong).
- :func:`numbers_equal` rounds only where a rounded decimal gold is involved (see its docstring); with
  ``rounding=False`` it is symmetric, so it also serves majority voting.

Does not: evaluate expressions (``2^{10}``, ``\\sqrt{2}``); that is the checker's job.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

MAX_DIGITS = 60
MAX_EXPONENT = 400
FLOAT_DIGITS = 12
"""A decimal with at least this many significant digits is read as a binary float printed in full
(``0.30000000000000004``): it is compared with a relative tolerance, not digit by digit."""
FLOAT_REL_TOL = Fraction(1, 10**9)
ROUNDED_REL_TOL = Fraction(4, 100)
"""A prediction accepted for a rounded gold is also within 4% of it (TheoremQA's own tolerance); this only
bites for golds of one or two significant digits, where the rounding window is wider."""
PRINTED_REL_TOL = Fraction(1, 10**3)


@dataclass(frozen=True)
class Number:
    """An exactly read number: ``decimals`` is the count of digits after the point as written
    (None for integers and fractions), ``digits`` the significant digits written, ``percent`` True when
    the text carried a percent sign."""

    value: Fraction
    decimals: int | None = None
    digits: int = 0
    percent: bool = False

    @property
    def is_float(self) -> bool:
        return self.decimals is not None and self.digits >= FLOAT_DIGITS

    def __str__(self) -> str:
        v = self.value
        if v.denominator == 1:
            return str(v.numerator)
        if self.decimals is not None:
            return _decimal_string(v, self.decimals)
        return f"{v.numerator}/{v.denominator}"


_DEC = r"[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)?(?:\.\d+)?"
_SCI_RE = re.compile(
    rf"^(?P<m>{_DEC})(?:[eE](?P<e>[+-]?\d+)|\s*(?:\\times|\\cdot|\*|x|×)\s*10\s*(?:\^|\*\*)\s*\{{?(?P<e2>[+-]?\d+)\}}?)?$"
)
_FRAC_RE = re.compile(
    r"^(?P<s>[+-])?\s*(?:\\frac\{(?P<a>\d+)\}\{(?P<b>\d+)\}|\\frac(?P<c>\d)(?P<d>\d)|(?P<e>\d+)\s*/\s*(?P<f>\d+))$"
)
_NEG_FRAC_RE = re.compile(r"^\\frac\{-(?P<a>\d+)\}\{(?P<b>\d+)\}$")


def _decimal_string(value: Fraction, decimals: int) -> str:
    scaled = value * 10**decimals
    n = round(scaled)
    sign = "-" if n < 0 else ""
    s = str(abs(n)).rjust(decimals + 1, "0")
    return f"{sign}{s[:-decimals]}.{s[-decimals:]}" if decimals else f"{sign}{s}"


def parse_number(text: str) -> Number | None:
    """Read ``text`` as one plain number, or None.

    Accepts integers, decimals, thousands separators (``1,000``), scientific notation (``1.5e3``,
    ``1.5 \\times 10^{3}``), fractions (``3/4``, ``\\frac{3}{4}``, ``\\frac34``) and a trailing ``%``.
    Everything else (units, words, expressions) must be removed by the caller first.
    """
    s = text.strip()
    if not s or len(s) > 2 * MAX_DIGITS:
        return None
    percent = False
    if s.endswith(("\\%", "%")):
        percent = True
        s = s[:-2] if s.endswith("\\%") else s[:-1]
        s = s.strip()
    m = _FRAC_RE.match(s) or _NEG_FRAC_RE.match(s)
    if m:
        g = m.groupdict()
        a = g.get("a") or g.get("c") or g.get("e")
        b = g.get("b") or g.get("d") or g.get("f")
        if not a or not b or int(b) == 0 or len(a) + len(b) > MAX_DIGITS:
            return None
        sign = -1 if (g.get("s") == "-" or m.re is _NEG_FRAC_RE) else 1
        value = sign * Fraction(int(a), int(b))
        return Number(value / 100 if percent else value, None, len(a.lstrip("0")) + len(b), percent)
    m = _SCI_RE.match(s)
    if not m or not re.search(r"\d", m.group("m")):
        return None
    mantissa = m.group("m").replace(",", "")
    exp_text = m.group("e") or m.group("e2")
    exponent = int(exp_text) if exp_text else 0
    if abs(exponent) > MAX_EXPONENT:
        return None
    digits_text = mantissa.lstrip("+-").replace(".", "").lstrip("0") or "0"
    if len(digits_text) > MAX_DIGITS:
        return None
    value = Fraction(mantissa) * Fraction(10) ** exponent
    decimals = None
    if "." in mantissa:
        decimals = max(len(mantissa.split(".")[1]) - exponent, 0)
    elif exponent < 0:
        decimals = -exponent
    if percent:
        value /= 100
        decimals = None if decimals is None else decimals + 2
    return Number(value, decimals, len(digits_text), percent)


def _rounds_to(exact: Fraction, rounded: Number) -> bool:
    """True when ``rounded`` (a decimal with at least one digit after the point) is ``exact`` rounded to
    its written precision and within :data:`ROUNDED_REL_TOL` of it: ``0.33`` for 1/3, ``0.9`` for 0.899,
    ``4.17`` for 4.1667 (not ``0.1`` for 0.14: a one-digit gold is no licence for a 40% error)."""
    return _rounding_within(exact, rounded, ROUNDED_REL_TOL)


def _printed_rounding(exact: Fraction, rounded: Number) -> bool:
    """The stricter rule for a printed decimal against an option written with roots or pi (``13.66`` for
    ``5(\\sqrt{3}+1)``): at least 3 significant digits, rounding to the decimals shown, within 1e-3."""
    return rounded.digits >= 3 and _rounding_within(exact, rounded, PRINTED_REL_TOL)


def _rounding_within(exact: Fraction, rounded: Number, rel_tol: float) -> bool:
    """``rounded`` has decimals, is within half a unit of its last decimal of ``exact``, and within ``rel_tol``."""
    d = rounded.decimals
    if d is None or d == 0:
        return False
    diff = abs(exact - rounded.value)
    if diff > Fraction(1, 2 * 10**d):
        return False
    scale = max(abs(exact), abs(rounded.value))
    return scale == 0 or diff / scale <= rel_tol


def _more_precise(pred: Number, gold: Number) -> bool:
    """The prediction shows more than the gold: an exact value (integer or fraction) or more decimals."""
    return pred.decimals is None or (gold.decimals is not None and pred.decimals > gold.decimals)


def may_be_rounded(n: Number) -> bool:
    """A written decimal whose last digit is not 0 (``4.17``, ``583.3333``) may be a rounded value; integers,
    fractions and decimals ending in 0 (``1363.0``) are exact."""
    return n.decimals is not None and n.decimals > 0 and n.value * 10**n.decimals % 10 != 0


def numbers_equal(gold: Number, pred: Number, rounding: bool | str = True) -> tuple[bool, str]:
    """Whether two numbers are the same answer, and the rule that decided.

    - ``exact``: equal as exact rationals (``0.5 == 1/2``, ``1363.0 == 1363``, ``18.00 == 18``).
    - ``float``: one side is a full-precision binary float (>= 12 significant digits, as ``print`` shows
      ``0.1 + 0.2``); equal within a relative 1e-9.
    - ``rounded`` (only with ``rounding=True``, for benchmarks whose golds are rounded, and only when the
      gold itself looks rounded, see :func:`may_be_rounded`): the prediction is more precise than the gold
      (more decimals, or an exact integer or fraction) and rounds to it at the gold's precision (``4.1667``
      or ``25/6`` for gold ``4.17``, ``0.3333`` for ``0.33``, ``0.899`` for ``0.9``; not a tie: ``1.55``
      for ``1.5``), or, since such a gold
      is itself rounded, the gold rounded at the prediction's precision with at least 3 significant digits
      (``583.33`` for ``583.3333``; not ``583``, nor ``0.3`` for ``0.33``, nor a tie: ``920.2`` or
      ``920.3`` for ``920.25``); integers,
      fractions and exact golds are never rounded, so ``2.4`` is not ``2``, ``1.0001`` is not ``1``,
      ``0.333`` is not ``1/3`` and ``0.5`` is not ``50``.  The prediction is also within 4% of the gold
      (``0.14`` is not ``0.1``).
    - ``rounding="printed"``: the multiple-choice rule for a printed decimal (as ``gold``) against an option's
      exact value (as ``pred``): either side the other rounded, at least 3 significant digits, within 1e-3
      (``13.66`` for ``5(\\sqrt3+1)``, not ``13.7``; ``1.33`` is not ``4/3``).
    - ``percent``: a prediction written with ``%`` also matches its number without the sign (``50%`` for
      gold ``50`` and for gold ``0.5``).
    """
    pvals = [(pred.value, False)]
    if pred.percent:
        pvals.append((pred.value * 100, True))
    gvals = [(gold.value, False)]
    if gold.percent:
        gvals.append((gold.value * 100, True))
    for gv, gp in gvals:
        for pv, pp in pvals:
            if gv == pv:
                return True, "percent" if (gp or pp) else "exact"
    if gold.is_float or pred.is_float:
        for gv, _ in gvals:
            for pv, _ in pvals:
                scale = max(abs(gv), abs(pv))
                if scale and abs(gv - pv) / scale <= FLOAT_REL_TOL:
                    return True, "float"
    if (
        rounding == "printed"
        and not pred.percent
        and not gold.percent
        and may_be_rounded(gold)
        and (_printed_rounding(pred.value, gold) or _printed_rounding(gold.value, pred))
    ):
        return True, "rounded"
    if (
        rounding is True
        and not pred.percent
        and not gold.percent
        and may_be_rounded(gold)
        and (
            (_more_precise(pred, gold) and _rounds_to(pred.value, gold)
                and abs(gold.value - pred.value) * 2 * 10**gold.decimals != 1)  # a tie (1.55 for 1.5) is not
            # the gold is itself a rounding (583.3333 of 1750/3): a coarser one of at least 3 significant
            # digits, the gold rounded at its own precision, is the same answer
            or (pred.digits >= 3 and _rounds_to(gold.value, pred)
                and abs(gold.value - pred.value) * 2 * 10 ** (pred.decimals or 0) < 1)  # a tie is not
        )
    ):
        return True, "rounded"
    return False, "number_mismatch"
