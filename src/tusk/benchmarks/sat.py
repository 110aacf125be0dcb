"""SAT-Math (220 four-option questions from AGIEval; out-of-domain).

Upstream (MAmmoTH's copy): a JSON array of ``{"question", "answer": "D"}`` where the question ends in
``"\\nAnswer Choices: (A) 2 (B) 4 (C) 9 (D) 10"``.  The options move to ``choices`` (``("A)2", ...)``) and
the question keeps its stem; the gold is the letter.  Ids are ``sat/<0-based index>``.
"""

from __future__ import annotations

from tusk.benchmarks.base import Benchmark, pinned
from tusk.benchmarks.readers import need, read_json_array, split_answer_choices
from tusk.errors import DataError
from tusk.types import Problem


def read_sat(files, name: str = "sat") -> list[Problem]:
    problems = []
    for path, relpath in files:
        for index, (where, record) in enumerate(read_json_array(path, relpath)):
            stem, choices = split_answer_choices(need(record, "question", where), where)
            gold = need(record, "answer", where).strip().upper()
            if not choices:
                raise DataError(f"{where}: no 'Answer Choices:' in the question")
            if gold not in [c[0] for c in choices]:
                raise DataError(f"{where}: answer {gold!r} is not one of the choices")
            problems.append(Problem(id=f"{name}/{index}", benchmark=name, question=stem, answer=gold,
                                    choices=choices))
    return problems


BENCHMARK = Benchmark(
    name="sat",
    domain="out",
    description="SAT-Math: SAT math questions with four options, from AGIEval (Zhong et al. 2023)",
    expected_count=220,
    answer_type="choice",
    files=pinned("sat/sat.json"),
    reader=read_sat,
)
