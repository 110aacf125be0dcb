"""The strict grader (tusk's default): extract the answer per benchmark and mode, then decide equivalence
exactly, explaining every verdict.

Order of comparison, cheapest first (most answers never leave the first two steps):
1. identical after clean-up (delimiters, ``\\dfrac``, ``\\left``, ``\\text{}``, full stop) -> ``string``;
2. plain numbers on both sides (currency, units, thousands separators, ``%``, scientific notation,
   fractions) -> :func:`tusk.grading.numbers.numbers_equal` (``exact`` / ``float`` / ``rounded`` /
   ``percent``);
3. shapes (:mod:`tusk.grading.structure`): booleans, matrices element by element, lists / tuples /
   intervals (brackets must match where they mean open or closed ends; sets and root lists unordered),
   equations (``x = 5`` vs ``5``);
4. leaves that are still different go to the killable symbolic checker (sympy / math-verify) under a hard
   time limit; a timeout is recorded in the Grade and counts as wrong.

Multiple choice: an answer that quotes one option's text is that option; otherwise the letter the answer
names; with no letter, the single option whose value equals the answer (an option printed twice counts
once); two different letters are wrong.

Benchmark rules (:mod:`tusk.grading.profiles`): rounded decimal golds (NumGLUE, SimulEq, TheoremQA) accept
a more precise prediction that rounds to them at their precision (``0.3333`` for ``0.33``, never the coarser
``920.2`` for ``920.25``), GSM8K, SVAMP, MATH and DeepMind golds are exact; MATH brackets are interval ends; DeepMind
factor lists are unordered, any list is ordered when the question asks for an order ("in increasing
order", "from least to greatest"); SimulEq golds are the first unknown asked, read by its label when the answer
labels its values (``9 poets and 15 novelists``), else the first value of a list of values (``x = 15, y = 9``;
never of arithmetic such as ``15 + 9 = 24``).  A question that asks to *factor* needs a factored answer.
Answers that would make sympy explode (power towers) are refused first (:mod:`tusk.grading.guards`).

Guarantees: never raises on any response; predictions longer than ``max_answer_chars`` are judged wrong
(rule ``too_long``) without symbolic work.  Does not: ask the model again (no "closest option" retry);
check the requested form beyond "factor" (``2/4`` for ``\\frac{1}{2}`` is accepted).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from tusk.grading import choices as mc
from tusk.grading.checker import SymbolicChecker, shared_checker
from tusk.grading.extract import answer_line, extract_answer, is_empty_answer
from tusk.grading.guards import too_heavy
from tusk.grading.normalize import clean_answer, strip_units
from tusk.grading.numbers import Number, numbers_equal, parse_number
from tusk.grading.profiles import Profile, profile
from tusk.grading.questions import (
    asks_factor,
    asks_order,
    first_asked_value,
    has_top_level_sum,
    is_value_list,
)
from tusk.grading.structure import Shape, is_variable, shape_of
from tusk.types import Grade, Mode, Problem

MAX_ANSWER_CHARS = 400
_NUMBER_IN_TEXT = re.compile(r"[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?")
_BASE = re.compile(r"(\w+)_\{?(\d+)\}?")
_ARITHMETIC = re.compile(
    r"(?=.*(?:[+*/×÷!-]|\\times|\\cdot|\\div))(?:[\d\s.,+*/×÷()%$!-]|\\times|\\cdot|\\div|\\\$)+"
)
_SYMBOLIC = re.compile(r"\\(?:frac|sqrt|pi|infty|cdot|times)|\^|\*\*|sqrt|pi|√|π|(?<=[\d)}])!")


# an answer naming a lettered option of the question: "(c)", "c", "(c) -0.1", "c) -0.1"
_OPTION_ANSWER = re.compile(r"(?:\(([A-Za-z])\)|([a-z])\)?)(?:\s*[:.]?\s+(\S.*))?", re.DOTALL)
_BOXED_VALUE = re.compile(r"\\(?:boxed|fbox)\{([^{}]*)\}")


def _final_statement(response: str) -> str | None:
    """The last sentence of a response when it states several values (SimulEq answers without an answer
    marker name each unknown there: the judge then takes the one the question asks first), else None."""
    lines = [line.strip() for line in (response or "").strip().splitlines() if line.strip()]
    if not lines:
        return None
    last = _BOXED_VALUE.sub(r"\1", lines[-1]).replace("$", "")
    sentences = [s for s in re.split(r"(?<=[.!?])\s+", last) if s.strip()]
    if not sentences or len(_NUMBER_IN_TEXT.findall(sentences[-1])) < 2:
        return None
    return sentences[-1].strip().rstrip(".!? ")


@dataclass(frozen=True)
class Verdict:
    """One comparison's outcome: equal or not, the rule that decided, and whether a check timed out."""

    ok: bool
    rule: str
    timed_out: bool = False


class StrictGrader:
    """See the module docstring.  ``timeout`` bounds each symbolic check (seconds)."""

    name = "strict"
    version = "13"

    def __init__(
        self,
        timeout: float | None = None,
        checker: SymbolicChecker | None = None,
        max_answer_chars: int = MAX_ANSWER_CHARS,
    ):
        self._checker = checker
        self.timeout = timeout
        self.max_answer_chars = max_answer_chars

    @property
    def checker(self) -> SymbolicChecker:
        if self._checker is None:
            self._checker = shared_checker()
        return self._checker

    # -- API ----------------------------------------------------------------------------------------
    def extract(self, response: str, problem: Problem, mode: Mode) -> str | None:
        multiple_choice = bool(problem.choices) or mc.gold_letter(problem) is not None
        prof = profile(problem.benchmark)
        first_value = prof.first_value
        numeric = prof.numeric and not multiple_choice
        # a printed option ("None", "Cannot be determined") is an answer, not "no answer"
        options = [x for pair in mc.options(problem) for x in pair] if multiple_choice and mode == "pot" else []
        if mode == "pot" and first_value:
            lines = [line.strip() for line in (response or "").splitlines() if line.strip()]
            lines = [line for line in lines if not is_empty_answer(line, numeric, options)]
            if 1 < len(lines) <= 6:  # one printed line per unknown: keep them all, the judge picks
                return ", ".join(lines)
        if mode == "cot" and first_value and answer_line(response) is None:
            # "So you sold \boxed{378} student tickets and \boxed{29} ...": when the last sentence labels the
            # unknown the question asks first, that sentence (the judge reads the value); else the usual rule
            stated = _final_statement(response)
            if stated and first_asked_value(stated, problem.question) != stated:
                return stated
        span = extract_answer(response, mode, multiple_choice, numeric, options)
        if multiple_choice and span and mode == "cot":
            # an option text with full stops inside ("Start with 5. Add 4 each time.") is cut short by
            # the sentence rule: take the whole option from the answer line
            line = answer_line(response) or ""
            for _, text in mc.options(problem):
                t = text.strip()
                if len(t) > len(span) and t.startswith(span) and t in line:
                    return line[: line.index(t) + len(t)]
        return span

    def grade(self, response: str, problem: Problem, mode: Mode) -> Grade:
        return self.judge(self.extract(response, problem, mode), problem)

    def judge(self, prediction: str | None, problem: Problem) -> Grade:
        """Compare with the gold; where the loader lists several accepted answers
        (``meta["accepted_answers"]``: MATH problems whose solution accepts either of two points), with
        each of them, and the first that agrees decides."""
        accepted = (problem.meta or {}).get("accepted_answers")
        if not accepted or prediction is None:
            return self._judge(prediction, problem)
        first = None
        for gold in accepted:
            grade = self._judge(prediction, replace(problem, answer=str(gold)))
            if grade.correct:
                return replace(grade, gold=str(problem.answer))
            first = first or grade
        return replace(first, gold=str(problem.answer))

    def _judge(self, prediction: str | None, problem: Problem) -> Grade:
        gold = str(problem.answer)
        base = {"prediction": prediction, "gold": gold, "grader": self.name}
        if prediction is None or not prediction.strip():
            return Grade(correct=False, rule="no_answer", **base)
        if len(prediction) > self.max_answer_chars:
            return Grade(correct=False, rule="too_long", normalized_gold=clean_answer(gold), **base)
        letter = mc.gold_letter(problem)
        if letter is not None:
            chosen, rule, timed_out = self._choice(prediction, problem)
            return Grade(
                correct=chosen is not None and letter in chosen.split("|"),
                rule=rule,
                normalized_prediction=chosen,
                normalized_gold=letter,
                timed_out=timed_out,
                **base,
            )
        prof = _profile_for(problem)
        g, p = clean_answer(gold), clean_answer(prediction)
        if prof.first_value:
            p = first_asked_value(p, problem.question)
        if asks_factor(problem.question) and has_top_level_sum(p) and not has_top_level_sum(g):
            v = Verdict(False, "not_factored")  # "Factor 7x^2-63": the expanded form is not the answer
        else:
            v = self._compare(g, p, prof, rounding=prof.rounded_golds)
            if not v.ok and not problem.choices:
                v = self._inline_option(g, p, problem, prof) or v
        return Grade(
            correct=v.ok,
            rule=v.rule,
            normalized_prediction=p,
            normalized_gold=g,
            timed_out=v.timed_out,
            **base,
        )

    def equivalent(self, a: str, b: str, problem: Problem) -> bool:
        """Whether two extracted answers are the same answer (for majority voting)."""
        if a is None or b is None:
            return False
        if mc.gold_letter(problem) is not None:
            la, _, _ = self._choice(a, problem)
            lb, _, _ = self._choice(b, problem)
            return la is not None and la == lb
        if max(len(a), len(b)) > self.max_answer_chars:
            return a.strip() == b.strip()
        prof = _profile_for(problem)
        return self._compare(clean_answer(a), clean_answer(b), prof, rounding=False).ok

    # -- multiple choice ----------------------------------------------------------------------------
    def _inline_option(self, g: str, p: str, problem: Problem, prof: Profile) -> Verdict | None:
        """A value gold whose question lists lettered options (DeepMind's ``Which is the closest to -32?
        (a) 0.2  (b) 1  (c) -0.1``): an answer naming an option (``(c)``, ``c``, ``(c) -0.1``) is that
        option's value; a value written after the letter must agree with it.  None when the answer names
        no option of the question."""
        m = _OPTION_ANSWER.fullmatch(p.strip())
        if not m:
            return None
        opts = dict(mc.options(problem))
        letter = m.group(1) or m.group(2)
        text = opts.get(letter.upper()) if letter else None
        if text is None:
            return None
        values = [clean_answer(text)] + ([m.group(3).strip()] if m.group(3) and m.group(3).strip() else [])
        timed_out = False
        for value in values:
            v = self._compare(g, value, prof, rounding=prof.rounded_golds)
            timed_out |= v.timed_out
            if not v.ok:
                return Verdict(False, "inline_option", timed_out)
        return Verdict(True, "inline_option", timed_out)

    def _choice(self, prediction: str, problem: Problem) -> tuple[str | None, str, bool]:
        opts = mc.options(problem)
        valid = "".join(k for k, _ in opts) or "ABCDE"
        gold = mc.gold_letter(problem)
        if gold and gold not in valid:  # MATH's lettered answers such as \text{(P)}
            valid += gold
        texts = {k: clean_answer(t) for k, t in opts}
        p = clean_answer(prediction)
        # single-character option texts ("$a$") count as values only when written in math mode
        shortest = 1 if "$" in prediction else 2
        exact = [
            k for k, t in texts.items() if len(t) >= shortest and t.replace(" ", "") == p.replace(" ", "")
        ]
        if len(exact) == 1:  # the answer quotes one option's text (letters inside it are not choices)
            return exact[0], "choice_text", False
        named = mc.letters_named(p, valid, texts)
        if len(named) > 1:
            return None, "choice_conflict", False
        if named:
            return named[0], "choice_letter", False
        prof = profile(problem.benchmark)
        matches, timed_out = [], False
        for letter, text in opts:
            v = self._compare(clean_answer(text), p, prof, rounding=False, symbolic=False)
            if v.ok:
                matches.append(letter)
        if not matches and _SYMBOLIC.search(p):
            for letter, text in opts:
                v = self._compare(clean_answer(text), p, prof, rounding=False)
                timed_out |= v.timed_out
                if v.ok:
                    matches.append(letter)
        if not matches and parse_number(strip_units(p)) is not None:
            # a printed decimal against options written with roots or pi (13.66 for "5(\sqrt{3}+1)"): the
            # option's value must round to the decimals printed (an integer never matches an irrational)
            for letter, text in opts:
                if _SYMBOLIC.search(texts[letter]):
                    v = self._compare(p, texts[letter], prof, rounding="printed")
                    timed_out |= v.timed_out
                    if v.ok:
                        matches.append(letter)
        if len(matches) == 1:
            return matches[0], "choice_value", timed_out
        if len(matches) > 1 and len({texts[k] for k in matches}) == 1:  # the same option printed twice
            return "|".join(matches), "choice_value_duplicate", timed_out
        return None, ("choice_ambiguous" if matches else "choice_none"), timed_out

    # -- comparison ---------------------------------------------------------------------------------
    def _compare(self, g: str, p: str, prof: Profile, rounding: bool | str, symbolic: bool = True) -> Verdict:
        if g == p or g.replace(" ", "") == p.replace(" ", ""):
            return Verdict(True, "string")
        base = _BASE.fullmatch(g)
        if base:  # a numeral in another base: 1200_7
            digits = _BASE.fullmatch(p)
            same = (
                (digits.group(1) == base.group(1) and digits.group(2) == base.group(2))
                if digits
                else p.replace(" ", "") == base.group(1)
            )
            return Verdict(same, "base")
        gn = parse_number(strip_units(g))
        if gn is not None:
            return self._against_number(gn, p, prof, rounding, symbolic)
        gs, ps = shape_of(g), shape_of(p)
        return self._shapes(gs, ps, prof, rounding, symbolic)

    def _against_number(self, gn: Number, p: str, prof: Profile, rounding: bool | str, symbolic: bool) -> Verdict:
        pn = parse_number(strip_units(p))
        if pn is None and prof.first_value and is_value_list(p):
            first = _NUMBER_IN_TEXT.search(p)
            pn = parse_number(first.group(0)) if first else None
            if pn is not None:
                ok, rule = numbers_equal(gn, pn, rounding)
                return Verdict(ok, f"first_value_{rule}")
        if pn is not None:
            ok, rule = numbers_equal(gn, pn, rounding)
            return Verdict(ok, rule)
        ps = shape_of(p)
        if ps.kind == "eq" and is_variable(ps.items[0]):
            return self._against_number(gn, ps.items[1], prof, rounding, symbolic)
        if ps.kind == "eq" and _ARITHMETIC.fullmatch(ps.items[0]):  # "24 - 9 = 15 cats": the result
            v = self._against_number(gn, ps.items[1], prof, rounding, symbolic)
            return Verdict(v.ok, f"result_{v.rule}", v.timed_out)
        if ps.kind == "seq" and len(ps.items) == 1:
            return self._against_number(gn, ps.items[0], prof, rounding, symbolic)
        if too_heavy(p):
            return Verdict(False, "too_heavy")
        if not symbolic or not _SYMBOLIC.search(p) or ps.kind != "leaf":
            return Verdict(False, "not_a_number")
        res = self.checker.value(strip_units(p), self.timeout)
        if res.timed_out:
            return Verdict(False, "timeout", True)
        if res.value is None or res.value.get("value") is None:
            return Verdict(False, "not_a_number")
        text = res.value["value"]
        if "/" in text:
            a, b = text.split("/")
            from fractions import Fraction

            value = Number(Fraction(int(a), int(b)))
        else:
            exact = parse_number(text)
            if exact is None:
                return Verdict(False, "not_a_number")
            value = Number(exact.value, None if res.value.get("exact") else exact.decimals, exact.digits)
        ok, rule = numbers_equal(gn, value, rounding)
        return Verdict(ok, f"symbolic_{rule}")

    def _shapes(self, gs: Shape, ps: Shape, prof: Profile, rounding: bool | str, symbolic: bool) -> Verdict:
        if gs.kind == "bool":
            return Verdict(ps.kind == "bool" and ps.value == gs.value, "bool")
        if gs.kind == "matrix":
            if (
                ps.kind != "matrix"
                or len(gs.rows) != len(ps.rows)
                or any(len(a) != len(b) for a, b in zip(gs.rows, ps.rows))
            ):
                return Verdict(False, "matrix_shape")
            return self._all(
                list(zip(sum(gs.rows, ()), sum(ps.rows, ()))), prof, rounding, symbolic, "matrix"
            )
        if gs.kind == "seq":
            return self._seq(gs, ps, prof, rounding, symbolic)
        if gs.kind == "eq":
            if ps.kind == "eq":
                v = self._all(
                    [(gs.items[0], ps.items[0]), (gs.items[1], ps.items[1])],
                    prof,
                    rounding,
                    symbolic,
                    "equation",
                )
                if v.ok or not symbolic:
                    return v
                return self._leaf(
                    f"{gs.items[0]}-({gs.items[1]})",
                    f"{ps.items[0]}-({ps.items[1]})",
                    prof,
                    rounding,
                    symbolic,
                    "equation",
                )
            if is_variable(gs.items[0]) and ps.kind == "leaf":
                return self._leaf(gs.items[1], ps.text, prof, rounding, symbolic, "equation_rhs")
            return Verdict(False, "equation_shape")
        # gold is a leaf
        if ps.kind == "eq" and is_variable(ps.items[0]):
            return self._leaf(gs.text, ps.items[1], prof, rounding, symbolic, "equation_rhs")
        if ps.kind == "seq" and len(ps.items) == 1 and not ps.open:
            return self._leaf(gs.text, ps.items[0], prof, rounding, symbolic)
        if ps.kind not in ("leaf",):
            return Verdict(False, f"shape_{ps.kind}")
        return self._leaf(gs.text, ps.text, prof, rounding, symbolic)

    def _seq(self, gs: Shape, ps: Shape, prof: Profile, rounding: bool | str, symbolic: bool) -> Verdict:
        if ps.kind == "leaf" and " and " in ps.text:
            ps = shape_of(ps.text.replace(" and ", ", "))
        if ps.kind == "eq" or ps.kind == "leaf":
            items = (ps.text,)
            p_open = p_close = ""
        elif ps.kind == "seq":
            items, p_open, p_close = ps.items, ps.open, ps.close
        else:
            return Verdict(False, f"shape_{ps.kind}")
        if len(items) != len(gs.items):
            return Verdict(False, "length")
        items = tuple(self._drop_lhs(i) for i in items)
        g_items = tuple(self._drop_lhs(i) for i in gs.items)
        # sets, bare root lists ("1, -2") and DeepMind factor lists are unordered; "12 3 0" (a sort) is not
        is_set = (
            gs.open == "{" or (not gs.open and "," in gs.text) or (prof.unordered_lists and gs.open == "[")
        )
        if prof.ordered_lists:  # "What are the four integers in increasing order?"
            is_set = False
        if prof.brackets_matter and gs.open and gs.open != "{":
            if (p_open, p_close) != (gs.open, gs.close):
                return Verdict(False, "brackets")
            is_set = False
        if not is_set:
            return self._all(list(zip(g_items, items)), prof, rounding, symbolic, "ordered")
        # unordered: greedy matching (exact duplicates handled by counting)
        left = list(items)
        timed_out = False
        for g in g_items:
            for k, p in enumerate(left):
                v = self._leaf(g, p, prof, rounding, symbolic)
                timed_out |= v.timed_out
                if v.ok:
                    del left[k]
                    break
            else:
                return Verdict(False, "unordered", timed_out)
        return Verdict(True, "unordered", timed_out)

    @staticmethod
    def _drop_lhs(item: str) -> str:
        parts = item.split("=")
        return parts[-1].strip() if len(parts) == 2 and is_variable(parts[0]) else item

    def _all(
        self, pairs: list[tuple[str, str]], prof: Profile, rounding: bool | str, symbolic: bool, rule: str
    ) -> Verdict:
        timed_out = False
        for g, p in pairs:
            v = self._leaf(g, p, prof, rounding, symbolic)
            timed_out |= v.timed_out
            if not v.ok:
                return Verdict(False, rule, timed_out)
        return Verdict(True, rule, timed_out)

    def _leaf(self, g: str, p: str, prof: Profile, rounding: bool | str, symbolic: bool, rule: str = "") -> Verdict:
        g, p = g.strip(), p.strip()
        if g == p or _compact(g) == _compact(p):
            return Verdict(True, rule or "string")
        gs, ps = shape_of(g), shape_of(p)
        if gs.kind != "leaf" or ps.kind != "leaf":
            v = self._compare(g, p, prof, rounding, symbolic)
            return Verdict(v.ok, rule or v.rule, v.timed_out)
        gn = parse_number(strip_units(g))
        if gn is not None:
            v = self._against_number(gn, p, prof, rounding, symbolic)
            return Verdict(v.ok, rule or v.rule, v.timed_out)
        if (
            parse_number(strip_units(p)) is not None
            and not _SYMBOLIC.search(g)
            and not re.search(r"[a-zA-Z]", g)
        ):
            return Verdict(False, rule or "number_vs_text")
        if not symbolic:
            return Verdict(False, rule or "string_mismatch")
        if too_heavy(p) and not too_heavy(g):
            return Verdict(False, "too_heavy")
        res = self.checker.equal(g, p, self.timeout)
        if res.timed_out:
            return Verdict(False, "timeout", True)
        if res.value is None:
            return Verdict(False, rule or "unparsable")
        return Verdict(bool(res.value.get("equal")), rule or f"symbolic_{res.value.get('detail', '')}")


def _profile_for(problem: Problem) -> Profile:
    """The benchmark's profile, with ordered lists when the question asks for an order."""
    prof = profile(problem.benchmark)
    return replace(prof, ordered_lists=True) if asks_order(problem.question) else prof


def _compact(s: str) -> str:
    return s.replace(" ", "").replace("*", "").replace("\\cdot", "").lower()
