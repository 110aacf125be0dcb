"""tusk's own smoke set: 35 short problems written for the project, shipped inside the package.

Arithmetic word problems, fractions, percentages, simple algebra, a few LaTeX answers and eight
multiple-choice questions, each with a checked gold answer; easy enough that a 0.5B model solves some, so an
end-to-end run shows a non-trivial score in seconds.  It needs no data folder and no network: the file is
``tusk/resources/smoke.jsonl``, read through :mod:`importlib.resources`.
Records: ``{"id", "topic", "question", "answer", "choices"?}``; ids are ``smoke/<id>``.
"""

from __future__ import annotations

from importlib import resources

from tusk.benchmarks.base import Benchmark
from tusk.benchmarks.readers import check_choice_answer, need, read_jsonl
from tusk.errors import DataError
from tusk.types import Problem

RESOURCE = "resources/smoke.jsonl"


def read_smoke(files=(), name: str = "smoke") -> list[Problem]:
    """Problems from ``files``, or from the packaged smoke set when ``files`` is empty."""
    if not files:
        with resources.as_file(resources.files("tusk").joinpath(RESOURCE)) as path:
            return read_smoke([(path, f"tusk/{RESOURCE}")], name)
    problems = []
    seen: set[str] = set()
    for path, relpath in files:
        for where, record in read_jsonl(path, relpath):
            ident = need(record, "id", where)
            if ident in seen:
                raise DataError(f"{where}: duplicate id {ident!r}")
            seen.add(ident)
            choices = tuple(need(record, "choices", where, list)) if "choices" in record else ()
            gold = need(record, "answer", where).strip()
            if choices:
                check_choice_answer(choices, gold, where)
            problems.append(Problem(id=f"{name}/{ident}", benchmark=name,
                                    question=need(record, "question", where).strip(), answer=gold,
                                    choices=choices, meta={"topic": record.get("topic", "")}))
    return problems


BENCHMARK = Benchmark(
    name="smoke",
    domain="smoke",
    description="tusk's own 35-problem smoke set (packaged; needs no data folder)",
    expected_count=35,
    answer_type="mixed",
    files=(),
    reader=read_smoke,
)
