"""Answer extraction for the strict grader: from a model's text (CoT) or a program's stdout (PoT) to the
answer span that the judge compares.

Order for CoT text: the last answer marker ("The answer is", "final answer is", "Answer:", "The correct
option is", "####") or the last ``\\boxed{}`` (nested braces), whichever comes later; a marker followed by
a ``\\boxed{}`` takes the boxed content.  A last marker cut off by the token limit in a looping
generation (``... The answer is 18.\\n\\nThe answer is 18.\\n\\nThe answer is 1``: its span ends the text,
unpunctuated, and an earlier span stated at least twice continues it) gives way to that repeated span.
The span runs to the end of its sentence (a full stop after ``Rs``, ``in``, ``ft`` and similar
abbreviations does not end it; an exclamation mark that ends a sentence does, so ``The answer is 18!`` is
18, while ``\\boxed{5!}`` and ``$5!$`` are factorials; a ``$`` followed by a digit with no closing ``$`` on
its line is currency, not math, so ``The answer is $18!`` is ``$18``), markdown bold around it is dropped.
Without a marker or box: for multiple choice the last letter written as an option (``(B)``,
``option B``), then the last number; otherwise the last number (Unicode minus read as ``-``; a number
inside a fraction, exponent or subscript gives the whole term: ``\\frac{3}{2}``, ``x^5``).

For PoT stdout: the stripped output when it is one line; otherwise an answer marker if printed, else the
last non-empty line.

Guarantees: linear-time regular expressions, input capped at :data:`MAX_RESPONSE_CHARS` (the tail is kept),
never raises on any string.  Does not: decide correctness or normalise the span beyond trimming.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from tusk.types import Mode

MAX_RESPONSE_CHARS = 20_000

_MARKER = re.compile(
    r"(?:the\s+)?(?:final\s+)?answer\s+(?:is|would\s+be|should\s+be)\s*(?:[:：]\s*)?|(?:final\s+)?answer\s*[:：]\s*"
    r"|(?:the\s+)?(?:correct\s+)?(?:option|choice)\s+is\s*(?:[:：]\s*)?|####\s*",
    re.IGNORECASE,
)
_BOXED = re.compile(r"\\(?:boxed|fbox)\s*\{")
_NUMBER = re.compile(r"[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:/\d+)?|[+-]?\.\d+")
_LETTER_AT_END = re.compile(
    r"(?:\(([A-Ea-e])\)|\b(?:option|choice|answer)\s*:?\s*\(?([A-E])\b\)?|^\s*([A-E])\s*[).:]?\s*$)",
    re.MULTILINE,
)
_ABBREVIATION = re.compile(
    r"(?:^|[\s(])(?:rs|mr|mrs|ms|dr|st|no|vs|approx|sq|cu|in|ft|yd|mi|hr|hrs|min|sec|lb|lbs|oz|etc)$",
    re.IGNORECASE,
)
# what follows an exclamation mark that ends a sentence: the end of the text, a line break, or a new sentence
_EXCLAMATION = re.compile(r"[ \t]*(?:$|\n|[A-Z(\"'])")
_SENTENCE_END = re.compile(r"(?<![\d\\])\.(?:\s|$)|\n")


def last_boxed(text: str) -> tuple[int, str] | None:
    """Position and content of the last complete ``\\boxed{...}`` (nested braces kept), or None.

    One pass over the text pairs every brace with a stack, so unclosed boxes cost nothing extra."""
    starts = [m for m in _BOXED.finditer(text)]
    if not starts:
        return None
    closing: dict[int, int] = {}
    stack: list[int] = []
    for i, c in enumerate(text):
        if c == "{":
            stack.append(i)
        elif c == "}" and stack:
            closing[stack.pop()] = i
    for m in reversed(starts):
        end = closing.get(m.end() - 1)
        if end is not None:
            return m.start(), text[m.end() : end].strip()
    return None


def _span_after_marker(text: str, start: int) -> str:
    return _span_after_marker_raw(text, start).strip().strip("*_").strip()  # markdown **bold** around it


def _span_after_marker_raw(text: str, start: int) -> str:
    rest = text[start:].lstrip(" \t*_")
    boxed = last_boxed(rest[:400])
    if boxed is not None and boxed[0] < 40:
        return boxed[1]
    rest = rest.lstrip("\n ")
    if rest.startswith("$$"):
        end = rest.find("$$", 2)
        if end > 0:
            return rest[2:end].strip()
    if rest.startswith("\\["):
        end = rest.find("\\]")
        if end > 0:
            return rest[2:end].strip()
    # cut at the end of the sentence, but not inside $...$ math
    out, in_math, i = [], False, 0
    while i < len(rest):
        c = rest[i]
        if c == "$" and (in_math or not _is_currency(rest, i)):
            in_math = not in_math
        elif not in_math and (
            c == "\n"
            or (c == "!" and _EXCLAMATION.match(rest, i + 1) is not None)  # "18!" ends a sentence; "5! = 120"
            or (
                c == "."
                and (i + 1 == len(rest) or rest[i + 1].isspace())
                and not (i > 0 and rest[i - 1] == "\\")
                and not _ABBREVIATION.search("".join(out[-8:]))
            )
        ):
            break
        out.append(c)
        i += 1
    return "".join(out).strip()


def _is_currency(text: str, i: int) -> bool:
    """Whether the ``$`` at ``text[i]`` is a currency sign: a digit follows it and no ``$`` closes it on
    its line (``$18!``, ``\\$0.50``), so it opens no math."""
    if i + 1 >= len(text) or not text[i + 1].isdigit():
        return False
    closing = text.find("$", i + 1)  # the search stops at the next "$": linear over the whole span
    return closing < 0 or "\n" in text[i + 1 : closing]


def answer_line(text: str) -> str | None:
    """The rest of the line after the last answer marker (not cut at full stops), or None."""
    marker = _last_marker((text or "")[-MAX_RESPONSE_CHARS:])
    if marker is None:
        return None
    rest = text[-MAX_RESPONSE_CHARS:][marker.end() :].lstrip(" \t*_")
    return rest.split("\n", 1)[0].strip() or None


def _last_marker(text: str) -> re.Match[str] | None:
    last = None
    for m in _MARKER.finditer(text):
        last = m
    return last


def extract_cot(text: str, multiple_choice: bool = False) -> str | None:
    """The answer span of a chain-of-thought response, or None when it states no answer."""
    text = (text or "")[-MAX_RESPONSE_CHARS:]
    if not text.strip():
        return None
    marker = _last_marker(text)
    boxed = last_boxed(text)
    if marker is not None and (boxed is None or marker.start() > boxed[0]):
        span = _span_after_marker(text, marker.end())
        if span:
            return _complete_span(text, marker, span)
    if boxed is not None and boxed[1]:
        return boxed[1]
    if multiple_choice:
        letters = [next(g for g in m.groups() if g) for m in _LETTER_AT_END.finditer(text)]
        if letters:
            return f"({letters[-1].upper()})"
    return last_number(text)


def _complete_span(text: str, marker: re.Match[str], span: str) -> str:
    """A generation that repeats its answer until the token limit cuts the last repeat short ("The answer is
    18.\n\nThe answer is 18.\n\nThe answer is 1"): when the last marker's span runs to the very end of the
    text without closing punctuation and an earlier span that continues it (``18`` after ``1``) was stated
    at least twice (a loop), the latest such earlier span; otherwise ``span``.  A single earlier answer
    that the final one happens to start ("The answer is 12. ... 12 - 11 = 1. The answer is 1") is a
    correction, not a loop: the final answer stands."""
    if text[marker.end() :].strip().strip("*_").strip() != span:
        return span  # something (a full stop, a new line of text) closes the span: it is complete
    earlier_spans = [_span_after_marker(text, m.end()) for m in _MARKER.finditer(text, 0, marker.start())]
    found = span
    for earlier in earlier_spans:
        if len(earlier) > len(span) and earlier.startswith(span) and earlier_spans.count(earlier) >= 2:
            found = earlier
    return found


def last_number(text: str) -> str | None:
    """The last number of ``text``; when the text ends with a math span holding it, that span (its last
    ``=`` side: ``$x = -5$`` -> ``-5``, ``$x^2 + 1$`` -> ``x^2 + 1``); when that number sits inside a fraction, an exponent or a subscript
    (``$\\frac{3}{2}$``, ``x^5``, ``a_{10}``), the whole term around it (``\\frac{3}{2}``, ``x^5``)."""
    text = text.replace("\u2212", "-")  # Unicode minus
    last = None
    for last in _NUMBER.finditer(text):
        pass
    if last is None:
        return None
    start, end = last.span()
    span = _final_math_span(text)
    if span and span[0] <= start and end <= span[1]:  # "... is $x^2 + 1$." -> "x^2 + 1"
        side = text[span[0] : span[1]].split("=")[-1].strip()
        if side:
            return side
    before = text[max(0, start - 8) : start].rstrip()
    after = text[end : end + 1]
    if not (before.endswith(("^", "_", "{", "^{", "_{", "\\frac")) or after == "}"):
        return last.group(0)
    # the enclosing term: the run of non-space text around the number, math delimiters and trailing
    # punctuation removed
    left = start
    while left > 0 and not text[left - 1].isspace():
        left -= 1
    right = end
    while right < len(text) and not text[right].isspace():
        right += 1
    term = text[left:right].strip("$").rstrip(".,;:!?").strip("$")
    term = term.removeprefix("\\(").removeprefix("\\[").removesuffix("\\)").removesuffix("\\]")
    return term or None


def extract_pot(
    stdout: str, multiple_choice: bool = False, numeric: bool = False, options: Sequence[str] = ()
) -> str | None:
    """The answer printed by a program, or None when it printed nothing or nothing that is an answer.

    ``None`` lines at the end (a ``print(solution())`` whose function forgot ``return``, after it printed
    the answer itself) are skipped; an answer without content (see :func:`is_empty_answer`) gives None, so
    hybrid decoding falls back to CoT.  For ``numeric`` benchmarks a last line without a digit (``Done``)
    gives way to the last line that has one.  numpy / sympy / fractions reprs are read as plain values
    (``np.float64(18.0)`` -> ``18.0``, ``Fraction(1, 2)`` -> ``1/2``, ``2*I`` -> ``2*i``).  ``options`` (a
    multiple-choice problem's option texts and letters): a printed option (``None``, ``Cannot be
    determined``) is an answer, never "no answer"."""
    out = _plain_reprs((stdout or "")[-MAX_RESPONSE_CHARS:]).strip()
    if not out:
        return None
    lines = [line.strip() for line in out.splitlines() if line.strip()]
    while len(lines) > 1 and _NONE_LINE.fullmatch(lines[-1]):
        lines.pop()
    if len(lines) > 1 and numeric and not re.search(r"\d", lines[-1]) and not _ERROR_LINE.match(lines[-1]):
        with_digit = [line for line in lines if re.search(r"\d", line)]
        if with_digit:
            lines = lines[: lines.index(with_digit[-1]) + 1]
    out = "\n".join(lines)
    return _content(_pot_span(lines, out), numeric, options)


def _pot_span(lines: list[str], out: str) -> str:
    if len(lines) == 1:
        marker = _last_marker(lines[0])
        if marker is not None:
            return _span_after_marker(lines[0], marker.end()) or lines[0]
        return _sole_number_of_sentence(lines[0]) or lines[0]
    marker = _last_marker(out)
    if marker is not None:
        span = _span_after_marker(out, marker.end())
        if span:
            return span
    if lines[-1].endswith("]]") and not lines[-1].startswith("[[") and _NUMPY_ROW.fullmatch(lines[-1]):
        rows = []  # numpy prints a matrix over several lines: "[[1 2]" / " [3 4]]"
        for line in reversed(lines):
            if not _NUMPY_ROW.fullmatch(line):
                break
            rows.insert(0, line)
            if line.startswith("[["):
                return _numpy_matrix(rows)
    return lines[-1]


_NONE_LINE = re.compile(r"None|null", re.IGNORECASE)
_EMPTY_VALUE = re.compile(
    r"none|null|nil|[+-]?nan|[+-]?inf(?:inity)?|[+-]?oo|zoo|emptyset|set\(\)|frozenset\(\)|dict\(\)|list\(\)"
    r"|tuple\(\)|array\(\[\]\)|matrix\(\[\]\)|''|\"\"|∅|undefined|n/a",
    re.IGNORECASE,
)
_ERROR_LINE = re.compile(
    r"(?:[A-Za-z_.]*(?:error|exception)\b|traceback\b|warning\b|no\s+(?:real\s+|valid\s+|integer\s+|positive\s+)?"
    r"(?:solutions?|answer|result)s?\b|cannot\b|can't\b|could\s+not\b|unable\b|invalid\b)",
    re.IGNORECASE,
)


def is_empty_answer(text: str | None, numeric: bool = False, options: Sequence[str] = ()) -> bool:
    """Whether a printed answer holds nothing to grade: ``None``, ``nan``, ``inf``, an empty container
    (``[]``, ``{}``, ``()``, ``set()``, ``EmptySet``) or one of only such values (``[None]``), an error or
    failure line (``Error: ...``, ``Traceback ...``, ``No solution``); for numeric benchmarks also any
    text without a digit.  A text equal (case, spaces and a final full stop aside) to one of ``options``
    (a multiple-choice problem's option texts and letters: ``None``, ``Cannot be determined``) is never
    empty."""
    s = (text or "").strip().strip("'\"").strip()
    if s and options and _option_key(s) in {_option_key(o) for o in options}:
        return False
    if not s or _ERROR_LINE.match(s):
        return True
    if numeric and not re.search(r"\d", s):
        return True
    inner = s
    while len(inner) >= 2 and inner[0] + inner[-1] in ("[]", "()", "{}"):
        inner = inner[1:-1].strip()
    items = [i.strip().strip("'\"") for i in inner.split(",")] if inner else []
    return all(not i or _EMPTY_VALUE.fullmatch(i) for i in items)


def _option_key(text: str) -> str:
    return " ".join(str(text).split()).strip("'\"").rstrip(".").strip().casefold()


def _content(span: str | None, numeric: bool, options: Sequence[str] = ()) -> str | None:
    return None if span is None or is_empty_answer(span, numeric, options) else span


_NUMPY_ROW = re.compile(r"\[*\s*[-+0-9.eE ]+\]*")


def _numpy_matrix(rows: list[str]) -> str:
    inner = " ".join(rows).strip()[1:-1]  # drop the outer [ ]
    found = re.findall(r"\[([^\[\]]*)\]", inner)
    return "Matrix([" + ", ".join("[" + ", ".join(r.split()) + "]" for r in found) + "])"  # read as sympy's


_NP_SCALAR = re.compile(r"\bnp\.(?:float|int|uint|complex|bool_?)\d*\(([^()]*)\)")
_FRACTION_REPR = re.compile(r"\b(?:Fraction|Rational)\(\s*([+-]?\d+)\s*,\s*([+-]?\d+)\s*\)")
_ARRAY_REPR = re.compile(r"\barray\((\[.*?\])(?:\s*,\s*dtype=[\w.]+)?\)", re.DOTALL)
_INTERVAL_REPR = re.compile(
    r"\bInterval(?:\.(?P<kind>Ropen|Lopen|open))?\(\s*(?P<a>[^(),]+?)\s*,\s*(?P<b>[^(),]+?)\s*"
    r"(?:,\s*(?P<lo>True|False)\s*,\s*(?P<ro>True|False)\s*)?\)"
)
_SYMPY_I = re.compile(r"^[\d\s.+\-*/()I]*\bI\b[\d\s.+\-*/()I]*$")


def _interval(m: re.Match[str]) -> str:
    kind, lo, ro = m.group("kind"), m.group("lo") == "True", m.group("ro") == "True"
    left = "(" if kind in ("Lopen", "open") or lo else "["
    right = ")" if kind in ("Ropen", "open") or ro else "]"
    a, b = (x.replace("-oo", "-\\infty").replace("oo", "\\infty") for x in (m.group("a"), m.group("b")))
    return f"{left}{a}, {b}{right}"


def _plain_reprs(out: str) -> str:
    """Python reprs as the values they stand for: ``np.float64(18.0)`` -> ``18.0``, ``Fraction(1, 2)`` ->
    ``1/2``, ``array([18.])`` -> ``[18.]``, ``Interval.Ropen(2, 5)`` -> ``[2, 5)``, ``2*I`` -> ``2*i``."""
    if "(" in out:
        out = _NP_SCALAR.sub(r"\1", out)
        out = _FRACTION_REPR.sub(r"\1/\2", out)
        out = _ARRAY_REPR.sub(r"\1", out)
        out = _INTERVAL_REPR.sub(_interval, out)
    if "I" in out:
        out = "\n".join(
            re.sub(r"\bI\b", "i", line) if _SYMPY_I.fullmatch(line.strip()) else line for line in out.splitlines()
        )
    return out


_SENTENCE_WORD = re.compile(r"[A-Za-z]{2,}")
# words that make the number part of a larger value ("pi times 2", "3 hundred", "20 percent", "2 and a half"),
# or the sentence something other than an answer ("Error: 18 is not valid")
_VALUE_WORDS = re.compile(
    r"\b(?:pi|sqrt|root|times|plus|minus|over|divided|squared|cubed|power|percent|half|halves|third|thirds|"
    r"quarters?|dozens?|hundreds?|thousands?|millions?|billions?|trillions?|and|or|not|no|none|cannot|"
    r"invalid|undefined|unknown|impossible|\w*error|\w*exception|warning)\b|%",
    re.IGNORECASE,
)
_SENTENCE_NUMBER = re.compile(r"(?<![\w.])-?\d[\d,]*(?:\.\d+)?(?![\w.]*\w)")


def _sole_number_of_sentence(line: str) -> str | None:
    """The number of a printed sentence that holds exactly one (``The total is 3.0`` -> ``3.0``, ``Janet makes
    $18 every day.`` -> ``18``), as a reader takes it; None for anything that is not plainly prose around one
    number (an expression, an equation, a list, a sentence with two numbers)."""
    if len(_SENTENCE_WORD.findall(line)) < 2 or any(c in line for c in "=^*/\\()[]{}<>|") or _VALUE_WORDS.search(line):
        return None
    numbers = _SENTENCE_NUMBER.findall(line)
    return numbers[0].rstrip(",") if len(numbers) == 1 else None


def extract_answer(
    response: str, mode: Mode, multiple_choice: bool = False, numeric: bool = False, options: Sequence[str] = ()
) -> str | None:
    """Dispatch on mode: ``cot`` reads the model's text, ``pot`` the program's stdout (``options``: see
    :func:`extract_pot`)."""
    if mode == "pot":
        return extract_pot(response, multiple_choice, numeric, options)
    return extract_cot(response, multiple_choice)


def _final_math_span(text: str) -> tuple[int, int] | None:
    """Start and end of the content of the inline math (``$...$`` or ``\\(...\\)``) that ends ``text``
    (trailing punctuation aside), or None."""
    stop = len(text.rstrip().rstrip(".,;:!?").rstrip())
    if text[:stop].endswith("\\)"):
        opener = text.rfind("\\(", 0, stop - 2)
        return (opener + 2, stop - 2) if opener >= 0 else None
    if stop >= 2 and text[stop - 1] == "$" and text[stop - 2] not in "\\$":
        opener = text.rfind("$", 0, stop - 1)
        if opener >= 0 and (opener == 0 or text[opener - 1] not in "\\$"):
            return opener + 1, stop - 1
    return None
