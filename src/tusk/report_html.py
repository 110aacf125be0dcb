"""The HTML report: one self-contained page (table, bar chart, per-run settings and counts, paired comparisons,
wrong answers with everything needed to see why).  Everything taken from samples is escaped.

Tables and numbers come from :mod:`tusk.report`, so the page and ``tusk report`` always agree.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tusk.errors import TuskError
from tusk.report import (
    SUBSET_NOTE,
    comparison_rows,
    coverage_notes,
    details_rows,
    details_title,
    load_summary,
    table_rows,
)
from tusk.store import SAMPLES, load_config, read_samples, recorded_problem_sets


def _bar_chart_png(summaries: Sequence[tuple[str, Mapping[str, Any]]]) -> bytes:
    """Grouped bars: one group per benchmark, then (after a gap and a line) the averages.  A value a run does not
    have is no bar, marked "n/a", never a 0 % bar."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    header, rows = table_rows(summaries)
    columns = header[1:]
    n_bench = len(columns) - 3  # the last three columns are the averages
    positions = [x if x < n_bench else x + 0.6 for x in range(len(columns))]  # a gap before the averages
    # the width is capped (the page also scales the image down to fit)
    fig, ax = plt.subplots(figsize=(min(14.0, max(6.0, 0.9 * len(columns) * max(1, len(rows)) ** 0.5)), 3.8))
    width = 0.8 / max(1, len(rows))
    for i, row in enumerate(rows):
        values = [float(v.rstrip("*")) if v != "-" else math.nan for v in row[1:]]
        xs = [x + i * width for x in positions]
        ax.bar(xs, values, width, label=row[0])
        for x, value in zip(xs, values, strict=True):
            if math.isnan(value):
                ax.text(x, 1, "n/a", rotation=90, ha="center", va="bottom", fontsize=6, color="#777")
    if n_bench > 0:
        ax.axvline(positions[n_bench] - 0.5, color="#999", linestyle="--", linewidth=0.8)
    ax.set_xticks([x + 0.4 - width / 2 for x in positions], columns, rotation=30, ha="right")
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(0, 100)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))  # beside the bars, never over them
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    return buffer.getvalue()


def run_settings(run_dir: str | Path, summary: Mapping[str, Any]) -> list[list[str]]:
    """``[setting, value]`` rows saying how a run was made (from its config.json when it has one)."""
    config = load_config(run_dir)
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
        "sampling": _sampling_row(config),
        "sandbox timeout (s)": config.get("timeout"),
        "limit": config.get("limit") if "limit" in config or not isinstance(config.get("limits"), dict)
        else ", ".join(f"{name} {limit if limit is not None else '-'}" for name, limit in config["limits"].items()),
        "benchmark files": ", ".join(f"{name} {entry.get('count')} problems (sha256 {entry['sha256'][:12]})"
                                     for name, entry in recorded_problem_sets(config).items()),
        "data folder": config.get("data_dir"),
        "shard": config.get("shard") and "/".join(map(str, config["shard"])),
        "merged from": config.get("merged_from") and ", ".join(config["merged_from"]),
        "complete": "no (partial)" if summary.get("complete") is False else "yes",
        "wall time (s)": summary.get("wall_seconds") and f"{summary['wall_seconds']:.1f}" + (
            f" over {sessions} sessions" if (sessions := (config.get("elapsed") or {}).get("sessions", 1)) > 1 else ""),
        "tusk": summary.get("tusk_version") or config.get("tusk_version"),
    }
    return [[key, str(value)] for key, value in values.items() if value not in (None, "", [])]


def _sampling_row(config: Mapping[str, Any]) -> str | None:
    if not config:
        return None
    samples = config.get("samples") if isinstance(config.get("samples"), int) else 1
    if samples > 1:  # self-consistency: the accuracy is that of the vote
        return (f"{samples} samples, temperature {config.get('temperature')}, top-p {config.get('top_p')}, seed "
                f"{config.get('seed')}; the accuracy is that of the majority vote over the {samples} samples")
    temperature = config.get("temperature")
    if isinstance(temperature, (int, float)) and temperature > 0:
        return (f"1 sample, temperature {config.get('temperature')}, top-p {config.get('top_p')}, "
                f"seed {config.get('seed')}")
    return "greedy"


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


def _note(text: str) -> str:
    return f"<p class='note'>{html.escape(text)}</p>"


def _wrong_answers(run_dir: str, summary: Mapping[str, Any], examples: int) -> list[str]:
    """Each benchmark's wrong answers under a heading that says how many of them are shown."""
    from tusk.paper_results import order_benchmarks

    if not (Path(run_dir) / SAMPLES).exists():
        return [_note(f"{run_dir} has no {SAMPLES}: its wrong answers cannot be shown")]
    shown: dict[str, list[Mapping[str, Any]]] = {}
    wrong: Counter = Counter()
    for record in read_samples(run_dir):
        if record["correct"]:
            continue
        wrong[record["benchmark"]] += 1
        kept = shown.setdefault(record["benchmark"], [])
        if len(kept) < examples:
            kept.append(record)
    parts = []
    for name in order_benchmarks(wrong):
        count = f"first {len(shown[name])} of {wrong[name]}" if len(shown[name]) < wrong[name] else f"all {wrong[name]}"
        parts.append(f"<h3>wrong answers, {html.escape(name)}: {count}</h3>")
        parts += [_html_sample(record) for record in shown[name]]
    return parts


def write_html(
    run_dirs: Sequence[str | Path],
    path: str | Path,
    examples: int = 5,
    references: Sequence[tuple[str, Mapping[str, Any]]] = (),
    compare: bool = False,
) -> Path:
    """A self-contained HTML report: the table (with ``references`` rows, such as the paper's, after the runs)
    and its notes, a bar chart, per-benchmark counts with 95% intervals, a paired comparison of each run against
    the first when ``compare``, and the first ``examples`` wrong answers of each benchmark of each run."""
    summaries = [(str(d), load_summary(d)) for d in run_dirs]
    header, rows = table_rows([*summaries, *references])
    chart = base64.b64encode(_bar_chart_png([*summaries, *references])).decode()
    parts = [
        (
            "<!doctype html><html><head><meta charset='utf-8'><title>tusk report</title><style>"
            "body{font-family:system-ui,sans-serif;margin:2em;max-width:75em}"
            "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.3em .6em;"
            "text-align:right}"
            "td:first-child,th:first-child{text-align:left}pre{white-space:pre-wrap;overflow-wrap:anywhere;"
            "background:#f6f6f6;padding:.5em;max-width:100%}img{max-width:100%;height:auto}"
            ".wrong{color:#a00}.right{color:#070}.note{color:#555;font-size:90%}#settings td{text-align:left}h4{margin:.6em 0 .2em}"
            "</style></head><body>"
        ),
        "<h1>tusk evaluation report</h1>",
        _html_table(header, rows, "scores"),
    ]
    if any(cell.endswith("*") for row in rows for cell in row[1:]):
        parts.append(_note(SUBSET_NOTE))
    parts += [_note(note) for note in coverage_notes(summaries, references)]
    parts.append(f"<img id='chart' alt='accuracy per benchmark' src='data:image/png;base64,{chart}'>")
    if compare:
        from tusk.compare import compare_runs, comparison_notes

        base = summaries[0][0]
        for other, _ in summaries[1:]:
            comparisons = compare_runs(base, other)
            parts.append(f"<h2>{html.escape(other)} against {html.escape(base)}</h2>")
            parts.append(_html_table(*comparison_rows(comparisons), "comparison"))
            parts += [_note(note) for note in comparison_notes(comparisons, (base, other))]
    for run_dir, summary in summaries:
        parts.append(f"<h2>{html.escape(run_dir)}</h2>")
        parts.append(f"<p>{html.escape(details_title(summary))}</p>")
        parts.append(_html_table(["setting", "value"], run_settings(run_dir, summary), "settings"))
        parts.append(_html_table(*details_rows(summary)))
        execution = {name: b.get("execution") for name, b in summary["benchmarks"].items() if b.get("execution")}
        if execution:
            statuses = sorted({s for counts in execution.values() for s in counts})
            parts.append(_html_table(["programs", *statuses], [[name, *(str(counts.get(s, 0)) for s in statuses)]
                                                               for name, counts in execution.items()]))
        parts += _wrong_answers(run_dir, summary, examples)
    parts.append("</body></html>")
    out = Path(path)
    try:
        out.write_text("\n".join(parts), encoding="utf-8")
    except OSError as exc:
        raise TuskError(f"cannot write the HTML report to {out}: {exc.strerror or exc}") from None
    return out
