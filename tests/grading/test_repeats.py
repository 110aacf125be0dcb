"""Looping generations that hit the token limit: the last repeat of the answer is cut short.

The paper's code (mammoth grader) reads only the first chunk (``text.split("\\n\\n")[0]``) when a trigger
occurs more than once; the strict grader prefers the earlier complete answer when the last one is cut off
at the very end of the text and an earlier span continues it."""

from __future__ import annotations

import pytest

from tusk.types import Problem

LOOP = "9 * 2 = 18 dollars. The answer is 18.\n\nThe answer is 18.\n\nThe answer is 18.\n\nThe answer is 1"


@pytest.mark.parametrize("name", ["strict", "mammoth"])
def test_a_looping_answer_cut_off_at_the_end_is_read_from_a_complete_repeat(name):
    from tusk.grading import get_grader

    grader = get_grader(name)
    problem = Problem("gsm8k/1", "gsm8k", "q", "18")
    grade = grader.grade(LOOP, problem, "cot")
    assert grade.correct and grade.prediction == "18", grade


def test_mammoth_reads_the_first_chunk_when_a_trigger_repeats():
    from tusk.grading import get_grader

    mammoth = get_grader("mammoth")
    problem = Problem("gsm8k/1", "gsm8k", "q", "18")
    text = "So 18 in all. The answer is 18.\n\nQuestion: what is 3 + 4?\nThe answer is 7"
    assert mammoth.extract(text, problem, "cot") == "18"
    assert mammoth.extract("The answer is 7", problem, "cot") == "7"  # one trigger: the usual rule
    assert mammoth.version == "2"


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        (LOOP, "18"),
        ("The answer is 18.\n\nThe answer is 18.\n\nThe answer is", "18"),  # cut right after the marker
        ("First the answer is 12. Rechecking, the answer is 18", "18"),  # a corrected answer stays
        ("The answer is 18.\n\nThe answer is 1.", "1"),  # closed by a full stop: complete, not cut off
        ("The answer is 1.\n\nThe answer is 18", "18"),
        # a complete final answer that an earlier answer, stated once, happens to start is a correction
        ("The answer is 12. Wait, that is wrong: 12 - 11 = 1. The answer is 1", "1"),
        ("First guess: the answer is 100.\nChecking: 1000 / 100 = 10, so the answer is 10", "10"),
        ("The answer is 18.\n\nThe answer is 1", "1"),  # one earlier statement is no loop
        ("The answer is 45. The answer is 45.\n\nQuestion: How many?\nThe answer is 4", "45"),  # a loop
    ],
)
def test_strict_prefers_the_earlier_complete_span_only_when_the_last_is_cut_off(response, expected):
    from tusk.grading.extract import extract_cot

    assert extract_cot(response) == expected
