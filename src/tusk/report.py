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
import json
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


def _bar_chart_png(summaries: Sequence[tuple[str, Mapping[str, Any]]]) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    header, rows = table_rows(summaries)
    benchmarks = header[1:]
    fig, ax = plt.subplots(figsize=(max(6, 0.9 * len(benchmarks) * max(1, len(rows)) ** 0.5), 3.6))
    width = 0.8 / max(1, len(rows))
    for i, row in enumerate(rows):
        values = [float(v.rstrip("*")) if v != "-" else 0.0 for v in row[1:]]
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


def run_settings(run_dir: str | Path, summary: Mapping[str, Any]) -> list[list[str]]:
    """``[setting, value]`` rows saying how a run was made (from its config.json when it has one)."""
    path = Path(run_dir) / "config.json"
    config = read_json(path) if path.exists() else {}
    backend = config.get("backend") if isinstance(config.get("backend"), Mapping) else {}
    weights = backend.get("sha256") or backend.get("weights") or backend.get("size")
    values = {
        "model": summary.get("model") or config.get("model"),
        "backend": backend.get("backend"),
        "weights": json.dumps(weights, sort_keys=True) if isinstance(weights, (dict, list)) else weights,
        "mode": summary.get("mode") or config.get("mode"),
        "prompt": config.get("prompt"),
        "grader": " v".join(str(v) for v in (summary.get("grader"), summary.get("grader_version")) if v),
        "max tokens": config.get("max_tokens"),
        "sampling": (f"{config.get('samples')} samples, temperature {config.get('temperature')}, top-p "
                     f"{config.get('top_p')}, seed {config.get('seed')}" if (config.get("temperature") or 0) > 0
                     else "greedy" if config else None),
        "sandbox timeout (s)": config.get("timeout"),
        "limit": config.get("limit"),
        "shard": config.get("shard") and "/".join(map(str, config["shard"])),
        "merged from": config.get("merged_from") and ", ".join(config["merged_from"]),
        "complete": "no (partial)" if summary.get("complete") is False else "yes",
        "wall time (s)": summary.get("wall_seconds") and f"{summary['wall_seconds']:.1f}",
        "tusk": summary.get("tusk_version") or config.get("tusk_version"),
    }
    return [[key, str(value)] for key, value in values.items() if value not in (None, "", [])]


def _html_sample(record: Mapping[str, Any]) -> str:
    """One wrong answer, everything needed to see why: prompts, each generation labelled, program, output."""
    extra = record.get("extra") if isinstance(record.get("extra"), Mapping) else {}
    record = {**record, **extra}
    facts = [f"rule {record.get('grade_rule') or '-'}", f"mode {record.get('mode')}"]
    if record.get("execution_status"):
        facts.append(f"program {record['execution_status']}")
    if record.get("fell_back"):
        facts.append("fell back to CoT")
    head = (f"{record['id']}: predicted {record.get('prediction')}, gold {record.get('gold')} "
            f"({', '.join(facts)})")
    blocks = [("prompt", record.get("prompt", ""))]
    generations = list(record.get("generations", []))
    modes = record.get("generation_modes") or [None] * len(generations)
    fallback_at = next((i for i, m in enumerate(modes) if i and m == "cot" and modes[0] == "pot"), None)
    for i, text in enumerate(generations):
        if i == fallback_at and record.get("fallback_prompt"):
            blocks.append(("CoT fallback prompt", record["fallback_prompt"]))
        label = f"generation {i + 1}" + (f" ({modes[i]})" if i < len(modes) and modes[i] else "")
        blocks.append((label, text))
    for key, label in (("program", "program"), ("stdout", "stdout"), ("stderr", "stderr")):
        if record.get(key):
            blocks.append((label, record[key]))
    if record.get("votes"):
        blocks.append(("votes (answer, count)", json.dumps(record["votes"], ensure_ascii=False)))
    body = "".join(f"<h4>{html.escape(label)}</h4><pre>{html.escape(str(text))}</pre>" for label, text in blocks)
    return f"<details class='sample'><summary class='wrong'>{html.escape(head)}</summary>{body}</details>"


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
            ".wrong{color:#a00}.right{color:#070}.note{color:#555;font-size:90%}#settings td{text-align:left}h4{margin:.6em 0 .2em}"
            "</style></head><body>"
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
    if any(cell.endswith("*") for row in rows for cell in row[1:]):
        parts.insert(3, f"<p class='note'>{html.escape(SUBSET_NOTE)}</p>")
    for run_dir, summary in summaries:
        parts.append(f"<h2>{html.escape(run_dir)}</h2>")
        parts.append(_html_table(["setting", "value"], run_settings(run_dir, summary), "settings"))
        parts.append(_html_table(*details_rows(summary)))
        execution = {name: b.get("execution") for name, b in summary["benchmarks"].items() if b.get("execution")}
        if execution:
            statuses = sorted({s for counts in execution.values() for s in counts})
            parts.append(_html_table(["programs", *statuses], [[name, *(str(counts.get(s, 0)) for s in statuses)]
                                                               for name, counts in execution.items()]))
        shown: Counter = Counter()
        for record in read_samples(run_dir):
            if record["correct"] or shown[record["benchmark"]] >= examples:
                continue
            shown[record["benchmark"]] += 1
            parts.append(_html_sample(record))
    parts.append("</body></html>")
    out = Path(path)
    try:
        out.write_text("\n".join(parts), encoding="utf-8")
    except OSError as exc:
        raise TuskError(f"cannot write the HTML report to {out}: {exc.strerror or exc}") from None
    return out
