"""How sure a score is, and whether one run really beats another.

- :func:`wilson_interval`: a 95% confidence interval for an accuracy of ``correct`` out of ``n`` (Wilson score
  interval: sensible at 0%, 100% and small n, where the normal approximation is not).
- :func:`compare_runs`: a paired comparison of two runs on the problems both answered (matched by sample id):
  per benchmark and pooled, the accuracy of each, the problems the second run gained and lost, and the exact
  two-sided McNemar p-value (a binomial test on the problems where exactly one run is right).  Pairing removes
  the between-problem variance, so it detects differences that two separate intervals would not.

Does not correct for testing many benchmarks at once; a p-value per benchmark is reported as it is.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tusk.errors import DataError

POOLED = "all (pooled)"


def wilson_interval(correct: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval of a proportion ``correct / n``; ``(0.0, 1.0)`` when ``n`` is 0."""
    if n <= 0:
        return 0.0, 1.0
    p = correct / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def mcnemar_p(gained: int, lost: int) -> float:
    """Exact two-sided McNemar p-value for ``gained`` and ``lost`` discordant pairs (1.0 when there are none)."""
    m = gained + lost
    if m == 0:
        return 1.0
    k = min(gained, lost)
    tail = sum(math.comb(m, i) for i in range(k + 1)) / 2**m
    return min(1.0, 2 * tail)


@dataclass(frozen=True)
class Comparison:
    """One benchmark (or the pooled total) of a paired comparison of run ``other`` against run ``base``."""

    benchmark: str
    n: int  # problems answered in both runs
    base_correct: int
    other_correct: int
    gained: int  # right in other, wrong in base
    lost: int  # wrong in other, right in base
    base_only: int  # problems only base answered (left out of the comparison)
    other_only: int

    @property
    def delta(self) -> float:
        """Accuracy of other minus accuracy of base, on the shared problems."""
        return (self.other_correct - self.base_correct) / self.n if self.n else 0.0

    @property
    def p_value(self) -> float:
        return mcnemar_p(self.gained, self.lost)


def _outcomes(records: Iterable[Mapping[str, Any]], run: str) -> dict[str, tuple[str, bool]]:
    outcomes: dict[str, tuple[str, bool]] = {}
    for record in records:
        sample_id, benchmark = record.get("id"), record.get("benchmark")
        if not isinstance(benchmark, str) or not isinstance(record.get("correct"), (bool, int)):
            raise DataError(f"{run}: sample {sample_id!r} has no valid 'benchmark' and 'correct'")
        if sample_id in outcomes:
            raise DataError(f"{run}: sample {sample_id!r} appears twice")
        outcomes[sample_id] = (benchmark, bool(record["correct"]))
    return outcomes


def compare_records(
    base: Iterable[Mapping[str, Any]], other: Iterable[Mapping[str, Any]], names: tuple[str, str] = ("base", "other")
) -> list[Comparison]:
    """Per-benchmark comparisons (in the base run's order of first appearance), then the pooled total."""
    a, b = _outcomes(base, names[0]), _outcomes(other, names[1])
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for sample_id, (benchmark, right) in a.items():
        c = counts[benchmark]
        if sample_id not in b:
            c["base_only"] += 1
            continue
        other_right = b[sample_id][1]
        c["n"] += 1
        c["base_correct"] += right
        c["other_correct"] += other_right
        c["gained"] += other_right and not right
        c["lost"] += right and not other_right
    for sample_id, (benchmark, _) in b.items():
        if sample_id not in a:
            counts[benchmark]["other_only"] += 1
    fields = ("n", "base_correct", "other_correct", "gained", "lost", "base_only", "other_only")
    rows = [Comparison(name, *(c[f] for f in fields)) for name, c in counts.items()]
    pooled = Comparison(POOLED, *(sum(getattr(r, f) for r in rows) for f in fields))
    return [*rows, pooled]


def compare_runs(base_dir: str | Path, other_dir: str | Path) -> list[Comparison]:
    """:func:`compare_records` on two run directories' ``samples.jsonl``."""
    from tusk.store import read_samples

    return compare_records(read_samples(base_dir), read_samples(other_dir), (str(base_dir), str(other_dir)))
