"""NumGLUE (MAmmoTH's 1042-question evaluation set, task types 1-4 and 8; in-domain).

Upstream: a JSON array of ``{"question", "answer", "type": "Type_N"}``; answers are ints or strings.  The
162 Type_3 questions list two options in the text (``"... \\nAnswer Choices: (A) web (B) tree"``) and have a
letter gold: the options move to ``choices`` (the question keeps only the stem, and
:func:`tusk.prompts.render_choices` restores the same text).  A letter gold without listed options stays a
plain letter.  Other golds are kept as upstream wrote them (``"1.25"``, ``"August"``).
Ids are ``numglue/<0-based index>``.
"""

from __future__ import annotations

from tusk.benchmarks.base import Benchmark, pinned
from tusk.benchmarks.readers import format_gold, need, read_json_array, split_answer_choices
from tusk.errors import DataError
from tusk.types import Problem


def read_numglue(files, name: str = "numglue") -> list[Problem]:
    problems = []
    for path, relpath in files:
        for index, (where, record) in enumerate(read_json_array(path, relpath)):
            question = need(record, "question", where)
            gold = format_gold(need(record, "answer", where, (int, float, str)))
            stem, choices = question.strip(), ()
            if gold in ("A", "B", "C", "D", "E"):
                stem, choices = split_answer_choices(question, where)
                if choices and gold not in [c[0] for c in choices]:
                    raise DataError(f"{where}: answer {gold!r} is not one of the listed choices")
            problems.append(Problem(id=f"{name}/{index}", benchmark=name, question=stem, answer=gold,
                                    choices=choices, meta={"type": record.get("type")}))
    return problems


BENCHMARK = Benchmark(
    name="numglue",
    domain="in",
    description="NumGLUE: numerical reasoning across eight task formats (Mishra et al. 2022), MAmmoTH's 1042",
    expected_count=1042,
    answer_type="mixed",
    files=pinned("numglue/numglue.json"),
    reader=read_numglue,
)
