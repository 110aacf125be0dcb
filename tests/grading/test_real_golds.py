"""Every benchmark's real golds, read by tusk's loaders: a response that states the gold is graded correct,
a response that states a different number is graded wrong, and the paper's rules reproduce their known
DeepMind blind spot (139 of 1000 golds such as ``1363.0`` or ``[2, 3]`` can never match)."""

from __future__ import annotations

from fractions import Fraction

import pytest

from tusk.benchmarks.registry import load_problems
from tusk.grading import get_grader
from tusk.grading.choices import gold_letter

BENCHMARKS = (
    "gsm8k",
    "math",
    "aqua",
    "numglue",
    "svamp",
    "deepmind",
    "simuleq",
    "sat",
    "mmlu_math",
    "theoremqa",
    "math500",
)
PER_BENCHMARK = 120


def _stated(problem) -> tuple[str, str]:
    """(cot response, pot stdout) that state the gold answer the way a model would."""
    letter = gold_letter(problem)
    if letter is not None:
        return f"Checking each option, the answer is ({letter}).", f"{letter}\n"
    if problem.benchmark.startswith("math"):
        return f"Simplifying, we get $\\boxed{{{problem.answer}}}$.", f"{problem.answer}\n"
    return f"Working it out step by step. The answer is {problem.answer}.", f"{problem.answer}\n"


@pytest.mark.slow
@pytest.mark.parametrize("name", BENCHMARKS)
def test_stating_the_gold_is_correct_and_another_number_is_wrong(shared_data_dir, name):
    strict = get_grader("strict")
    problems = load_problems(name, shared_data_dir)
    step = max(1, len(problems) // PER_BENCHMARK)
    wrong_checked = 0
    for problem in problems[::step]:
        cot, pot = _stated(problem)
        for mode, response in (("cot", cot), ("pot", pot)):
            grade = strict.grade(response, problem, mode)
            assert grade.correct, (problem.id, mode, problem.answer, grade.rule, grade.prediction)
        try:
            value = Fraction(problem.answer.replace(",", ""))
        except (ValueError, ZeroDivisionError):
            continue
        off = strict.grade(f"The answer is {value + 1}.", problem, "cot")
        assert not off.correct, (problem.id, problem.answer, off.rule)
        wrong_checked += 1
    if name not in ("aqua", "sat", "mmlu_math"):
        assert wrong_checked > 0


@pytest.mark.slow
def test_mammoth_reproduces_the_deepmind_blind_spot(shared_data_dir):
    problems = load_problems("deepmind", shared_data_dir)
    assert len(problems) == 1000
    mammoth = get_grader("mammoth")
    strict = get_grader("strict")
    never = [p for p in problems if not mammoth.grade(f"The answer is {p.answer}", p, "cot").correct]
    assert len(never) == 139
    assert all(strict.grade(f"The answer is {p.answer}", p, "cot").correct for p in never)


@pytest.mark.slow
@pytest.mark.parametrize("name", ("aqua", "sat", "mmlu_math", "numglue"))
def test_quoting_the_gold_option_text_is_correct_and_another_option_is_wrong(shared_data_dir, name):
    from tusk.grading.choices import options

    strict = get_grader("strict")
    checked = 0
    for problem in load_problems(name, shared_data_dir):
        letter = gold_letter(problem)
        opts = dict(options(problem))
        if letter is None or letter not in opts:
            continue
        text = opts[letter]
        grade = strict.grade(f"So the result is {text}. The answer is {text}", problem, "cot")
        assert grade.correct, (problem.id, text, grade.rule, grade.prediction)
        other = next(t for k, t in opts.items() if t != text)
        assert not strict.grade(f"The answer is {other}", problem, "cot").correct, (problem.id, other)
        checked += 1
    assert checked >= 150
