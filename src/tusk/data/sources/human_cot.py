"""Loaders for the human-written chain-of-thought sources: GSM8K, MATH and AQuA-RAT.

The outputs follow MathInstruct: GSM8K solutions lose their ``<<48/2=24>>`` calculator annotations and end
with "The answer is N" instead of "#### N"; MATH solutions are kept as written (the gold stays in the last
``\\boxed{}``); AQuA-RAT rationales get the multiple-choice opening the evaluation prompt uses and end with
"The answer is X".  Each item's :class:`~tusk.types.Problem` carries the gold for grading.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from tusk.benchmarks.readers import last_boxed  # the same gold rule as evaluation
from tusk.data.records import SourceItem
from tusk.data.sources.base import at, field, question_text, read_records
from tusk.errors import DataError
from tusk.prompts import instruction_for
from tusk.types import Problem, TrainingExample

_CALC = re.compile(r"<<[^<>]*>>")
MC_OPENING = "Let's solve the multi-choice question step by step.\n"


def gsm8k_rationale(solution: str) -> tuple[str, str]:
    """(cleaned rationale ending in "The answer is N", gold N) from a GSM8K ``answer`` field."""
    body, sep, gold = solution.rpartition("####")
    if not sep:
        raise ValueError("no '####' answer")
    gold = gold.strip().replace(",", "")
    if not gold:
        raise ValueError("empty answer after '####'")
    steps = _CALC.sub("", body).strip()
    return f"{steps}\nThe answer is {gold}", gold


def load_gsm8k(path: Path) -> Iterator[SourceItem]:
    for where, record in read_records(path):
        question = question_text(path, where, record, "question")
        try:
            output, gold = gsm8k_rationale(str(field(path, where, record, "answer")))
        except ValueError as exc:
            raise DataError(f"{at(path, where)}: {exc}") from exc
        problem = Problem(id=f"gsm8k/{path.stem}/{where}", benchmark="gsm8k", question=question, answer=gold)
        example = TrainingExample(
            instruction=instruction_for(problem, "cot"),
            output=output,
            mode="cot",
            source="gsm8k",
            answer=gold,
            provenance={"file": path.name, "line": where},
        )
        yield SourceItem(problem, example)


def load_math(path: Path) -> Iterator[SourceItem]:
    for where, record in read_records(path):
        question = question_text(path, where, record, "problem")
        solution = str(field(path, where, record, "solution")).strip()
        gold = last_boxed(solution)
        if gold is None:
            raise DataError(f"{at(path, where)}: solution has no \\boxed{{}} answer")
        upstream = str(record.get("id") or where)
        meta = {"level": record.get("level", ""), "type": record.get("type", "")}
        problem = Problem(id=f"math/{upstream}", benchmark="math", question=question, answer=gold, meta=meta)
        example = TrainingExample(
            instruction=instruction_for(problem, "cot"),
            output=solution,
            mode="cot",
            source="math",
            answer=gold,
            provenance={"file": path.name, "id": upstream, **meta},
        )
        yield SourceItem(problem, example)


def load_aqua(path: Path) -> Iterator[SourceItem]:
    for where, record in read_records(path):
        question = question_text(path, where, record, "question")
        options = field(path, where, record, "options")
        correct = str(field(path, where, record, "correct")).strip().upper()
        rationale = str(record.get("rationale") or "").strip()
        if not isinstance(options, list) or not options:
            raise DataError(f"{at(path, where)}: 'options' must be a non-empty list")
        choices = tuple(str(o).strip() for o in options)
        if not re.fullmatch(r"[A-E]", correct):
            raise DataError(f"{at(path, where)}: 'correct' must be a letter A-E, got {correct!r}")
        problem = Problem(
            id=f"aqua/{path.stem}/{where}", benchmark="aqua", question=question, answer=correct, choices=choices
        )
        example = None
        if rationale:
            example = TrainingExample(
                instruction=instruction_for(problem, "cot"),
                output=f"{MC_OPENING}{rationale}\nThe answer is {correct}.",
                mode="cot",
                source="aqua",
                answer=correct,
                provenance={"file": path.name, "line": where},
            )
        yield SourceItem(problem, example)
