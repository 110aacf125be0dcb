"""How sure a score is, and whether one run really beats another.

- :func:`wilson_interval`: a 95% confidence interval for an accuracy of ``correct`` out of ``n`` (Wilson score
  interval: sensible at 0%, 100% and small n, where the normal approximation is not).
- :func:`compare_runs`: a paired comparison of two runs on the problems both answered (matched by sample id):
  per benchmark and pooled, the accuracy of each, the problems the second run gained and lost, and the exact
  two-sided McNemar p-value (a binomial test on the problems where exactly one run is right).  Pairing removes
  the between-problem variance, so it detects differences that two separate intervals would not.

Does not correct for testing many benchmarks at once; a p-value per benchmark is reported as it is.

Sample ids are positions in a benchmark file, so runs are only paired on a benchmark when they read the same
problems: where both runs' ``config.json`` record the file's sha256 (``problem_sets``) and the two differ, the
benchmark is shown as not comparable; paired problems whose golds differ are counted and warned about.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tusk.errors import DataError

POOLED = "all benchmarks above (pooled)"
POOLED_COMPARABLE = "comparable benchmarks above (pooled)"


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
    comparable: bool = True  # False: the runs read different problem files, so ids pair different problems
    reason: str = ""  # why not comparable
    gold_differs: int = 0  # paired problems whose golds differ between the runs
    gold_example: str = ""

    @property
    def delta(self) -> float:
        """Accuracy of other minus accuracy of base, on the shared problems."""
        return (self.other_correct - self.base_correct) / self.n if self.n else 0.0

    @property
    def p_value(self) -> float:
        return mcnemar_p(self.gained, self.lost)


def _outcomes(records: Iterable[Mapping[str, Any]], run: str) -> dict[str, tuple[str, bool, Any]]:
    outcomes: dict[str, tuple[str, bool, Any]] = {}
    for record in records:
        sample_id, benchmark = record.get("id"), record.get("benchmark")
        if not isinstance(benchmark, str) or not isinstance(record.get("correct"), (bool, int)):
            raise DataError(f"{run}: sample {sample_id!r} has no valid 'benchmark' and 'correct'")
        if sample_id in outcomes:
            raise DataError(f"{run}: sample {sample_id!r} appears twice")
        outcomes[sample_id] = (benchmark, bool(record["correct"]), record.get("gold"))
    return outcomes


def compare_records(
    base: Iterable[Mapping[str, Any]],
    other: Iterable[Mapping[str, Any]],
    names: tuple[str, str] = ("base", "other"),
    not_comparable: Mapping[str, str] | None = None,
) -> list[Comparison]:
    """Per-benchmark comparisons (paper order, then extras), then the pooled total.  Benchmarks in
    ``not_comparable`` (name -> reason) are not paired: their row says why, and the pooled total leaves them out."""
    from tusk.paper_results import order_benchmarks

    not_comparable = not_comparable or {}
    a, b = _outcomes(base, names[0]), _outcomes(other, names[1])
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    gold_example: dict[str, str] = {}
    for sample_id, (benchmark, right, gold) in a.items():
        c = counts[benchmark]
        if sample_id not in b:
            c["base_only"] += 1
            continue
        other_right, other_gold = b[sample_id][1], b[sample_id][2]
        c["n"] += 1
        c["base_correct"] += right
        c["other_correct"] += other_right
        c["gained"] += other_right and not right
        c["lost"] += right and not other_right
        if gold is not None and other_gold is not None and str(gold) != str(other_gold):
            c["gold_differs"] += 1
            gold_example.setdefault(benchmark, f"{sample_id}: {gold!r} against {other_gold!r}")
    for sample_id, (benchmark, _, _) in b.items():
        if sample_id not in a:
            counts[benchmark]["other_only"] += 1
    fields = ("n", "base_correct", "other_correct", "gained", "lost", "base_only", "other_only")
    rows = []
    for name in order_benchmarks(counts):
        c = counts[name]
        if name in not_comparable:
            rows.append(Comparison(name, 0, 0, 0, 0, 0, c["base_only"] + c["n"], c["other_only"] + c["n"],
                                   comparable=False, reason=not_comparable[name]))
        else:
            rows.append(Comparison(name, *(c[f] for f in fields), gold_differs=c["gold_differs"],
                                   gold_example=gold_example.get(name, "")))
    paired = [r for r in rows if r.comparable]
    pooled = Comparison(POOLED if len(paired) == len(rows) else POOLED_COMPARABLE,
                        *(sum(getattr(r, f) for r in paired) for f in fields),
                        gold_differs=sum(r.gold_differs for r in paired))
    return [*rows, pooled]


def comparison_notes(comparisons: Iterable[Comparison], names: tuple[str, str] = ("base", "other")) -> list[str]:
    """What a reader of a comparison must know: benchmarks not compared, and paired problems with other golds."""
    notes = []
    for c in comparisons:
        if not c.comparable:
            notes.append(f"{c.benchmark}: not compared: {c.reason}")
        elif c.gold_differs and c.benchmark not in (POOLED, POOLED_COMPARABLE):
            notes.append(f"warning: {c.gold_differs} paired {c.benchmark} problem(s) have different golds in "
                         f"{names[0]} and {names[1]} (first {c.gold_example}): the runs may have read different "
                         "problem files or data versions")
    return notes


def _problem_set_hashes(run_dir: str | Path) -> dict[str, str]:
    from tusk.store import load_config, recorded_problem_sets

    return {name: entry["sha256"] for name, entry in recorded_problem_sets(load_config(run_dir)).items()}


def compare_runs(base_dir: str | Path, other_dir: str | Path) -> list[Comparison]:
    """:func:`compare_records` on two run directories' ``samples.jsonl``; a benchmark whose problem files differ
    (the sha256 both configs record) is not compared."""
    from tusk.store import SAMPLES, read_samples

    for run_dir in (base_dir, other_dir):
        if not (Path(run_dir) / SAMPLES).exists():
            raise DataError(f"{run_dir} has no {SAMPLES}: --compare pairs problems by their sample records, so it "
                            "cannot compare this run")
    base_sets, other_sets = _problem_set_hashes(base_dir), _problem_set_hashes(other_dir)
    different = {
        name: (f"the runs read different problem files (sha256 {base_sets[name][:12]} in {base_dir}, "
               f"{other_sets[name][:12]} in {other_dir}), so the same ids name different problems")
        for name in base_sets.keys() & other_sets.keys() if base_sets[name] != other_sets[name]
    }
    return compare_records(read_samples(base_dir), read_samples(other_dir), (str(base_dir), str(other_dir)),
                           different)
