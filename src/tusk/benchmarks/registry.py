"""The benchmark registry: every benchmark tusk can evaluate, by name, in the paper's table order.

Order: the nine paper benchmarks (GSM8K, MATH, AQuA, NumGLUE | SVAMP, DeepMind, SimulEq, SAT, MMLU-Math),
then the extras (TheoremQA, MATH-500), then tusk's smoke set.  Importing this module reads no file.
"""

from __future__ import annotations

from pathlib import Path

from tusk.benchmarks import (
    aqua,
    deepmind,
    gsm8k,
    hendrycks_math,
    mmlu_math,
    numglue,
    sat,
    simuleq,
    smoke,
    svamp,
    theoremqa,
)
from tusk.benchmarks.base import Benchmark
from tusk.errors import TuskError
from tusk.types import Problem

BENCHMARKS: dict[str, Benchmark] = {
    b.name: b
    for b in (
        gsm8k.BENCHMARK, hendrycks_math.MATH, aqua.BENCHMARK, numglue.BENCHMARK,
        svamp.BENCHMARK, deepmind.BENCHMARK, simuleq.BENCHMARK, sat.BENCHMARK, mmlu_math.BENCHMARK,
        theoremqa.BENCHMARK, hendrycks_math.MATH500,
        smoke.BENCHMARK,
    )
}

PAPER_BENCHMARKS: tuple[str, ...] = tuple(name for name, b in BENCHMARKS.items() if b.domain in ("in", "out"))
"""The nine benchmarks of the paper's main table, in its column order."""


def get_benchmark(name: str) -> Benchmark:
    """The benchmark called ``name`` (case-insensitive; ``-`` and ``_`` alike)."""
    key = name.strip().lower().replace("-", "_")
    try:
        return BENCHMARKS[key]
    except KeyError:
        raise TuskError(f"unknown benchmark {name!r}; known: {', '.join(BENCHMARKS)}") from None


def load_problems(name: str, data_dir: str | Path | None = None, limit: int | None = None) -> list[Problem]:
    """The problems of benchmark ``name`` in upstream order; the first ``limit`` when given."""
    problems = get_benchmark(name).load(data_dir)
    if limit is not None:
        if limit < 0:
            raise TuskError(f"limit must be >= 0, got {limit}")
        problems = problems[:limit]
    return problems
