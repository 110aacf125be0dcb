"""Loaders for sources that hold questions and gold answers but no rationales: NumGLUE and TheoremQA.

Their items have ``example=None``: the builder synthesises CoT or PoT rationales for them with a teacher
model and keeps only those that verify against the gold.  NumGLUE letter answers keep the options listed in
the question (``Answer Choices: (A) web (B) tree``) as choices; DROP-style records (passage + question,
answer ``{"number": ...}``) are read too.  TheoremQA items with a picture are skipped (text-only models).

Note: the copies of NumGLUE and TheoremQA in the shared data folder are the *evaluation* sets (their registry
entries set ``eval_set``).  A build with such a component always adds that benchmark to the decontamination
set (and says so in its log and manifest), so every such example is dropped unless ``decontaminate: false``
(then the build warns that evaluation questions go into ``train.json``).  Building from them is useful for
tests; for training use the NumGLUE train split (``url`` in the registry).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path

from tusk.data.records import SourceItem
from tusk.data.sources.base import answer_string, at, field, question_text, read_records
from tusk.errors import DataError
from tusk.types import Problem

log = logging.getLogger(__name__)

_CHOICES = re.compile(r"\s*Answer Choices:\s*(.*)$", re.DOTALL)
_CHOICE_ITEM = re.compile(r"\(([A-Ea-e])\)\s*(.*?)\s*(?=\([A-Ea-e]\)|$)", re.DOTALL)


def split_question_choices(text: str) -> tuple[str, tuple[str, ...]]:
    """``"... ? \\nAnswer Choices: (A) web (B) tree"`` -> (question, ("A)web", "B)tree"))."""
    match = _CHOICES.search(text)
    if not match:
        return text.strip(), ()
    choices = tuple(
        f"{m.group(1).upper()}){m.group(2).strip().rstrip('.').strip()}" for m in _CHOICE_ITEM.finditer(match.group(1))
    )
    if not choices:
        return text.strip(), ()
    return text[: match.start()].strip(), choices


def _numglue_answer(path: Path, where: int, value: object) -> str:
    if isinstance(value, dict):  # DROP-style {"number": "12", "spans": [...], "date": {...}}
        if str(value.get("number", "")).strip():
            return str(value["number"]).strip()
        spans = value.get("spans") or []
        if spans:
            return str(spans[0]).strip()
        raise DataError(f"{at(path, where)}: answer object has neither a number nor a span")
    return answer_string(value)


def load_numglue(path: Path) -> Iterator[SourceItem]:
    for where, record in read_records(path):
        text = question_text(path, where, record, "question", "Question")
        passage = str(record.get("passage") or "").strip()
        if passage:
            text = f"{passage}\n{text}"
        answer = _numglue_answer(path, where, field(path, where, record, "answer", "Answer"))
        question, choices = split_question_choices(text)
        if answer and re.fullmatch(r"[A-E]", answer) and not choices:
            log.debug("%s record %s: letter answer without listed options", path, where)
        meta = {"type": str(record.get("type", ""))}
        yield SourceItem(
            Problem(
                id=f"numglue/{path.stem}/{where}",
                benchmark="numglue",
                question=question,
                answer=answer,
                choices=choices if re.fullmatch(r"[A-E]", answer) else (),
                meta=meta,
            )
        )


def load_theoremqa(path: Path) -> Iterator[SourceItem]:
    skipped = 0
    for where, record in read_records(path):
        if record.get("Picture"):
            skipped += 1
            continue
        question = question_text(path, where, record, "Question", "question")
        answer = answer_string(field(path, where, record, "Answer", "answer"))
        upstream = str(record.get("id") or where)
        meta = {"answer_type": str(record.get("Answer_type", "")), "theorem": str(record.get("theorem", ""))}
        yield SourceItem(
            Problem(id=f"theoremqa/{upstream}", benchmark="theoremqa", question=question, answer=answer, meta=meta)
        )
    if skipped:
        log.info("%s: skipped %d questions that need a picture", path, skipped)
