"""Degenerate model outputs (repetition loops, unbalanced braces, marker spam, huge numbers) never hang or
crash either grader.  The timeout marker is a hang guard, not a speed assertion."""

from __future__ import annotations

import random

import pytest

from tusk.grading import get_grader
from tusk.types import Problem

PIECES = [
    "a",
    "1",
    "(",
    "{",
    "\\frac",
    "1,",
    "$",
    "**",
    "^",
    "1.",
    "A) ",
    " ",
    "\\boxed{",
    "The answer is ",
    "x=",
    "[",
    "]",
    "\\left(",
    "-",
    "/",
    "e",
    "%",
    "\\text{",
    "}",
    "..",
    "9" * 40,
    "\n",
]
PROBLEMS = [
    Problem("g", "gsm8k", "q", "18"),
    Problem("m", "math", "q", "\\frac{1}{2}"),
    Problem("a", "aqua", "q", "B", ("A)1", "B)2")),
    Problem("d", "deepmind", "q", "[2, 3]"),
    Problem("s", "simuleq", "How many cats are there?", "15"),
    Problem("t", "theoremqa", "q", "True"),
]


def _texts():
    rng = random.Random(7)
    texts = [p * n for p in PIECES for n in (60, 1500)]
    texts += ["".join(rng.choice(PIECES) for _ in range(rng.randint(5, 200))) for _ in range(60)]
    texts += ["The answer is " + "9" * 5000, "1e999999999", "1/0", "0/0", "\\frac{1}{0}", "-" * 300 + "5"]
    texts += ["The answer is 1e400.", str(2**1100), "inf", "-inf", "nan", "The answer is 1e-400"]
    return texts


@pytest.mark.timeout(300)
@pytest.mark.parametrize("grader_name", ["strict", "mammoth"])
def test_degenerate_outputs_get_a_verdict(grader_name):
    grader = get_grader(grader_name)
    for text in _texts():
        for problem in PROBLEMS:
            for mode in ("cot", "pot"):
                grade = grader.grade(text, problem, mode)
                assert grade.rule and grade.correct in (True, False)


def test_program_outputs_match_options_written_with_i_roots_and_pi():
    from tusk.grading import get_grader
    from tusk.types import Problem

    grader = get_grader("strict")
    sat = Problem("sat/1", "sat", "q", "A", ("A)$-1+12 i$", "B)$-1-6 i$", "C)$15+12 i$", "D)$15-6 i$"))
    assert grader.grade("(-1+12j)", sat, "pot").correct  # Python's complex repr
    assert not grader.grade("(15-6j)", sat, "pot").correct
    aqua = Problem("aqua/0", "aqua", "q", "A", ("A)5(√3 + 1)", "B)6(√3 + √2)", "C)7(√3 – 1)", "D)8(√3 – 2)",
                                                "E)None of these"))
    for printed in ("13.660254037844386", "13.66"):
        grade = grader.grade(printed, aqua, "pot")
        assert grade.correct and grade.rule == "choice_value", printed
    for near in ("14", "13.7", "18.9"):  # an integer never matches an irrational; 13.7 is not 13.66
        assert not grader.grade(near, aqua, "pot").correct, near
    mmlu = Problem("mmlu_math/1", "mmlu_math", "q", "B", ("A)$\\pi$", "B)$2\\pi$", "C)$\\sqrt{2}$", "D)4"))
    assert grader.grade("6.283185307179586", mmlu, "pot").correct
    assert grader.grade("1.41421", mmlu, "pot").normalized_prediction == "C"


def test_simuleq_answers_that_name_each_unknown_are_read_by_the_one_asked_first():
    from tusk.grading import get_grader
    from tusk.types import Problem

    grader = get_grader("strict")
    problem = Problem("simuleq/1", "simuleq", "A theater sold 3,254 tickets. How many student tickets were sold "
                      "and how many general admission tickets?", "378")
    right = [
        ("So you sold \\boxed{378} student tickets and \\boxed{2876} general admission tickets.", "cot"),
        ("So there are 2876 general admission tickets and 378 student tickets.", "cot"),
        ("Subtracting gives 3x = 1134, so x = 378.", "cot"),  # no labels: the last number, as before
        ("Number of student tickets sold: 378\nNumber of general admission tickets sold: 2876\n", "pot"),
    ]
    for response, mode in right:
        assert grader.grade(response, problem, mode).correct, response
    wrong = [
        ("So you sold \\boxed{2876} student tickets and \\boxed{378} general admission tickets.", "cot"),
        ("Number of student tickets sold: 2876\nNumber of general admission tickets sold: 378\n", "pot"),
    ]
    for response, mode in wrong:
        assert not grader.grade(response, problem, mode).correct, response
