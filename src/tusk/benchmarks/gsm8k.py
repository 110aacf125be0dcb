"""GSM8K test (1319 grade-school word problems; in-domain).

Upstream: JSON lines ``{"question", "answer"}`` where ``answer`` is the worked rationale ending in
``#### <number>``.  Gold: the text after the last ``####`` with thousands separators removed
(``"1,450,000"`` -> ``"1450000"``); the rationale (without the ``####`` line) goes to ``meta["rationale"]``.
Ids are ``gsm8k/<0-based line index>``.
"""

from __future__ import annotations

from tusk.benchmarks.base import Benchmark, pinned
from tusk.benchmarks.readers import need, read_jsonl
from tusk.errors import DataError
from tusk.types import Problem


def read_gsm8k(files, name: str = "gsm8k") -> list[Problem]:
    problems = []
    for path, relpath in files:
        for index, (where, record) in enumerate(read_jsonl(path, relpath)):
            question = need(record, "question", where)
            solution = need(record, "answer", where)
            if "####" not in solution:
                raise DataError(f"{where}: no '####' answer")
            rationale, _, gold = solution.rpartition("####")
            gold = gold.strip().replace(",", "")
            if not gold:
                raise DataError(f"{where}: empty answer after '####'")
            problems.append(Problem(id=f"{name}/{index}", benchmark=name, question=question.strip(),
                                    answer=gold, meta={"rationale": rationale.strip()}))
    return problems


BENCHMARK = Benchmark(
    name="gsm8k",
    domain="in",
    description="GSM8K test: grade-school math word problems (Cobbe et al. 2021)",
    expected_count=1319,
    answer_type="number",
    files=pinned("gsm8k/test.jsonl"),
    reader=read_gsm8k,
)
