"""MATH (Hendrycks et al. 2021) test, 5000 competition problems (in-domain), and its MATH-500 subset (extra).

MATH upstream: one JSON file per problem ``{"problem", "level", "type", "solution"}``; tusk reads them as one
JSON-lines file with an added ``id`` (the per-problem file path, e.g. ``test/algebra/1.json``).  Gold: the
content of the last ``\\boxed{...}`` of the solution (nested braces balanced).  MATH-500 (the PRM800K split)
has its own ``answer`` and ``unique_id`` fields; its gold is ``answer``.
Ids are ``math/<upstream id>`` and ``math500/<unique_id>``, so a MATH-500 problem names its MATH original.
Meta keeps level (an int, or None for "Level ?"), type/subject and the full solution.

Reviewed golds (:data:`REVIEWED_GOLDS`): for 13 problems the last box is not the answer: "enter all the
solutions" problems whose solution boxes each value, "either point is acceptable" problems, and
prealgebra/177, whose solution boxes a step and states the answer (6) in words.  For these the gold is the
full answer (``-2, 1``), ``meta["accepted_answers"]`` lists every accepted answer where there are several,
and ``meta["upstream_answer"]`` keeps the last box: the strict grader accepts any of the accepted answers,
the mammoth grader keeps grading against the upstream last box, as the paper's code did.
"""

from __future__ import annotations

import re

from tusk.benchmarks.base import Benchmark, pinned
from tusk.benchmarks.readers import last_boxed, need, read_jsonl
from tusk.errors import DataError
from tusk.types import Problem

REVIEWED_GOLDS: dict[str, tuple[str, ...]] = {
    # upstream id -> accepted answers (the first is the gold); reviewed against each solution's text
    "test/prealgebra/177.json": ("6",),  # "we have not boxed the correct answer": 6
    "test/algebra/1878.json": ("-2, 1",),
    "test/precalculus/1233.json": ("30^\\circ, 45^\\circ, 105^\\circ",),
    "test/intermediate_algebra/2089.json": ("-10879, 10879",),
    "test/precalculus/1227.json": ("-1, 2",),
    "test/intermediate_algebra/225.json": ("3, \\frac{2}{5}",),
    "test/precalculus/679.json": ("\\frac{\\pi}{4}, \\frac{5\\pi}{4}",),
    "test/intermediate_algebra/1855.json": ("-\\frac{3}{2}, -\\frac{3}{4}",),
    "test/intermediate_algebra/1020.json": ("5 - 10i, 11, -3 + 6i",),
    "test/algebra/1730.json": ("-3", "3"),  # "3 is also accepted"
    "test/intermediate_algebra/25.json": ("(10, 0)", "(0,0)"),  # either focus
    "test/intermediate_algebra/747.json": ("(3,-5)", "(0,0)"),  # "(0,0) is also an acceptable answer"
    "test/intermediate_algebra/702.json": (  # either vertex
        "\\left(\\tfrac32, -\\tfrac52\\right)",
        "\\left(-\\tfrac52, -\\tfrac52\\right)",
    ),
}


def _level(text: str) -> int | None:
    match = re.fullmatch(r"Level (\d+)", text.strip())
    return int(match.group(1)) if match else None


def read_math(files, name: str = "math") -> list[Problem]:
    problems = []
    for path, relpath in files:
        for index, (where, record) in enumerate(read_jsonl(path, relpath)):
            solution = need(record, "solution", where)
            gold = last_boxed(solution)
            if gold is None or not gold.strip():
                raise DataError(f"{where}: no \\boxed{{...}} answer in the solution")
            upstream_id = record.get("id") or str(index)
            level = need(record, "level", where)
            meta = {"level": _level(level), "type": need(record, "type", where), "solution": solution}
            accepted = REVIEWED_GOLDS.get(upstream_id)
            if accepted:
                meta["upstream_answer"] = gold.strip()
                if len(accepted) > 1:
                    meta["accepted_answers"] = list(accepted)
            problems.append(Problem(
                id=f"{name}/{upstream_id}", benchmark=name, question=need(record, "problem", where).strip(),
                answer=accepted[0] if accepted else gold.strip(), meta=meta,
            ))
    return problems


def read_math500(files, name: str = "math500") -> list[Problem]:
    problems = []
    for path, relpath in files:
        for index, (where, record) in enumerate(read_jsonl(path, relpath)):
            level = record.get("level")
            problems.append(Problem(
                id=f"{name}/{record.get('unique_id') or index}", benchmark=name,
                question=need(record, "problem", where).strip(), answer=need(record, "answer", where).strip(),
                meta={"level": level if isinstance(level, int) else _level(str(level or "")),
                      "type": record.get("subject"), "solution": record.get("solution", "")},
            ))
    return problems


MATH = Benchmark(
    name="math",
    domain="in",
    description="MATH test: competition mathematics, 7 subjects, levels 1-5 (Hendrycks et al. 2021)",
    expected_count=5000,
    answer_type="latex",
    files=pinned("math/hendrycks_test.jsonl"),
    reader=read_math,
)

MATH500 = Benchmark(
    name="math500",
    domain="extra",
    description="MATH-500: the 500-problem MATH test subset of PRM800K (Lightman et al. 2023)",
    expected_count=500,
    answer_type="latex",
    files=pinned("math/test_math500.jsonl"),
    reader=read_math500,
)
