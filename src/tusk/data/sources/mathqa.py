"""MathQA as program-of-thought data: each ``linear_formula`` becomes a Python program (see
:mod:`tusk.data.sources.mathqa_program`).

Each item's problem is the multiple-choice question (choices ``"A)24"`` ...; gold = the correct letter,
graded like AQuA-RAT).  The example is the translated program, instruction = question + choices + PoT
trigger.  Records whose formula cannot be translated keep ``example=None`` and say why in
``problem.meta["program_error"]``.  Programs are not trusted: the builder executes each one and keeps it only
if its output matches the correct option.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

from tusk.data.records import SourceItem
from tusk.data.sources.base import at, field, question_text, read_records
from tusk.data.sources.mathqa_program import ProgramError, translate
from tusk.errors import DataError
from tusk.prompts import instruction_for
from tusk.types import Problem, TrainingExample

_OPTION = re.compile(r"([a-eA-E])\s*\)\s*(.*?)\s*(?=,\s*[a-eA-E]\s*\)|$)", re.DOTALL)


def parse_options(options: object) -> tuple[str, ...]:
    """MathQA options (``"a ) 24 , b ) 120 , ..."`` or a list of ``"a ) 24"``) -> ``("A)24", "B)120", ...)``."""
    if isinstance(options, str) and options.strip().startswith("["):
        try:
            options = ast.literal_eval(options.strip())
        except (ValueError, SyntaxError):
            pass
    if isinstance(options, list):
        options = " , ".join(str(o).strip() for o in options)
    text = str(options).strip()
    found = [(m.group(1).upper(), m.group(2).strip().strip("'\"").strip()) for m in _OPTION.finditer(text)]
    return tuple(f"{letter}){value}" for letter, value in found)


def load_mathqa(path: Path) -> Iterator[SourceItem]:
    for where, record in read_records(path):
        question = question_text(path, where, record, "Problem", "problem")
        choices = parse_options(field(path, where, record, "options"))
        correct = str(field(path, where, record, "correct")).strip().upper()
        letters = [c[0] for c in choices]
        if correct not in letters:
            raise DataError(f"{at(path, where)}: correct option {correct!r} not among {letters}")
        meta: dict[str, object] = {"category": record.get("category", "")}
        try:
            program = translate(str(field(path, where, record, "linear_formula")), question)
        except ProgramError as exc:
            program, meta["program_error"] = None, str(exc)
        problem = Problem(
            id=f"mathqa/{path.stem}/{where}",
            benchmark="aqua",
            question=question,
            answer=correct,
            choices=choices,
            meta=meta,
        )
        example = None
        if program is not None:
            example = TrainingExample(
                instruction=instruction_for(problem, "pot"),
                output=program,
                mode="pot",
                source="mathqa",
                answer=correct,
                provenance={"file": path.name, "index": where, "formula": record.get("linear_formula", "")},
            )
        yield SourceItem(problem, example)
