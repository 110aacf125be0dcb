"""TheoremQA test (800 theorem-driven questions in math, EECS, physics and finance; extra).

Upstream: a JSON array of ``{"Question", "Answer", "Answer_type", "Picture", "id", "theorem", "field",
"subfield", ...}``.  Answers are numbers, bools, lists or options, by ``Answer_type``: golds become
``"11760"``, ``"0.00004"``, ``"True"``, ``"[0, 5]"`` or the option as written (``"(c)"``; the options stay in
the question text, lettered (a), (b), ...).  ``meta`` keeps answer_type, theorem, field, subfield and the
picture path (53 questions refer to an image that is not part of the text).
Ids are ``theoremqa/<upstream id>``.
"""

from __future__ import annotations

from tusk.benchmarks.base import Benchmark, pinned
from tusk.benchmarks.readers import format_gold, need, read_json_array
from tusk.types import Problem

_KEPT = ("Answer_type", "theorem", "field", "subfield", "Picture")


def read_theoremqa(files, name: str = "theoremqa") -> list[Problem]:
    problems = []
    for path, relpath in files:
        for index, (where, record) in enumerate(read_json_array(path, relpath)):
            answer = need(record, "Answer", where, (int, float, bool, str, list))
            problems.append(Problem(
                id=f"{name}/{record.get('id') or index}", benchmark=name,
                question=need(record, "Question", where).strip(), answer=format_gold(answer),
                meta={key.lower(): record.get(key) for key in _KEPT},
            ))
    return problems


BENCHMARK = Benchmark(
    name="theoremqa",
    domain="extra",
    description="TheoremQA: university-level questions that apply a theorem (Chen et al. 2023)",
    expected_count=800,
    answer_type="mixed",
    files=pinned("theoremqa/theoremqa_test.json"),
    reader=read_theoremqa,
)
