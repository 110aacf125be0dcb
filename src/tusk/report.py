"""Reports: run summaries from per-sample records, paper-style tables, run comparison (the HTML page is
:mod:`tusk.report_html`).

:func:`summarize` is the one place totals are computed (eval, merge and report all use it), so a summary can
always be rebuilt from ``samples.jsonl``.  Averages follow the paper: the unweighted mean of per-benchmark
accuracies over the in-domain sets, the out-of-domain sets, and all of the paper's sets in the run (extras such
as TheoremQA, MATH-500 and smoke get their own columns but stay out of the averages; a run of extras only
averages over what it ran).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from tusk.errors import DataError, TuskError
from tusk.store import SUMMARY, read_json, read_samples

SHORT_NAMES = {
    "gsm8k": "GSM",
    "math": "MATH",
    "aqua": "AQuA",
    "numglue": "NumG",
    "svamp": "SVAMP",
    "deepmind": "Math",
    "simuleq": "SimulEq",
    "sat": "SAT",
    "mmlu_math": "MMLU",
    "theoremqa": "TheoremQA",
    "math500": "MATH-500",
    "smoke": "smoke",
}


def _domain(benchmark: str) -> str:
    from tusk.benchmarks import BENCHMARKS

    bench = BENCHMARKS.get(benchmark)
    return bench.domain if bench else "extra"


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def summarize(records: Iterable[Mapping[str, Any]], config: Mapping[str, Any]) -> dict[str, Any]:
    """The ``summary.json`` of a run from its sample records and resolved config."""
    totals: dict[str, Counter] = defaultdict(Counter)
    statuses: dict[str, Counter] = defaultdict(Counter)
    tokens = Counter()
    for record in records:
        _check_sample(record)
        t = totals[record["benchmark"]]
        t["n"] += 1
        t["correct"] += bool(record["correct"])
        t["pot"] += record.get("mode") == "pot"
        t["fell_back"] += bool(record.get("fell_back"))
        t["no_answer"] += record.get("prediction") in (None, "")
        extra = record.get("extra") if isinstance(record.get("extra"), Mapping) else {}
        t["cut_off"] += "length" in (extra.get("finish_reasons") or ())
        if record.get("execution_status"):
            statuses[record["benchmark"]][record["execution_status"]] += 1
        tokens["prompt"] += record.get("prompt_tokens", 0)
        tokens["completion"] += record.get("completion_tokens", 0)
    order = list(config.get("benchmarks") or [])
    order += sorted(b for b in totals if b not in order)
    benchmarks: dict[str, Any] = {}
    for name in order:
        t = totals.get(name)
        if not t:
            continue
        benchmarks[name] = {
            "n": t["n"],
            "correct": t["correct"],
            "accuracy": t["correct"] / t["n"],
            "domain": _domain(name),
            "pot_answers": t["pot"],
            "fell_back": t["fell_back"],
            "no_answer": t["no_answer"],
            "cut_off": t["cut_off"],
            "execution": dict(statuses[name]),
        }
    accuracies = {d: [b["accuracy"] for b in benchmarks.values() if b["domain"] == d] for d in ("in", "out")}
    paper = accuracies["in"] + accuracies["out"]
    return {
        "model": config.get("model", ""),
        "mode": config.get("mode", ""),
        "grader": config.get("grader", ""),
        "grader_version": config.get("grader_version", ""),
        "benchmarks": benchmarks,
        "averages": {
            "in_domain": _mean(accuracies["in"]),
            "out_of_domain": _mean(accuracies["out"]),
            "all": _mean(paper or [b["accuracy"] for b in benchmarks.values()]),
        },
        "tokens": dict(tokens),
        "complete": config.get("complete", True),
        "wall_seconds": config.get("wall_seconds"),
        "generation_seconds": config.get("generation_seconds"),
        "tusk_version": config.get("tusk_version", ""),
    }


def _check_sample(record: Any) -> None:
    if not isinstance(record, Mapping):
        raise DataError(f"a sample record is {type(record).__name__}, not an object")
    for key, kinds in (("benchmark", str), ("correct", (bool, int))):
        if not isinstance(record.get(key), kinds):
            raise DataError(f"sample {record.get('id')!r}: missing or invalid {key!r}")


def load_summary(run_dir: str | Path) -> dict[str, Any]:
    """A run's summary: summary.json, or rebuilt from samples.jsonl (marked incomplete) when the run has none
    (it is running, or was killed)."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise TuskError(f"{run_dir} is not a run directory")
    path = run_dir / SUMMARY
    if path.exists():
        summary = read_json(path)
        if not (isinstance(summary, dict) and isinstance(summary.get("benchmarks"), dict)
                and isinstance(summary.get("averages"), dict)):
            raise DataError(f"{path}: not a tusk summary (needs 'benchmarks' and 'averages' objects)")
        return summary
    config = read_json(run_dir / "config.json")
    return summarize(read_samples(run_dir), {**config, "complete": False})


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}"


SUBSET_NOTE = "* on part of the test set (--limit or a shard)"


def _subset(name: str, score: Mapping[str, Any]) -> bool:
    from tusk.benchmarks import BENCHMARKS

    bench = BENCHMARKS.get(name)
    return bool(bench and bench.expected_count and "n" in score and score["n"] < bench.expected_count)


def table_rows(summaries: Sequence[tuple[str, Mapping[str, Any]]]) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the paper-style table: one row per run, accuracies in percent, marked ``*`` where a
    run covered only part of a benchmark (:data:`SUBSET_NOTE`)."""
    names: list[str] = []
    for _, summary in summaries:
        names += [b for b in summary["benchmarks"] if b not in names]
    header = ["run", *(SHORT_NAMES.get(b, b) for b in names), "in-dom", "out-dom", "avg"]
    rows = []
    for label, summary in summaries:
        if summary.get("complete") is False:
            label = f"{label} (partial)"
        bench = summary["benchmarks"]
        cells = [_pct(bench[b]["accuracy"]) + ("*" if _subset(b, bench[b]) else "") if b in bench else "-"
                 for b in names]
        avg = summary["averages"]
        rows.append([label, *cells, _pct(avg["in_domain"]), _pct(avg["out_of_domain"]), _pct(avg["all"])])
    return header, rows


def render_table(summaries: Sequence[tuple[str, Mapping[str, Any]]], title: str = "accuracy (%)"):
    """A rich Table of one or more runs (print it with rich.console.Console().print)."""
    from rich.table import Table

    header, rows = table_rows(summaries)
    subset = any(cell.endswith("*") for row in rows for cell in row[1:])
    table = Table(title=title, caption=SUBSET_NOTE if subset else None)
    for i, column in enumerate(header):
        table.add_column(column, justify="left" if i == 0 else "right")
    for row in rows:
        table.add_row(*row)
    return table


def render_details(summary: Mapping[str, Any]):
    """Per-benchmark counts of one run: n, correct, accuracy, PoT answers, fallbacks, no answer."""
    from rich.table import Table

    table = Table(title=f"{summary['model']} · {summary['mode']} · grader {summary['grader']}")
    header, rows = details_rows(summary)
    for column in header:
        table.add_column(column, justify="left" if column in ("benchmark", "domain") else "right")
    for row in rows:
        table.add_row(*row)
    return table


def details_rows(summary: Mapping[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Header and rows of one run's per-benchmark counts, with a 95% (Wilson) interval for each accuracy."""
    from tusk.compare import wilson_interval

    header = ["benchmark", "domain", "n", "correct", "acc %", "95% CI", "PoT", "fell back", "no answer",
              "cut off"]
    rows = []
    for name, b in summary["benchmarks"].items():
        low, high = wilson_interval(b["correct"], b["n"])
        rows.append([name, b["domain"], str(b["n"]), str(b["correct"]), _pct(b["accuracy"]),
                     f"{_pct(low)}-{_pct(high)}", str(b.get("pot_answers", 0)), str(b.get("fell_back", 0)),
                     str(b.get("no_answer", 0)), str(b.get("cut_off", 0))])
    return header, rows


def comparison_rows(comparisons: Sequence[Any]) -> tuple[list[str], list[list[str]]]:
    """Header and rows of a paired comparison (:func:`tusk.compare.compare_runs`)."""
    header = ["benchmark", "shared n", "base %", "this %", "Δ pts", "gained", "lost", "p (McNemar)", "unpaired"]
    rows = []
    for c in comparisons:
        unpaired = str(c.base_only + c.other_only)
        if not c.n:  # nothing answered by both runs: nothing measured
            rows.append([c.benchmark, "0", "-", "-", "-", "-", "-", "-", unpaired])
            continue
        rows.append([c.benchmark, str(c.n), _pct(c.base_correct / c.n), _pct(c.other_correct / c.n),
                     f"{100 * c.delta:+.1f}", str(c.gained), str(c.lost), f"{c.p_value:.3g}", unpaired])
    return header, rows


def render_comparison(base: str, other: str, comparisons: Sequence[Any]):
    """A rich Table of a paired comparison of run ``other`` against run ``base``."""
    from rich.table import Table

    header, rows = comparison_rows(comparisons)
    table = Table(title=f"{other} against {base} (paired by problem)")
    for i, column in enumerate(header):
        table.add_column(column, justify="left" if i == 0 else "right")
    for row in rows:
        table.add_row(*row)
    return table
