"""AQuA-RAT test (254 algebraic word problems with five options; in-domain).

Upstream: JSON lines (in a ``.json`` file) ``{"question", "options": ["A)21", ...], "rationale",
"correct": "C"}``.  Gold: the letter; choices: the options as upstream wrote them; the rationale goes to
``meta["rationale"]``.  Ids are ``aqua/<0-based line index>``.
"""

from __future__ import annotations

from tusk.benchmarks.base import Benchmark, pinned
from tusk.benchmarks.readers import check_choice_answer, need, read_jsonl
from tusk.types import Problem


def read_aqua(files, name: str = "aqua") -> list[Problem]:
    problems = []
    for path, relpath in files:
        for index, (where, record) in enumerate(read_jsonl(path, relpath)):
            options = need(record, "options", where, list)
            choices = tuple(str(o).strip() for o in options)
            gold = need(record, "correct", where).strip().upper()
            check_choice_answer(choices, gold, where, noun="options")
            problems.append(Problem(id=f"{name}/{index}", benchmark=name,
                                    question=need(record, "question", where).strip(), answer=gold,
                                    choices=choices, meta={"rationale": record.get("rationale", "")}))
    return problems


BENCHMARK = Benchmark(
    name="aqua",
    domain="in",
    description="AQuA-RAT test: algebraic word problems, five options (Ling et al. 2017)",
    expected_count=254,
    answer_type="choice",
    files=pinned("aqua/test.json"),
    reader=read_aqua,
)
