"""Verify rationales against gold answers: PoT programs run in the sandbox, outputs graded strictly.

For a PoT example the program (the example's output) runs in :class:`tusk.execution.ProgramPool`; the answer
is the last printed line (:func:`tusk.programs.answer_from_stdout`) and the strict grader judges it against
the problem's gold (a multiple-choice gold is matched through the options).  A CoT example that a teacher
wrote is graded from its text.  Human CoT rationales are kept as they are (``status="human"``).  Records
without a gold answer (published MathInstruct) can only be checked to run and print something
(``rule="no-gold"``); the builder counts those as ``unverified``, never as passed.

Every example gets a :class:`Verdict`: kept or not, the execution status, the prediction and the grader's
rule, so a dropped example always says why.  Verdicts are cached by content (program or text, gold,
choices, grader and its version, time limit) in an append-only JSONL file, flushed to disk after every chunk
of programs: a rerun, even after a build killed mid-verification, only runs what is new.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from tusk.data.records import Candidate

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Verdict:
    kept: bool
    status: str
    """execution status (ok, error, timeout, ...), or "human" / "no-program" for examples not executed"""
    prediction: str | None = None
    rule: str = ""
    error: str | None = None
    seconds: float = 0.0

    @property
    def reason(self) -> str:
        """One word for tables: kept, or the status / "wrong" that dropped the example."""
        if self.kept:
            return "kept"
        if self.status != "ok":
            return self.status
        return "no-answer" if self.prediction is None else "wrong"


@dataclass(frozen=True)
class VerifySettings:
    grader: str = "strict"
    timeout: float = 5.0
    """seconds per program (the paper's limit)"""
    memory_mb: int = 1024
    workers: int | None = None
    """sandbox workers; None: one per core"""
    chunk: int = 256
    choice_tolerance: float = 0.0
    """multiple choice only: when the strict grader finds no exact option, accept the option within this
    relative distance of the printed number (0: strict only; MathQA's rounded options need about 0.02)"""


class VerdictCache:
    """Append-only JSONL of verdicts keyed by content; a torn last line from a killed build is ignored."""

    def __init__(self, path: Path | None):
        self.path = path
        self.entries: dict[str, Verdict] = {}
        if path and path.exists():
            for line in path.read_text(encoding="utf-8").splitlines():
                try:
                    row = json.loads(line)
                    key = row.pop("key")
                    self.entries[key] = Verdict(**row)
                except (ValueError, TypeError, KeyError):
                    log.warning("%s: ignoring an unreadable cache line", path)
        self._fh = None

    def get(self, key: str) -> Verdict | None:
        return self.entries.get(key)

    def put(self, key: str, verdict: Verdict) -> None:
        self.entries[key] = verdict
        if self.path is None:
            return
        if self._fh is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - kept open for appends, closed in close()
        self._fh.write(json.dumps({"key": key, **asdict(verdict)}) + "\n")

    def flush(self) -> None:
        """Make every verdict put so far durable (a build killed afterwards reuses them)."""
        if self._fh:
            self._fh.flush()
            os.fsync(self._fh.fileno())

    def close(self) -> None:
        if self._fh:
            self._fh.close()
            self._fh = None


def verdict_key(candidate: Candidate, grader_id: str, settings: VerifySettings) -> str:
    p, e = candidate.problem, candidate.example
    blob = json.dumps(
        [e.mode, candidate.origin, e.output, p.answer, list(p.choices), p.benchmark, grader_id, settings.timeout,
         settings.choice_tolerance]
    )
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:32]


def verify(
    candidates: Sequence[Candidate],
    settings: VerifySettings = VerifySettings(),
    cache: VerdictCache | None = None,
    progress: Callable[[int], None] | None = None,
    on_cached: Callable[[int], None] | None = None,
) -> list[Verdict]:
    """A verdict per candidate, in input order; ``on_cached`` (default: ``progress``) is told how many needed no
    program run (cached or decided without one)."""
    from tusk.grading import get_grader

    grader = get_grader(settings.grader)
    grader_id = f"{grader.name}@{getattr(grader, 'version', '')}"
    cache = cache or VerdictCache(None)
    verdicts: list[Verdict | None] = [None] * len(candidates)
    keys = [verdict_key(c, grader_id, settings) for c in candidates]
    to_run: list[int] = []
    done = 0
    for i, candidate in enumerate(candidates):
        cached = cache.get(keys[i])
        if cached is not None:
            verdicts[i] = cached
        elif candidate.mode == "pot" and not candidate.example.output.strip():
            verdicts[i] = Verdict(kept=False, status="no-program", rule="no-program")
        elif candidate.mode == "pot":
            to_run.append(i)
            continue
        elif candidate.origin == "human":
            verdicts[i] = Verdict(kept=True, status="human", rule="human")
        else:
            verdicts[i] = _grade_text(grader, candidate)
            cache.put(keys[i], verdicts[i])
        done += 1
    if done and (on_cached or progress):
        (on_cached or progress)(done)
    cache.flush()
    position = 0
    for chunk in _run_programs([candidates[i] for i in to_run], grader, settings):
        for verdict in chunk:
            i = to_run[position]
            verdicts[i] = verdict
            cache.put(keys[i], verdict)
            position += 1
        cache.flush()  # each chunk is on disk before the next one runs
        if progress:
            progress(len(chunk))
    return [v for v in verdicts if v is not None]


def _grade_text(grader, candidate: Candidate) -> Verdict:
    problem = candidate.problem
    if not problem.answer:
        return Verdict(kept=True, status="ok", rule="no-gold")
    grade = grader.grade(candidate.example.output, problem, "cot")
    return Verdict(kept=bool(grade.correct), status="ok", prediction=grade.prediction, rule=grade.rule)


def _judge_program(grader, candidate: Candidate, result, tolerance: float = 0.0) -> Verdict:
    from tusk.programs import answer_from_stdout
    prediction = answer_from_stdout(result.stdout) if result.status == "ok" else None
    common = {"status": result.status, "prediction": prediction, "error": result.error, "seconds": result.seconds}
    if result.status != "ok":
        return Verdict(kept=False, rule="execution", **common)
    if prediction is None:
        return Verdict(kept=False, rule="no-output", **common)
    if not candidate.problem.answer:
        return Verdict(kept=True, rule="no-gold", **common)
    grade = grader.judge(prediction, candidate.problem)
    if not grade.correct and tolerance > 0 and candidate.problem.choices:
        from tusk.data.choices import closest_choice

        try:
            value = float(prediction)
        except ValueError:
            value = None
        if value is not None and closest_choice(value, candidate.problem.choices, tolerance) == candidate.problem.answer:
            return Verdict(kept=True, rule=f"choice_within_{tolerance:g}", **common)
    return Verdict(kept=bool(grade.correct), rule=grade.rule, **common)


def _run_programs(candidates: Sequence[Candidate], grader, settings: VerifySettings) -> Iterator[list[Verdict]]:
    """The verdicts of ``settings.chunk`` programs at a time, in order (nothing is started when there are none)."""
    if not candidates:
        return
    from tusk.execution import ProgramPool, SandboxLimits

    limits = SandboxLimits(timeout=settings.timeout, memory_mb=settings.memory_mb)
    with ProgramPool(workers=settings.workers, limits=limits) as pool:
        for start in range(0, len(candidates), settings.chunk):
            part = candidates[start : start + settings.chunk]
            results = pool.map([c.example.output for c in part])
            yield [_judge_program(grader, c, r, settings.choice_tolerance) for c, r in zip(part, results)]
