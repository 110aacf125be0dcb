"""SimulEq (514 word problems solved by simultaneous linear equations; out-of-domain).

Upstream: a JSON array of ``{"question", "answer"}``.  MAmmoTH's file keeps one value per question (a
string, the first unknown); a list of values (all unknowns) is accepted too and becomes ``"[15, 9]"`` with
the values in ``meta["answers"]``.  Ids are ``simuleq/<0-based index>``.
"""

from __future__ import annotations

from tusk.benchmarks.base import Benchmark, pinned
from tusk.benchmarks.readers import format_gold, need, read_json_array
from tusk.errors import DataError
from tusk.types import Problem


def read_simuleq(files, name: str = "simuleq") -> list[Problem]:
    problems = []
    for path, relpath in files:
        for index, (where, record) in enumerate(read_json_array(path, relpath)):
            answer = need(record, "answer", where, (str, int, float, list))
            meta = {}
            if isinstance(answer, list):
                if not answer:
                    raise DataError(f"{where}: field 'answer' is an empty list")
                meta["answers"] = [format_gold(v) for v in answer]
            problems.append(Problem(id=f"{name}/{index}", benchmark=name,
                                    question=need(record, "question", where).strip(),
                                    answer=format_gold(answer), meta=meta))
    return problems


BENCHMARK = Benchmark(
    name="simuleq",
    domain="out",
    description="SimulEq: word problems needing simultaneous equations (Koncel-Kedziorski et al. 2016)",
    expected_count=514,
    answer_type="number",
    files=pinned("simuleq/simuleq.json"),
    reader=read_simuleq,
)
