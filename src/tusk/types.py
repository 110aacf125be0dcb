"""The values that flow between tusk's stages.

Every type here is a frozen dataclass: a stage takes some of them and returns new ones, nothing mutates
a shared dict.  Fields hold plain values (str, int, float, tuples, read-only mappings) so that every
object can be written to JSON with :func:`to_dict` and read back.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Mode = Literal["cot", "pot"]
"""How a single answer was produced: prose reasoning (cot) or an executed program (pot)."""

DecodingMode = Literal["cot", "pot", "hybrid"]
"""What ``tusk eval --mode`` asks for; hybrid is PoT first with one CoT fallback."""

Domain = Literal["in", "out", "extra", "smoke"]
"""The paper's split of the evaluation sets; extra = TheoremQA / MATH-500, smoke = tusk's own set."""

ExecutionStatus = Literal["ok", "error", "timeout", "memory", "output_limit", "killed"]
EXECUTION_STATUSES: tuple[str, ...] = ("ok", "error", "timeout", "memory", "output_limit", "killed")


@dataclass(frozen=True)
class Problem:
    """One evaluation question.

    ``id`` is stable across runs and machines (``<benchmark>/<upstream id or index>``); ``answer`` is the
    gold answer as a string (a letter such as ``"C"`` for multiple choice); ``choices`` are the options as
    rendered upstream, ``("A)24", "B)30", ...)``, empty for free-form questions.
    """

    id: str
    benchmark: str
    question: str
    answer: str
    choices: tuple[str, ...] = ()
    meta: Mapping[str, Any] = field(default_factory=dict)

    @property
    def is_multiple_choice(self) -> bool:
        return bool(self.choices)


@dataclass(frozen=True)
class SamplingParams:
    """How to decode. ``temperature == 0`` means greedy; ``n`` samples per prompt (self-consistency)."""

    max_tokens: int = 1024
    temperature: float = 0.0
    top_p: float = 1.0
    n: int = 1
    stop: tuple[str, ...] = ()
    seed: int = 0

    @property
    def greedy(self) -> bool:
        return self.temperature <= 0.0


@dataclass(frozen=True)
class Request:
    """One prompt to complete. ``id`` is unique within a run and is echoed by the backend."""

    id: str
    prompt: str
    sampling: SamplingParams = SamplingParams()


@dataclass(frozen=True)
class Generation:
    """A backend's answer to one :class:`Request`: ``n`` completions of the prompt (without the prompt)."""

    request_id: str
    texts: tuple[str, ...]
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    finish_reasons: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        return self.texts[0] if self.texts else ""


@dataclass(frozen=True)
class ExecutionResult:
    """What happened when one program ran in the sandbox.

    ``error`` is the last traceback line for ``status == "error"`` (or a reason for the other failures);
    output printed before a failure is kept in ``stdout`` / ``stderr``.
    """

    status: ExecutionStatus
    stdout: str = ""
    stderr: str = ""
    seconds: float = 0.0
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"


@dataclass(frozen=True)
class Prediction:
    """The decoded answer to one problem (before grading).

    ``mode`` is how the answer was produced; ``response`` the generated text (for PoT the generation that
    holds the program); ``program`` and ``execution`` are set for PoT; ``fell_back`` is True when hybrid
    decoding fell back from PoT to CoT, and then ``program`` and ``execution`` are the failed PoT attempt's;
    ``answer`` is the extracted answer (None if nothing was found).
    """

    mode: Mode
    response: str
    answer: str | None
    program: str | None = None
    execution: ExecutionResult | None = None
    fell_back: bool = False


@dataclass(frozen=True)
class Grade:
    """A verdict with its evidence: what was extracted, the normalised forms compared, the deciding rule."""

    correct: bool
    prediction: str | None
    gold: str
    rule: str
    normalized_prediction: str | None = None
    normalized_gold: str | None = None
    timed_out: bool = False
    grader: str = ""


@dataclass(frozen=True)
class SampleRecord:
    """One line of ``samples.jsonl``: a problem, everything generated for it, and its grade."""

    id: str
    benchmark: str
    prompt: str
    generations: tuple[str, ...]
    prediction: str | None
    gold: str
    correct: bool
    mode: Mode
    fell_back: bool = False
    program: str | None = None
    execution_status: str | None = None
    grade_rule: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class BenchmarkScore:
    n: int
    correct: int
    domain: Domain

    @property
    def accuracy(self) -> float:
        return self.correct / self.n if self.n else 0.0


@dataclass(frozen=True)
class RunSummary:
    """The totals of a run, written as ``summary.json``."""

    model: str
    mode: DecodingMode
    grader: str
    benchmarks: Mapping[str, BenchmarkScore]
    averages: Mapping[str, float | None]
    meta: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TrainingExample:
    """One instruction-tuning record (Alpaca fields plus where it came from)."""

    instruction: str
    output: str
    input: str = ""
    mode: Mode = "cot"
    source: str = ""
    answer: str | None = None
    provenance: Mapping[str, Any] = field(default_factory=dict)


def to_dict(obj: Any) -> Any:
    """Turn a (nested) dataclass into JSON-ready values: tuples become lists, mappings become dicts."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, Mapping):
        return {str(k): to_dict(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_dict(v) for v in obj]
    return obj
