"""The 13 reviewed MATH golds (``tusk.benchmarks.hendrycks_math.REVIEWED_GOLDS``) on the real data: the strict
grader takes the full answer ("enter all the solutions") or any accepted alternative ("either point is
acceptable"), the mammoth grader keeps the paper's gold, the solution's last box."""

from __future__ import annotations

import pytest

from tusk.benchmarks.hendrycks_math import REVIEWED_GOLDS
from tusk.benchmarks.readers import last_boxed
from tusk.benchmarks.registry import load_problems
from tusk.grading import get_grader

# id -> (answers the strict grader accepts, answers it rejects)
CASES = {
    "prealgebra/177": (["6"], ["12"]),
    "algebra/1878": (["-2, 1"], ["1", "-2"]),
    "precalculus/1233": (["30^\\circ, 45^\\circ, 105^\\circ", "30, 45, 105"], ["105^\\circ"]),
    "intermediate_algebra/2089": (["-10879, 10879", "10879, -10879"], ["10879"]),
    "precalculus/1227": (["-1, 2"], ["2"]),
    "intermediate_algebra/225": (["3, \\frac{2}{5}", "\\frac25, 3"], ["\\frac{2}{5}"]),
    "precalculus/679": (["\\frac{\\pi}{4}, \\frac{5\\pi}{4}"], ["\\frac{5\\pi}{4}"]),
    "intermediate_algebra/1855": (["-\\frac32, -\\frac34"], ["-\\frac34"]),
    "intermediate_algebra/1020": (["5 - 10i, 11, -3 + 6i"], ["-3 + 6i"]),
    "algebra/1730": (["-3", "3"], ["7"]),
    "intermediate_algebra/25": (["(10, 0)", "(0,0)"], ["(5, 0)"]),
    "intermediate_algebra/747": (["(3,-5)", "(0,0)"], ["(-3,5)"]),
    "intermediate_algebra/702": (["\\left(\\frac32, -\\frac52\\right)", "(-5/2, -5/2)"], ["(-1/2, -5/2)"]),
}


def test_the_table_covers_the_reviewed_ids():
    assert {f"test/{k}.json" for k in CASES} == set(REVIEWED_GOLDS)


@pytest.mark.slow
def test_reviewed_math_golds_on_the_real_data(shared_data_dir):
    problems = {p.id: p for p in load_problems("math", shared_data_dir)}
    strict, mammoth = get_grader("strict"), get_grader("mammoth")
    for key, (right, wrong) in CASES.items():
        problem = problems[f"math/test/{key}.json"]
        upstream = problem.meta["upstream_answer"]
        assert upstream == last_boxed(problem.meta["solution"]).strip()
        assert problem.answer == REVIEWED_GOLDS[f"test/{key}.json"][0]
        for answer in right:
            grade = strict.grade(f"So the answer is $\\boxed{{{answer}}}$.", problem, "cot")
            assert grade.correct, (key, answer, grade.rule)
        for answer in wrong:
            grade = strict.grade(f"So the answer is $\\boxed{{{answer}}}$.", problem, "cot")
            assert not grade.correct, (key, answer, grade.rule)
        # the paper's grader: the last box, as upstream
        assert mammoth.grade(f"So $\\boxed{{{upstream}}}$.", problem, "cot").correct, key
        if len(REVIEWED_GOLDS[f"test/{key}.json"]) == 1:
            assert not mammoth.grade(f"So $\\boxed{{{problem.answer}}}$.", problem, "cot").correct, key
    others = [p for p in problems.values() if "upstream_answer" in p.meta]
    assert len(others) == len(CASES)
