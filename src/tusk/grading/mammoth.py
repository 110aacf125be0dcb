"""The ``mammoth`` grader: the answer rules of the paper's evaluation code, so scores compare with the paper.

Rules (PAPER.md "Grading in the original code"):
- Extraction: PoT output is read as ``"The answer is <stdout>"``.  When a trigger occurs more than once
  (a looping generation), only the text before the first blank line is read (``text.split("\\n\\n")[0]``).  The text after the last "The answer is"
  or "####" is the answer span (the first candidate in it); without a marker, the whole response (the last
  candidate).  Candidates: multiple choice (AQuA, SAT, MMLU-Math) -> every standalone letter A-E in the
  upper-cased span; NumGLUE -> letters A/B, else numbers; MATH / TheoremQA -> the last ``\\boxed{}``, else
  the span after the marker (its last ``=`` side, a trailing unit cut), else the last number; the rest ->
  numbers (commas removed, trailing zeros of decimals dropped, so ``18.0`` -> ``18``).
- Judging: case-insensitive string equality with the gold; TheoremQA option golds ``(a)`` match when the
  prediction contains them; for MATH the Hendrycks string normalisation first; for MATH and TheoremQA a
  numeric fallback: ``round(pred) == gold`` for integer golds, else within 4% of the gold.
- DeepMind and SimulEq golds are compared as written, so golds such as ``1363.0`` or ``[2, 3]`` can never
  match (the paper's 139-of-1000 blind spot), and SimulEq is scored on its first unknown only.

Known difference: the paper's code asked the model again for "the closest option" when a multiple-choice
response named no letter; a grader cannot call a model, so such answers are wrong here.

Guarantees: pure Python, no sympy, never raises (a value too large for a float, ``1e400``, is not a
number).  Does not: judge equivalence beyond these rules (that is
what ``strict`` is for); ``equivalent`` compares cleaned answers as strings.
"""

from __future__ import annotations

import math
import re

from tusk.grading.extract import last_boxed
from tusk.grading.profiles import profile
from tusk.types import Grade, Mode, Problem

_TRIGGER_WORDS = ("####", "The answer is")
_TRIGGERS = re.compile(r"####|The answer is")
_NUMBER = re.compile(r"-?\d+/?\.?\d*")
_LETTERS = re.compile(r"\b(A|B|C|D|E)\b")
_AB = re.compile(r"\b(A|B)\b")


def drop_trailing_zeros(text: str) -> str:
    """``"18.0"`` -> ``"18"``, ``"2.50"`` -> ``"2.5"``; non-numbers unchanged (the paper's clean-up)."""
    try:
        value = float(text)
    except (ValueError, OverflowError):
        return text
    if math.isnan(value) or math.isinf(value):
        return text
    if value == int(value) and abs(value) < 1e16:
        return str(int(value))
    return str(value)


def hendrycks_normalize(text: str) -> str:
    """The MATH dataset's string normalisation (units, ``\\left``, fractions, ``0.5`` -> ``\\frac{1}{2}``)."""
    s = text.replace("\n", "").replace("\\!", "").replace("\\\\", "\\")
    s = s.replace("tfrac", "frac").replace("dfrac", "frac").replace("\\left", "").replace("\\right", "")
    s = s.replace("^{\\circ}", "").replace("^\\circ", "").replace("\\$", "")
    if "\\text{ " in s:
        head = s.split("\\text{ ")
        if len(head) == 2:
            s = head[0]
    s = s.replace("\\%", "").replace("%", "")
    s = s.replace(" .", " 0.").replace("{.", "{0.")
    if not s:
        return s
    if s[0] == ".":
        s = "0" + s
    parts = s.split("=")
    if len(parts) == 2 and len(parts[0]) <= 2:
        s = parts[1]
    s = re.sub(r"\\sqrt(\w)", r"\\sqrt{\1}", s)
    s = s.replace(" ", "")
    s = _fix_fracs(s)
    if s == "0.5":
        s = "\\frac{1}{2}"
    m = re.fullmatch(r"(-?\d+)/(\d+)", s)
    if m:
        s = f"\\frac{{{m.group(1)}}}{{{m.group(2)}}}"
    return s


def _fix_fracs(s: str) -> str:
    pieces = s.split("\\frac")
    out = pieces[0]
    for piece in pieces[1:]:
        out += "\\frac"
        if piece.startswith("{") or len(piece) < 2:
            out += piece
        elif piece[1] == "{":
            out += "{" + piece[0] + "}" + piece[1:]
        else:
            out += "{" + piece[0] + "}{" + piece[1] + "}" + piece[2:]
    return out


def _to_number(text: str) -> float | None:
    s = text.replace(",", "").strip()
    m = re.fullmatch(r"(-?\d+(?:\.\d+)?)\s*/\s*(\d+(?:\.\d+)?)", s)
    try:
        if m:
            return float(m.group(1)) / float(m.group(2))
        frac = re.fullmatch(r"\\frac\{(-?[\d.]+)\}\{([\d.]+)\}", s)
        if frac:
            return float(frac.group(1)) / float(frac.group(2))
        return float(s)
    except (ValueError, ZeroDivisionError, OverflowError):
        return None


class MammothGrader:
    """See the module docstring."""

    name = "mammoth"
    version = "2"

    def extract(self, response: str, problem: Problem, mode: Mode) -> str | None:
        text = ("The answer is " + (response or "").strip()) if mode == "pot" else (response or "")
        text = text.strip("\n")
        if any(text.count(trigger) > 1 for trigger in _TRIGGER_WORDS):
            text = text.split("\n\n")[0]  # a trigger repeated (looping or few-shot): the first chunk only
        parts = _TRIGGERS.split(text)
        flagged = len(parts) > 1
        span = parts[-1] if flagged else text
        span = span.strip("\n").rstrip(".").rstrip("/").strip(" ")
        kind = profile(problem.benchmark).mammoth_kind
        if problem.choices and kind not in ("choice", "numglue"):
            kind = "choice"
        if kind == "choice":
            found = _LETTERS.findall(span.upper()) or [span.strip().strip(".")]
        elif kind == "numglue":
            found = _AB.findall(span.upper()) or self._numbers(span)
        elif kind == "math":
            found = [self._math_answer(span, flagged)]
        else:
            found = self._numbers(span)
        found = [f for f in found if f is not None]
        if not found:
            return None
        answer = found[0] if flagged else found[-1]
        answer = answer.rstrip(".").rstrip("/")
        return answer or None

    @staticmethod
    def _numbers(span: str) -> list[str]:
        return [drop_trailing_zeros(n) for n in _NUMBER.findall(span.replace(",", ""))]

    @staticmethod
    def _math_answer(span: str, flagged: bool) -> str | None:
        boxed = last_boxed(span)
        if boxed is not None:
            return boxed[1]
        if flagged:
            answer = span.split("=")[-1].strip()
            if re.fullmatch(r"[\d.]+\s\D+", answer):  # "5 cm" -> "5"
                answer = answer.split(" ")[0]
            return answer.strip("$").strip()
        numbers = _NUMBER.findall(span.replace(",", ""))
        return numbers[-1] if numbers else None

    def judge(self, prediction: str | None, problem: Problem) -> Grade:
        # the paper's gold: MATH's last box, also where the loader reviewed it (meta["upstream_answer"])
        gold_raw = str((problem.meta or {}).get("upstream_answer") or problem.answer)
        kind = profile(problem.benchmark).mammoth_kind
        gold = gold_raw
        if profile(problem.benchmark).name in ("gsm8k", "svamp", "numglue"):
            gold = drop_trailing_zeros(gold_raw.replace(",", ""))
        base = {"prediction": prediction, "gold": gold_raw, "grader": self.name, "normalized_gold": gold}
        if prediction is None or prediction == "":
            return Grade(correct=False, rule="no_answer", **base)
        pred = prediction
        if gold.lower() in ("(a)", "(b)", "(c)", "(d)", "(e)", "(f)"):
            return Grade(
                correct=gold.lower() in pred.lower(), rule="option_in", normalized_prediction=pred, **base
            )
        if pred.lower() == gold.lower():
            return Grade(correct=True, rule="string", normalized_prediction=pred, **base)
        if kind == "math":
            npred, ngold = hendrycks_normalize(pred), hendrycks_normalize(gold)
            if npred == ngold:
                return Grade(
                    correct=True,
                    rule="hendrycks",
                    normalized_prediction=npred,
                    **{**base, "normalized_gold": ngold},
                )
            p, g = _to_number(npred), _to_number(ngold)
            if p is not None and g is not None and not (math.isfinite(p) and math.isfinite(g)):
                # 1e400 or 2**1100 read as a float is inf: not a number (round(inf) would raise)
                return Grade(
                    correct=False,
                    rule="not_a_number",
                    normalized_prediction=npred,
                    **{**base, "normalized_gold": ngold},
                )
            if p is not None and g is not None:
                if g == int(g) and re.fullmatch(r"-?\d+", ngold.replace(",", "")):
                    ok = round(p) == int(g)
                    rule = "round_int"
                else:
                    ok = abs(p - g) <= abs(g) * 0.04
                    rule = "within_4pct"
                return Grade(
                    correct=ok, rule=rule, normalized_prediction=npred, **{**base, "normalized_gold": ngold}
                )
        return Grade(correct=False, rule="string_mismatch", normalized_prediction=pred, **base)

    def grade(self, response: str, problem: Problem, mode: Mode) -> Grade:
        return self.judge(self.extract(response, problem, mode), problem)

    def equivalent(self, a: str, b: str, problem: Problem) -> bool:
        if a is None or b is None:
            return False
        if profile(problem.benchmark).mammoth_kind == "math":
            return hendrycks_normalize(a) == hendrycks_normalize(b)
        return a.strip().lower() == b.strip().lower()
