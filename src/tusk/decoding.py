"""Decoding: turn generated text into predictions, by CoT, PoT, hybrid fallback, and majority vote.

- ``cot``: the answer is extracted from the model's prose.
- ``pot``: the program is extracted from the generation, run in the sandbox, and the answer is extracted from
  its stdout.  A program that fails (any status but ``ok``) or prints nothing gives no answer.
- ``hybrid`` (the paper's): PoT first; if it gives no answer (no program, the program failed or printed nothing,
  or nothing could be extracted), the question is asked again in CoT and that answer is used.  One fallback, no
  third try.  :func:`needs_fallback` is the single rule, used by the evaluator.
- ``vote``: self-consistency; answers are grouped by the grader's equivalence, not by string, so ``0.5`` and
  ``\\frac{1}{2}`` vote together, and a vote may mix PoT and CoT answers.

This module decides nothing about prompts or backends; the evaluator feeds it generations.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from tusk.types import ExecutionResult, Grade, Mode, Prediction, Problem


class Executor(Protocol):
    """What decoding needs from the sandbox (``tusk.execution.ProgramPool`` provides it)."""

    def map(self, codes: Iterable[str]) -> Iterable[ExecutionResult]: ...


class AnswerGrader(Protocol):
    """What decoding needs from a grader (``tusk.grading.get_grader`` provides it)."""

    name: str
    version: str

    def extract(self, response: str, problem: Problem, mode: Mode) -> str | None: ...

    def judge(self, prediction: str | None, problem: Problem) -> Grade: ...

    def equivalent(self, a: str, b: str, problem: Problem) -> bool: ...


def decode_cot(texts: Sequence[str], problem: Problem, grader: AnswerGrader) -> list[Prediction]:
    return [Prediction("cot", text, grader.extract(text, problem, "cot")) for text in texts]


def decode_pot(
    texts: Sequence[str], problem: Problem, grader: AnswerGrader, executor: Executor
) -> list[Prediction]:
    """Extract, run and read the program of every text (programs run as one batch through the executor)."""
    from tusk.programs import extract_program

    programs = [extract_program(text) for text in texts]
    runnable = [p for p in programs if p]
    results = iter(list(executor.map(runnable)) if runnable else [])
    predictions = []
    for text, program in zip(texts, programs):
        if not program:
            predictions.append(Prediction("pot", text, None))
            continue
        result = next(results)
        answer = None
        if result.ok and result.stdout.strip():
            answer = grader.extract(result.stdout, problem, "pot")
        predictions.append(Prediction("pot", text, answer, program=program, execution=result))
    return predictions


def needs_fallback(prediction: Prediction) -> bool:
    """Hybrid decoding's rule: fall back to CoT when PoT produced no answer.  The grader's ``extract`` gives
    None for printed output without answer content (``None``, ``nan``, ``[]``, ``set()``, ``Error: ...``,
    ``No solution``; for numeric benchmarks any line without a digit), so those fall back too."""
    return prediction.answer is None or not prediction.answer.strip()


def as_fallback(prediction: Prediction, failed: Prediction | None = None) -> Prediction:
    """Mark a CoT prediction as the result of a hybrid fallback, keeping the ``failed`` PoT attempt's program
    and execution result (why it fell back)."""
    return Prediction(prediction.mode, prediction.response, prediction.answer, fell_back=True,
                      program=failed.program if failed else None, execution=failed.execution if failed else None)


@dataclass(frozen=True)
class Vote:
    """The outcome of a majority vote: the winning prediction and the size of each answer group."""

    winner: Prediction
    counts: tuple[tuple[str, int], ...]


def vote(predictions: Sequence[Prediction], problem: Problem, grader: AnswerGrader) -> Vote:
    """Majority vote over equivalent answers; ties go to the group seen first.  Unanswered samples abstain."""
    if not predictions:
        raise ValueError("vote needs at least one prediction")
    groups: list[list[Prediction]] = []
    for prediction in predictions:
        if needs_fallback(prediction):
            continue
        for group in groups:
            if grader.equivalent(group[0].answer, prediction.answer, problem):  # type: ignore[arg-type]
                group.append(prediction)
                break
        else:
            groups.append([prediction])
    if not groups:
        return Vote(predictions[0], ())
    best = max(groups, key=len)  # max keeps the first of equal-sized groups
    counts = tuple((g[0].answer or "", len(g)) for g in groups)
    return Vote(best[0], counts)
