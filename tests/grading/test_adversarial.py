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
