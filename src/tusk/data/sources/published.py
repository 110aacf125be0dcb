"""Loaders for ready-made instruction data: the published MathInstruct JSON, and a generic JSON/JSONL format
for users' own problems.

MathInstruct records are ``{"source": "data/PoT/mathqa.json", "instruction": ..., "output": ...}``; the mode
comes from the ``/CoT/`` or ``/PoT/`` part of ``source`` and the original sub-source name is kept.  They carry
no separate gold answer, so their PoT programs can only be checked to run and print an answer (the builder
records them as ``unverified`` when no gold exists).

Camel-Math records (``{"message_1": question, "message_2": answer text, "topic;": ..., "sub_topic": ...}``,
one JSON object per upstream file; concatenate them into JSON lines) become CoT examples without a gold
answer, as in MathInstruct, where they were not validated.

The generic format (``jsonl`` source) reads records with ``question`` (or ``instruction``), ``answer``,
optional ``output`` (a rationale), ``mode`` (cot/pot), ``choices`` and ``benchmark``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from tusk.data.records import SourceItem
from tusk.data.sources.base import answer_string, at, field, question_text, read_records
from tusk.errors import DataError
from tusk.types import Problem, TrainingExample

# sub-source name fragment -> benchmark whose grading rules fit it
_BENCHMARK_HINTS = (
    ("gsm", "gsm8k"),
    ("math_train", "math"),
    ("aqua", "aqua"),
    ("mathqa", "aqua"),
    ("numglue", "numglue"),
    ("theoremqa", "theoremqa"),
)


def mathinstruct_subsource(source: str) -> tuple[str, str]:
    """``"data/PoT/mathqa.json"`` -> (``"mathqa"``, ``"pot"``)."""
    mode = "pot" if re.search(r"(^|/)PoT(/|$)", source) else "cot"
    name = Path(source).stem or "unknown"
    return name, mode


def load_mathinstruct(path: Path) -> Iterator[SourceItem]:
    for where, record in read_records(path):
        instruction = question_text(path, where, record, "instruction")
        output = str(field(path, where, record, "output"))
        source = str(record.get("source") or "")
        name, mode = mathinstruct_subsource(source)
        lowered = name.lower()
        benchmark = next((b for hint, b in _BENCHMARK_HINTS if hint in lowered), "math")
        problem = Problem(
            id=f"mathinstruct/{where}", benchmark=benchmark, question=instruction, answer="", meta={"source": source}
        )
        example = TrainingExample(
            instruction=instruction,
            input=str(record.get("input") or ""),
            output=output,
            mode=mode,  # type: ignore[arg-type]
            source=f"mathinstruct/{name}",
            provenance={"file": path.name, "index": where, "source": source},
        )
        yield SourceItem(problem, example)


def load_generic(path: Path) -> Iterator[SourceItem]:
    from tusk.prompts import instruction_for

    for where, record in read_records(path):
        question = question_text(path, where, record, "question", "instruction")
        answer = answer_string(record.get("answer", ""))
        choices = record.get("choices") or ()
        if not isinstance(choices, (list, tuple)):
            raise DataError(f"{at(path, where)}: 'choices' must be a list like [\"A)24\", \"B)30\"]")
        mode = str(record.get("mode") or "cot")
        if mode not in ("cot", "pot"):
            raise DataError(f"{at(path, where)}: mode must be cot or pot, got {mode!r}")
        problem = Problem(
            id=str(record.get("id") or f"{path.stem}/{where}"),
            benchmark=str(record.get("benchmark") or "math"),
            question=question,
            answer=answer,
            choices=tuple(str(c) for c in choices),
        )
        example = None
        if record.get("output"):
            example = TrainingExample(
                instruction=instruction_for(problem, mode),  # type: ignore[arg-type]
                output=str(record["output"]),
                mode=mode,  # type: ignore[arg-type]
                source=path.stem,
                answer=answer or None,
                provenance={"file": path.name, "line": where},
            )
        yield SourceItem(problem, example)


def load_camel(path: Path) -> Iterator[SourceItem]:
    for where, record in read_records(path):
        question = question_text(path, where, record, "message_1")
        output = str(field(path, where, record, "message_2")).strip()
        topic = str(record.get("sub_topic") or record.get("topic;") or record.get("topic") or "")
        problem = Problem(id=f"camel/{path.stem}/{where}", benchmark="math", question=question, answer="",
                          meta={"topic": topic})
        example = TrainingExample(
            instruction=question, output=output, mode="cot", source="camel",
            provenance={"file": path.name, "line": where, "topic": topic},
        )
        yield SourceItem(problem, example)
