"""Multiple choice: the options of a problem, the gold letter, and the letter an answer names.

An answer names a letter in its usual forms: ``B``, ``(B)``, ``(b)``, ``B)``, ``B.``, ``B: 30``, ``(B) 30``,
``option B``, ``\\boxed{B}``, ``\\text{(B)}``.  A letter that opens the answer (``B, since (A) is too
big``) is the choice and later mentions are its explanation; otherwise two different letters in one answer
(``A or B``) name no single option.
Options come from ``Problem.choices`` or, when the loader left them in the question text, from its
``Answer Choices: (A) ... (B) ...`` line or TheoremQA's ``(a) ... (b) ...`` list.

Guarantees: pure functions, never raise.  Does not: match option values (the strict grader does that with
its own equivalence).
"""

from __future__ import annotations

import re

from tusk.errors import TuskError
from tusk.prompts import split_choice
from tusk.types import Problem

_GOLD_LETTER = re.compile(r"^\s*\(?([A-Za-z])\)?\s*$")
_WHOLE_LETTER = re.compile(r"^\s*(?:option|choice)?\s*\(?([A-Za-z])\)?\s*[.):]?\s*$", re.IGNORECASE)
_LEADING_LETTER = re.compile(
    r"^\s*(?:(?:option|choice)\s*)?(?:\(([A-Za-z])\)|([A-Za-z])(?=[.):,;!?]|\s|$)(?!\s*[=+*/^<>-]))",
    re.IGNORECASE,
)
# a second letter right after the first ("A or B", "(B), (D)", "C/D") names two options
_LETTER_LIST = re.compile(
    r"^\s*[.)]?\s*(?:,|;|/|&|\bor\b|\band\b)\s*(?:(?:option|choice)\s*)?\(?([A-Za-z])(?![\w'])",
    re.IGNORECASE,
)
# words after a leading "A" that make it the option, not the article ("A because ...", not "A train ...")
_AFTER_LETTER = frozenset(
    [
        *("because", "since", "as", "rather", "not", "instead", "is", "was", "which", "that", "so"),
        *("but", "or", "and", "with", "being", "seems", "would", "should", "must", "only", "here"),
        "holds",
    ]
)
_PAREN_LETTER = re.compile(r"\(([A-Za-z])\)")
_NAMED_LETTER = re.compile(r"\b(?:option|choice)\s*\(?([A-Z])\b", re.IGNORECASE)
_BARE_UPPER = re.compile(r"(?<![\w\\'])([A-Z])(?![\w'])")
_CHOICES_LINE = re.compile(r"Answer Choices\s*:?\s*(.*)$", re.DOTALL | re.IGNORECASE)
_INLINE_OPTION = re.compile(r"\(([A-Za-z])\)\s*(.*?)(?=[\s,;]*\([A-Za-z]\)\s|\s*Which\s|$)", re.DOTALL)


def gold_letter(problem: Problem) -> str | None:
    """The gold as an upper-case letter (``"C"``, ``"(c)"`` -> ``"C"``), or None if it is not one."""
    raw = str(problem.answer).strip()
    raw = re.sub(r"^\\text\{(.*)\}$", r"\1", raw).strip()
    m = _GOLD_LETTER.match(raw)
    if not m:
        return None
    letter = m.group(1)
    if problem.choices or raw.startswith("(") or (letter.isupper() and letter in "ABCDE"):
        return letter.upper()
    return None


def options(problem: Problem) -> list[tuple[str, str]]:
    """``[("A", "24"), ("B", "30"), ...]`` from the problem's choices or its question text."""
    if problem.choices:
        out = []
        for choice in problem.choices:
            try:
                out.append(split_choice(choice))
            except TuskError:
                continue
        if out:
            return out
        return [(chr(ord("A") + i), str(c)) for i, c in enumerate(problem.choices)]
    m = _CHOICES_LINE.search(problem.question or "")
    text = m.group(1) if m else (problem.question or "")
    found = [(k.upper(), v.strip().rstrip(".,;").strip()) for k, v in _INLINE_OPTION.findall(text)]
    # the options are the last run (A), (B), (C)...; earlier "(X)" are part of the question ("\hat\theta(X)")
    starts = [i for i, (k, _) in enumerate(found) if k == "A"]
    if not starts:
        return []
    run = found[starts[-1] :]
    letters = [k for k, _ in run]
    if len(run) >= 2 and letters == [chr(ord("A") + i) for i in range(len(run))]:
        return run
    return []


def letters_named(answer: str, valid: str, option_texts: dict[str, str] | None = None) -> list[str]:
    """Every distinct option letter the answer names, in order of appearance (valid letters only).

    Letters inside a quoted option text (``(D) (E ⊃ F) ∨ (~C ≡ S)``) are not counted: the texts in
    ``option_texts`` are removed before looking for bare letters.
    """
    s = answer.strip()
    s = re.sub(r"\\(?:boxed|text|textbf|mathrm)\s*\{([^{}]*)\}", r"\1", s).replace("$", "").strip()
    for text in sorted((option_texts or {}).values(), key=len, reverse=True):
        t = text.replace("$", "").strip()
        if len(t) >= 2 and t in s and s.strip() != t:
            s = s.replace(t, " ").strip()
    m = _WHOLE_LETTER.match(s)
    if m and m.group(1).upper() in valid and (m.group(1).isupper() or "(" in s or len(s.strip(" .):")) == 1):
        return [m.group(1).upper()]
    m = _LEADING_LETTER.match(s)
    if m and _leading_is_letter(s, m):
        letter = (m.group(1) or m.group(2)).upper()
        if letter in valid:
            # the letter that opens the answer is the choice; later mentions explain it ("B, since (A) is
            # too big"), unless a second letter follows at once ("A or B")
            more = _LETTER_LIST.match(s[m.end() :])
            second = more.group(1) if more else ""
            if (
                more
                and second.upper() in valid
                and second.upper() != letter
                and (
                    second.isupper()
                    or (m.group(1) or m.group(2)).islower()  # "a, b"
                    or "(" in more.group(0)
                    or more.group(0).rstrip().endswith(")")
                )
            ):
                return [letter, second.upper()]
            return [letter]
    return _scan(s, valid)


def _leading_is_letter(s: str, m: re.Match[str]) -> bool:
    """Whether the letter opening ``s`` is an option: ``(b)``, ``b)``, ``B,``, ``B because``; not ``a``
    as a word, nor the article in ``A train leaves ...``."""
    if m.group(1):
        return True
    letter = m.group(2)
    after = s[m.end() :]
    if letter.islower():
        return bool(after) and after[0] in ".):,;" and (len(after) == 1 or after[1].isspace())
    word = re.match(r"\s+([A-Za-z]+)", after)  # "A train ...", "I think ..." are words, not options
    return not (word and word.group(1)[0].islower() and word.group(1) not in _AFTER_LETTER)


def _scan(s: str, valid: str) -> list[str]:
    found: list[str] = []
    for m in _PAREN_LETTER.finditer(s):
        letter = m.group(1).upper()
        if letter in valid and letter not in found:
            found.append(letter)
    for m in _NAMED_LETTER.finditer(s):
        letter = m.group(1).upper()
        if letter in valid and letter not in found:
            found.append(letter)
    if not found and len(s) <= 40:
        for m in _BARE_UPPER.finditer(s):
            letter = m.group(1)
            if letter in valid and letter not in found and not _is_article(s, m.start()):
                found.append(letter)
    return found


def _is_article(s: str, i: int) -> bool:
    """``A`` starting a sentence (``A train ...``) is a word, not an option."""
    return s[i] == "A" and i + 2 < len(s) and s[i + 1] == " " and s[i + 2].islower()
