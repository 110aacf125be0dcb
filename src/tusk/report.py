"""Reports: run summaries from per-sample records, paper-style tables, run comparison, an HTML report.

:func:`summarize` is the one place totals are computed (eval, merge and report all use it), so a summary can
always be rebuilt from ``samples.jsonl``.  Averages follow the paper: the unweighted mean of per-benchmark
accuracies over the in-domain sets, the out-of-domain sets, and all of the paper's sets in the run (extras such
as TheoremQA, MATH-500 and smoke get their own columns but stay out of the averages; a run of extras only
averages over what it ran).
"""

from __future__ import annotations

import base64
import html
import io
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


def table_rows(summaries: Sequence[tuple[str, Mapping[str, Any]]]) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the paper-style table: one row per run, accuracies in percent."""
    names: list[str] = []
    for _, summary in summaries:
        names += [b for b in summary["benchmarks"] if b not in names]
    header = ["run", *(SHORT_NAMES.get(b, b) for b in names), "in-dom", "out-dom", "avg"]
    rows = []
    for label, summary in summaries:
        if summary.get("complete") is False:
            label = f"{label} (partial)"
        bench = summary["benchmarks"]
        cells = [_pct(bench[b]["accuracy"]) if b in bench else "-" for b in names]
        avg = summary["averages"]
        rows.append([label, *cells, _pct(avg["in_domain"]), _pct(avg["out_of_domain"]), _pct(avg["all"])])
    return header, rows


def render_table(summaries: Sequence[tuple[str, Mapping[str, Any]]], title: str = "accuracy (%)"):
    """A rich Table of one or more runs (print it with rich.console.Console().print)."""
    from rich.table import Table

    header, rows = table_rows(summaries)
    table = Table(title=title)
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

    header = ["benchmark", "domain", "n", "correct", "acc %", "95% CI", "PoT", "fell back", "no answer"]
    rows = []
    for name, b in summary["benchmarks"].items():
        low, high = wilson_interval(b["correct"], b["n"])
        rows.append([name, b["domain"], str(b["n"]), str(b["correct"]), _pct(b["accuracy"]),
                     f"{_pct(low)}-{_pct(high)}", str(b.get("pot_answers", 0)), str(b.get("fell_back", 0)),
                     str(b.get("no_answer", 0))])
    return header, rows


def comparison_rows(comparisons: Sequence[Any]) -> tuple[list[str], list[list[str]]]:
    """Header and rows of a paired comparison (:func:`tusk.compare.compare_runs`)."""
    header = ["benchmark", "shared n", "base %", "this %", "Δ pts", "gained", "lost", "p (McNemar)", "unpaired"]
    rows = []
    for c in comparisons:
        base = c.base_correct / c.n if c.n else None
        other = c.other_correct / c.n if c.n else None
        rows.append([c.benchmark, str(c.n), _pct(base), _pct(other), f"{100 * c.delta:+.1f}", str(c.gained),
                     str(c.lost), f"{c.p_value:.3g}", str(c.base_only + c.other_only)])
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


def _bar_chart_png(summaries: Sequence[tuple[str, Mapping[str, Any]]]) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    header, rows = table_rows(summaries)
    benchmarks = header[1:]
    fig, ax = plt.subplots(figsize=(max(6, 0.9 * len(benchmarks) * max(1, len(rows)) ** 0.5), 3.6))
    width = 0.8 / max(1, len(rows))
    for i, row in enumerate(rows):
        values = [float(v) if v != "-" else 0.0 for v in row[1:]]
        ax.bar([x + i * width for x in range(len(benchmarks))], values, width, label=row[0])
    ax.set_xticks([x + 0.4 - width / 2 for x in range(len(benchmarks))], benchmarks, rotation=30, ha="right")
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(0, 100)
    ax.legend(fontsize=8)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    return buffer.getvalue()


def _html_table(header: Sequence[str], rows: Sequence[Sequence[str]], table_id: str = "") -> str:
    attribute = f" id='{table_id}'" if table_id else ""
    lines = [f"<table{attribute}><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in header) + "</tr>"]
    lines += ["<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows]
    return "\n".join([*lines, "</table>"])


def write_html(
    run_dirs: Sequence[str | Path],
    path: str | Path,
    examples: int = 5,
    references: Sequence[tuple[str, Mapping[str, Any]]] = (),
    compare: bool = False,
) -> Path:
    """A self-contained HTML report: the table (with ``references`` rows, such as the paper's, after the runs),
    a bar chart, per-benchmark counts with 95% intervals, a paired comparison of each run against the first
    when ``compare``, and wrong answers to inspect for each run."""
    summaries = [(str(d), load_summary(d)) for d in run_dirs]
    header, rows = table_rows([*summaries, *references])
    chart = base64.b64encode(_bar_chart_png([*summaries, *references])).decode()
    parts = [
        (
            "<!doctype html><html><head><meta charset='utf-8'><title>tusk report</title><style>"
            "body{font-family:system-ui,sans-serif;margin:2em;max-width:75em}"
            "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.3em .6em;"
            "text-align:right}"
            "td:first-child,th:first-child{text-align:left}pre{white-space:pre-wrap;background:#f6f6f6;"
            "padding:.5em}"
            ".wrong{color:#a00}.right{color:#070}</style></head><body>"
        ),
        "<h1>tusk evaluation report</h1>",
        _html_table(header, rows, "scores"),
        f"<img id='chart' alt='accuracy per benchmark' src='data:image/png;base64,{chart}'>",
    ]
    if compare:
        from tusk.compare import compare_runs

        for run_dir in summaries[1:]:
            parts.append(f"<h2>{html.escape(run_dir[0])} against {html.escape(summaries[0][0])}</h2>")
            parts.append(_html_table(*comparison_rows(compare_runs(summaries[0][0], run_dir[0])), "comparison"))
    for run_dir, summary in summaries:
        parts.append(f"<h2>{html.escape(run_dir)}</h2><p>model {html.escape(str(summary['model']))}, "
                     f"mode {html.escape(str(summary['mode']))}, grader {html.escape(str(summary['grader']))}</p>")
        parts.append(_html_table(*details_rows(summary)))
        shown: Counter = Counter()
        for record in read_samples(run_dir):
            if record["correct"] or shown[record["benchmark"]] >= examples:
                continue
            shown[record["benchmark"]] += 1
            parts.append(
                f"<details class='sample'><summary class='wrong'>{html.escape(record['id'])}: predicted "
                f"{html.escape(str(record.get('prediction')))}, gold {html.escape(str(record['gold']))}</summary>"
                f"<pre>{html.escape(record['prompt'])}</pre>"
                + "".join(f"<pre>{html.escape(g)}</pre>" for g in record.get("generations", []))
                + "</details>"
            )
    parts.append("</body></html>")
    out = Path(path)
    try:
        out.write_text("\n".join(parts), encoding="utf-8")
    except OSError as exc:
        raise TuskError(f"cannot write the HTML report to {out}: {exc.strerror or exc}") from None
    return out
