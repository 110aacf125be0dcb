"""What the question and the shape of an answer tell the strict grader, beyond equivalence.

SimulEq asks for several unknowns and its gold is the first one: :func:`first_asked_value` reads it by its
label, :func:`is_value_list` says whether an answer is a list of values (whose first value may be read)
rather than arithmetic.  :func:`asks_order` and :func:`asks_factor` read what form the question wants;
:func:`has_top_level_sum` tells an expanded expression from a factored one.

Guarantees: pure functions over strings, linear-time regular expressions, never raise.  Does not: compare
values (the strict grader does).
"""

from __future__ import annotations

import re

_HOW_MANY = re.compile(r"\bhow\s+(?:many|much)\s+(?:of\s+)?(?:the\s+)?([a-z]+)", re.IGNORECASE)
_LABEL_FIRST = re.compile(r"([A-Za-z][A-Za-z ]{0,60}?)\s*[=:]\s*([+-]?\d[\d,]*(?:\.\d+)?)")
_LABELLED = re.compile(r"([+-]?\d[\d,]*(?:\.\d+)?)\s*(?:\$\s*)?([A-Za-z]+)")


def first_asked_value(answer: str, question: str) -> str:
    """SimulEq golds hold the first unknown asked for.  When an answer labels several values
    (``9 poets and 15 novelists``) and the question's first "how many X" names one label, that value;
    otherwise the answer unchanged."""
    asked = _HOW_MANY.search(question or "")
    pairs = [(num, word) for word, num in _LABEL_FIRST.findall(answer)]
    if len(pairs) < 2:
        pairs = _LABELLED.findall(answer)
    if not asked or len(pairs) < 2:
        return answer
    stem = asked.group(1).lower()[:5]
    # a label is one word ("9 poets", "x = 9") or a phrase ("Number of student tickets sold: 137")
    hits = [num for num, label in pairs if any(word.lower()[:5] == stem for word in label.split())]
    return hits[0] if len(hits) == 1 else answer


_LIST_SPLIT = re.compile(r"\s*(?:[,;]|\band\b)\s*")
_LIST_ITEM = re.compile(
    r"(?:[A-Za-z][\w ]{0,30}?(?:\s*[=:]\s*|\s+))?\$?[+-]?\d[\d,]*(?:\.\d+)?(?:\s*[A-Za-z][A-Za-z ]{0,40})?"
)


def is_value_list(text: str) -> bool:
    """Whether ``text`` lists values, each a number optionally labelled (``x = 137, y = 63``,
    ``{x: 15, y: 9}``, ``(4, 6)``, ``15.0 9.0``, ``15 cats and 9 dogs``, ``cats 15, dogs 9``): the shape the first-value rule
    reads.  Arithmetic (``15 + 9 = 24``) is not a list."""
    s = text.strip()
    if len(s) >= 2 and s[0] + s[-1] in ("()", "[]", "{}"):
        s = s[1:-1].strip()
    items = [i for i in _LIST_SPLIT.split(s) if i]
    if len(items) == 1:
        items = s.split()
    if not items or any(i.count("=") + i.count(":") > 1 for i in items):
        return False
    return all(_LIST_ITEM.fullmatch(i) for i in items)


_ASKS_ORDER = re.compile(
    r"\b(?:in\s+(?:increasing|decreasing|ascending|descending|numerical|alphabetical)\s+order"
    r"|from\s+(?:least|smallest|lowest|greatest|largest|highest)\s+to\s+(?:least|smallest|lowest|greatest|"
    r"largest|highest)|(?:in\s+)?order\s+from|ordered\s+(?:list|from|by)|\bsort(?:ed)?\b)",
    re.IGNORECASE,
)


_FACTOR = re.compile(r"\bfactor(?:ed|ise|ize|ization|isation)?\b(?!ial)", re.IGNORECASE)


def asks_order(question: str | None) -> bool:
    """Whether the question asks for its values in an order (``in increasing order``, ``from least to
    greatest``, ``Sort ...``), so a list answer is compared in order."""
    return bool(_ASKS_ORDER.search(question or ""))


def asks_factor(question: str | None) -> bool:
    """Whether the question asks to factor (``Factor 7x^2-63``), so an expanded answer is not one."""
    return bool(_FACTOR.search(question or ""))


def has_top_level_sum(text: str) -> bool:
    """A ``+`` or ``-`` outside brackets, not a leading sign: ``7x^2-63`` yes, ``7(x+3)(x-3)`` no."""
    depth, before = 0, ""
    for c in text.strip():
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        elif c in "+-" and depth == 0 and before and before not in "^_e,=":
            return True
        if not c.isspace():
            before = c
    return False
