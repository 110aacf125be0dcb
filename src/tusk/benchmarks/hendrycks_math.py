"""MATH (Hendrycks et al. 2021) test, 5000 competition problems (in-domain), and its MATH-500 subset (extra).

MATH upstream: one JSON file per problem ``{"problem", "level", "type", "solution"}``; tusk reads them as one
JSON-lines file with an added ``id`` (the per-problem file path, e.g. ``test/algebra/1.json``).  Gold: the
content of the last ``\\boxed{...}`` of the solution (nested braces balanced).  MATH-500 (the PRM800K split)
has its own ``answer`` and ``unique_id`` fields; its gold is ``answer``.
Ids are ``math/<upstream id>`` and ``math500/<unique_id>``, so a MATH-500 problem names its MATH original.
Meta keeps level (an int, or None for "Level ?"), type/subject and the full solution.
"""

from __future__ import annotations

import re

from tusk.benchmarks.base import Benchmark, pinned
from tusk.benchmarks.readers import last_boxed, need, read_jsonl
from tusk.errors import DataError
from tusk.types import Problem


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
            problems.append(Problem(
                id=f"{name}/{upstream_id}", benchmark=name, question=need(record, "problem", where).strip(),
                answer=gold.strip(),
                meta={"level": _level(level), "type": need(record, "type", where), "solution": solution},
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
