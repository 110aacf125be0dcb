"""Answer text normalisation: from what a model writes to a canonical string the comparers can read.

:func:`clean_answer` removes presentation only (math delimiters, ``\\left``/``\\right``, spacing commands,
``\\dfrac``, ``\\text{}`` wrappers, a trailing full stop); :func:`strip_units` removes what surrounds a
number (currency, units, ``x =``) and is used only when the gold is a plain number.

Guarantees: pure string functions, linear time, no evaluation.  Does not: decide equivalence.
"""

from __future__ import annotations

import re

_DELIMS = (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]"))
_SPACING = re.compile(r"(?<!\\)\\[,;: ]|\\q?quad\b|\\displaystyle\b")
_ROOT = re.compile(r"√\s*(\d+(?:\.\d+)?|[A-Za-z])")
_NEG_SPACE = re.compile(r"(?<!\\)\\!")
_DIGIT_GROUP = re.compile(r"(\d),\s*\\!\s*(?=\d{3}(?!\d))")
_LEFT_RIGHT = re.compile(r"\\(?:left|right|big|Big|bigg|Bigg)(?![a-zA-Z])\s*")
_TEXT_CMD = re.compile(r"\\(?:text|textbf|textit|mathrm|mathbf|mbox|operatorname)\s*\{([^{}]*)\}")
_DEGREES = re.compile(r"\^\s*\{\s*\\circ\s*\}|\^\s*\\circ|\\circ|°|\\degree")
_NUM_HEAD = re.compile(
    r"^(?P<num>[+-]?\s*(?:\\frac\{\d+\}\{\d+\}|\d[\d,]*(?:\.\d+)?(?:[eE][+-]?\d+)?(?:\s*/\s*\d+)?|\.\d+)"
    r"(?:\s*(?:\\times|\\cdot|×|x|\*)\s*10\s*(?:\^|\*\*)\s*\{?[+-]?\d+\}?)?\s*%?)(?P<rest>.*)$"
)
_UNIT_WORD = r"[A-Za-z][A-Za-z.']*(?:\^\{?[23]\}?|[²³])?"
_UNIT_TAIL = re.compile(
    rf"^\s*(?:{_UNIT_WORD}(?:(?:\s+|\s*/\s*){_UNIT_WORD})*)?\s*$"
)  # unambiguous: no backtracking blow-up
_VARIABLE_TAIL = re.compile(r"^\s*[xyznkabt]\s*$")
_LABEL = re.compile(r"^[A-Za-z][\w '()-]{0,40}:\s*(?=\S)")
_ERROR_LABEL = re.compile(r"error|exception|warning|traceback|fail|invalid", re.IGNORECASE)
_PERCENT_WORD = re.compile(r"^\s*(?:percent|per\s*cent)\b", re.IGNORECASE)
_CURRENCY = re.compile(r"\\\$|\$|€|£|¥|₹|\bUSD\b|\bRs\.?\s*|\bINR\b", re.IGNORECASE)
_BOLD = re.compile(r"(?:(?<=^)|(?<=[\s:(]))(\*\*|__)([^*_\n]+?)\1(?=$|[\s.,;:!?)])")
_IN_SET = re.compile(r"^[A-Za-z]\s*(?:\\in|∈)\s*")
_LEFT_EQ = re.compile(r"^\s*[A-Za-z](?:_\{?\w+\}?)?(?:\([a-z]\))?\s*=\s*(?!=)")


def strip_delimiters(text: str) -> str:
    s = text.strip()
    changed = True
    while changed and s:
        changed = False
        for left, right in _DELIMS:
            if len(s) >= len(left) + len(right) and s.startswith(left) and s.endswith(right):
                inner = s[len(left) : len(s) - len(right)].strip()
                if left == "$" and "$" in inner:
                    continue
                s, changed = inner, True
                break
    return s


def unbox(text: str) -> str:
    """``\\boxed{X}`` / ``\\fbox{X}`` spanning the whole text -> ``X``."""
    s = text.strip()
    for cmd in ("\\boxed", "\\fbox"):
        if s.startswith(cmd):
            rest = s[len(cmd) :].lstrip()
            if rest.startswith("{") and _matching_brace(rest, 0) == len(rest) - 1:
                return rest[1:-1].strip()
            if rest and not rest.startswith("{"):
                return rest.strip()
    return s


def _matching_brace(s: str, start: int) -> int:
    depth = 0
    for i in range(start, len(s)):
        if s[i] == "{":
            depth += 1
        elif s[i] == "}":
            depth -= 1
            if depth == 0:
                return i
    return -1


def clean_answer(text: str) -> str:
    """Presentation-free form of an answer: ``"$\\dfrac{1}{2}$."`` -> ``"\\frac{1}{2}"``."""
    s = _BOLD.sub(r"\2", text.strip())  # markdown bold, not Python's x**2
    for _ in range(3):
        before = s
        s = s.rstrip().rstrip(".").rstrip()
        s = strip_delimiters(s)
        s = unbox(s)
        if s == before:
            break
    s = s.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac")
    s = _LEFT_RIGHT.sub("", s)
    s = _DIGIT_GROUP.sub(r"\1,", s)  # "11,\! 111,\! 100": thousands groups, not a list
    s = _NEG_SPACE.sub("", s)
    s = _SPACING.sub(" ", s)
    if "\\" in s:  # "~" is a LaTeX space; in plain text it is a negation (formal logic options)
        s = s.replace("~", " ")
    s = re.sub(r"\\frac\s+(\d)\s*(\d)", r"\\frac{\1}{\2}", s)
    s = _TEXT_CMD.sub(lambda m: m.group(1), s)
    s = s.replace("\\{", "{").replace("\\}", "}") if s.startswith("\\{") else s
    s = s.replace("−", "-").replace("–", "-").replace("\u2009", " ").replace("\xa0", " ")
    s = _ROOT.sub(r"\\sqrt{\1}", s).replace("√", "\\sqrt").replace("π", "\\pi ")  # "5(√3 + 1)", "2π"
    s = re.sub(r"\s+", " ", s).strip()
    s = _IN_SET.sub("", s)  # "x \in [2, 5)" -> "[2, 5)"
    s = s.rstrip(".").strip()
    return _python_complex(s)


_UNSIGNED = r"\d+(?:\.\d+)?(?:e[-+]?\d+)?"
_PY_COMPLEX = re.compile(rf"\(?(?:(?P<re>[-+]?{_UNSIGNED})(?P<im>[-+](?:{_UNSIGNED})?)|(?P<pure>[-+]?{_UNSIGNED}))j\)?")


def _python_complex(s: str) -> str:
    """Python's complex repr as mathematics writes it: ``(-1+12j)`` -> ``-1+12i``, ``(2-0.5j)`` -> ``2-0.5i``,
    ``12j`` -> ``12i``."""
    m = _PY_COMPLEX.fullmatch(s)
    if not m:
        return s

    def plain(number: str) -> str:
        value = float(number)
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)

    if m.group("pure"):
        return f"{plain(m.group('pure'))}i"
    imaginary = m.group("im")
    im = plain(imaginary if len(imaginary) > 1 else imaginary + "1")
    return f"{plain(m.group('re'))}{'' if im.startswith('-') else '+'}{im}i"


_SCALES = {"hundred": 10**2, "thousand": 10**3, "million": 10**6, "billion": 10**9}
_SCALE = re.compile(
    r"^([+-]?\d[\d,]*(?:\.\d+)?)\s*(hundred|thousand|million|billion)\b(?P<rest>(?:\s+[A-Za-z]+)*)$",
    re.IGNORECASE,
)
_NUMBER_WORDS = {
    w: str(i)
    for i, w in enumerate(
        [
            "zero",
            "one",
            "two",
            "three",
            "four",
            "five",
            "six",
            "seven",
            "eight",
            "nine",
            "ten",
            "eleven",
            "twelve",
            "thirteen",
            "fourteen",
            "fifteen",
            "sixteen",
            "seventeen",
            "eighteen",
            "nineteen",
            "twenty",
        ]
    )
}


_TENS = {w: 10 * i for i, w in enumerate(("twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty",
                                           "ninety"), 2)}
# a number spelled out at the start, 0 to 99: "seven", "twenty", "twenty-five", "ninety nine"
_SPELLED = re.compile(
    rf"^(?:(?P<tens>{'|'.join(_TENS)})(?:[- ](?P<unit1>{'|'.join(list(_NUMBER_WORDS)[1:10])}))?"
    rf"|(?P<unit>{'|'.join(_NUMBER_WORDS)}))(?![A-Za-z-])",
    re.IGNORECASE,
)
# words that change or qualify the number before them, so a tail holding one is not a unit ("12 and a
# half", "12 squared", "two thirds", "18 is not valid")
_NOT_UNIT_WORDS = frozenset(
    [
        *("thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"),
        *("hundred", "hundreds", "thousand", "thousands", "million", "millions", "billion", "billions"),
        *("trillion", "dozen", "dozens", "half", "halves", "third", "thirds", "fourth", "fourths"),
        *("fifth", "fifths", "sixth", "sixths", "seventh", "sevenths", "eighth", "eighths", "ninth"),
        *("ninths", "tenth", "tenths", "hundredth", "hundredths", "thousandth", "thousandths"),
        *("square-root", "factorial", "percent", "and", "or", "plus", "minus", "is", "are", "was"),
        *("were", "not", "no", "nor", "than", "something"),
    ]
)
# coins after digits ("12 quarters"), a fraction after a number word or before "of" ("three quarters")
_FRACTION_WORDS = frozenset(["quarter", "quarters"])


# one-letter units (metres, grams, seconds, hours, litres, volts, watts, joules, kelvin, newtons); any other
# single letter after a number may be a quantity: i (2i is imaginary), j, e, a variable (3R^2, 5c)
_ONE_LETTER_UNITS = frozenset("mgshlLVWJKN")
_TAIL_WORD = re.compile(r"([A-Za-z][A-Za-z.']*)(\^\{?[23]\}?|[²³])?")


def _unit_tail(rest: str, after_word: bool = False) -> bool:
    """Whether ``rest`` (what follows a number) is only unit, currency or object words (``dollars``,
    ``km/h``, ``eggs``, ``adult tickets``), so the number alone is the answer.  ``after_word``: the number
    was written as a word (``three quarters`` is 3/4, ``3 quarters`` are coins).  A single letter is a unit
    only from :data:`_ONE_LETTER_UNITS` and never raised to a power (``2i``, ``6 e``, ``3R^2``, ``5 m^2`` keep
    their letter); ``pi`` is never a unit."""
    if not _UNIT_TAIL.match(rest):
        return False
    for m in _TAIL_WORD.finditer(rest):
        word = m.group(1).rstrip(".'")
        if len(word) == 1 and (m.group(2) or word not in _ONE_LETTER_UNITS):
            return False
        if word.lower() == "pi":
            return False
    words = re.findall(r"[A-Za-z]+(?:-[A-Za-z]+)?", rest.lower())
    if words and words[0] in ("squared", "cubed"):  # "12 squared" is 144; "12 feet squared" is an area
        return False
    if words and words[0] in _FRACTION_WORDS and (after_word or words[1:2] == ["of"]):
        return False  # "three quarters", "3 quarters of an hour"
    return not any(w in _NOT_UNIT_WORDS or w in _NUMBER_WORDS for w in words)


def strip_units(text: str) -> str:
    """Remove what surrounds a number: ``"x = \\$1,000 dollars"`` -> ``"1,000"``; ``"30^\\circ"`` -> ``"30"``.

    Only for golds that are plain numbers: ``"5 apples and 6 pears"`` keeps its words (two numbers, so it
    cannot be read as one), and so does a tail that changes the value (``"12 and a half"``, ``"12 squared"``,
    ``"two thirds"``, ``"12 dozen"``); ``hundred`` / ``thousand`` / ``million`` / ``billion`` multiply
    (``"12 hundred"`` -> ``"1200"``), ``percent`` reads as ``%``.  Error labels (``"Error: 18 ..."``) stay.
    """
    s = clean_answer(text)
    s = _LEFT_EQ.sub("", s)
    s = _DEGREES.sub("", s)
    s = _CURRENCY.sub("", s)
    s = s.replace("\\%", "%").strip()
    s = re.sub(
        r"^(?:about|approximately|approx\.?|roughly|around|=|≈|\\approx)\s*", "", s, flags=re.IGNORECASE
    )
    label = _LABEL.match(s)
    if label and not _ERROR_LABEL.search(label.group(0)):  # "Total: 18", not "Error: 18 is not valid"
        s = s[label.end() :]
    spelled = _SPELLED.match(s)
    word = spelled is not None
    if spelled:  # "twenty-five dollars" -> "25 dollars"; "two thirds" keeps its tail
        tens, unit = spelled.group("tens"), spelled.group("unit1") or spelled.group("unit")
        value = (_TENS[tens.lower()] if tens else 0) + (int(_NUMBER_WORDS[unit.lower()]) if unit else 0)
        s = str(value) + s[spelled.end() :]
    scaled = _SCALE.match(s)
    if scaled and (not scaled.group("rest") or _unit_tail(scaled.group("rest"), word)):
        from fractions import Fraction

        value = Fraction(scaled.group(1).replace(",", "")) * _SCALES[scaled.group(2).lower()]
        if value.denominator == 1:
            return str(value.numerator)
    s = re.sub(r"\s*\([a-z][a-z -]*\)$", "", s)  # "5 (five)"
    m = _NUM_HEAD.match(s)
    if m:
        rest = m.group("rest")
        percent = _PERCENT_WORD.match(rest)
        if percent and "%" not in m.group("num"):  # "12 percent" reads as "12%"
            rest = rest[percent.end() :]
            if not rest.strip() or _unit_tail(rest, word):
                return m.group("num").strip() + "%"
        if _unit_tail(rest, word) and not _VARIABLE_TAIL.match(rest):
            s = m.group("num")
    return s.strip().rstrip(".").strip()
