"""DeepMind Mathematics (MAmmoTH's 1000-question sample; out-of-domain).

Upstream: a JSON array of ``{"question", "answer"}`` with string answers.  Golds keep their upstream
string: ``"1363.0"``, ``"[2, 3]"``, ``"-20*x"``, ``"12 3 0"`` (the paper's grader could never match some of
these; equivalence is the grader's job, not the loader's).  Ids are ``deepmind/<0-based index>``.
"""

from __future__ import annotations

from tusk.benchmarks.base import Benchmark, pinned
from tusk.benchmarks.readers import format_gold, need, read_json_array
from tusk.types import Problem


def read_deepmind(files, name: str = "deepmind") -> list[Problem]:
    problems = []
    for path, relpath in files:
        for index, (where, record) in enumerate(read_json_array(path, relpath)):
            answer = need(record, "answer", where, (str, int, float, list))
            problems.append(Problem(id=f"{name}/{index}", benchmark=name,
                                    question=need(record, "question", where).strip(),
                                    answer=format_gold(answer)))
    return problems


BENCHMARK = Benchmark(
    name="deepmind",
    domain="out",
    description="DeepMind Mathematics: algebra, arithmetic, calculus, numbers, polynomials (Saxton et al. 2019)",
    expected_count=1000,
    answer_type="expression",
    files=pinned("deepmind/deepmind.json"),
    reader=read_deepmind,
)
