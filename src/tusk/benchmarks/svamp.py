"""SVAMP (1000 varied one-unknown arithmetic word problems; out-of-domain).

Upstream: a JSON array of ``{"ID", "Body", "Question", "Equation", "Answer": 51.0, "Type"}``.  The question
is ``Body + " " + Question`` (as the paper's evaluation joins them); the gold is the number without a
spurious ``.0``.  Ids are ``svamp/<ID>`` (``svamp/chal-1``); meta keeps the equation and type.
"""

from __future__ import annotations

from tusk.benchmarks.base import Benchmark, pinned
from tusk.benchmarks.readers import format_gold, need, read_json_array
from tusk.types import Problem


def read_svamp(files, name: str = "svamp") -> list[Problem]:
    problems = []
    for path, relpath in files:
        for index, (where, record) in enumerate(read_json_array(path, relpath)):
            body = need(record, "Body", where).strip()
            question = need(record, "Question", where).strip()
            answer = need(record, "Answer", where, (int, float))
            problems.append(Problem(
                id=f"{name}/{record.get('ID') or index}", benchmark=name, question=f"{body} {question}",
                answer=format_gold(answer),
                meta={"equation": record.get("Equation", ""), "type": record.get("Type", "")},
            ))
    return problems


BENCHMARK = Benchmark(
    name="svamp",
    domain="out",
    description="SVAMP: arithmetic word problems with structural variations (Patel et al. 2021)",
    expected_count=1000,
    answer_type="number",
    files=pinned("svamp/SVAMP.json"),
    reader=read_svamp,
)
