"""Reports: run summaries from per-sample records, paper-style tables, run comparison (the HTML page is
:mod:`tusk.report_html`).

:func:`summarize` is the one place totals are computed (eval, merge and report all use it), so a summary can
always be rebuilt from ``samples.jsonl``.  Averages follow the paper: the unweighted mean of per-benchmark
accuracies over the in-domain sets, the out-of-domain sets, and all of the paper's sets in the run (extras such
as TheoremQA, MATH-500 and smoke get their own columns but stay out of the averages; a run of extras only
averages over what it ran).  :func:`load_summary` recomputes the averages from the per-benchmark entries, so
the same samples give the same averages whichever version of tusk wrote ``summary.json``.

"cut off" counts the generations that produced an answer and ran into ``--max-tokens`` (a hybrid run's discarded
PoT attempt does not count when the CoT fallback answered).  With ``--samples k`` each problem has k answering
generations (the votes), and the count is shown as cut-off generations out of generations, such as ``5/12``.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from tusk.errors import DataError, TuskError
from tusk.store import SUMMARY, load_config, read_json, read_samples

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
        cut, answers = answer_cut_offs(record)
        t["cut_off"] += cut
        t["answers"] += answers
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
            "answers": t["answers"],
            "execution": dict(statuses[name]),
        }
    return {
        "model": config.get("model", ""),
        "mode": config.get("mode", ""),
        "grader": config.get("grader", ""),
        "grader_version": config.get("grader_version", ""),
        "sampling": _sampling(config),
        "benchmarks": benchmarks,
        "averages": averages(benchmarks),
        "tokens": dict(tokens),
        "complete": config.get("complete", True),
        "wall_seconds": config.get("wall_seconds"),
        "generation_seconds": config.get("generation_seconds"),
        "tusk_version": config.get("tusk_version", ""),
    }


def averages(benchmarks: Mapping[str, Mapping[str, Any]]) -> dict[str, float | None]:
    """The paper's averages of per-benchmark accuracies: unweighted means over the in-domain sets, the
    out-of-domain sets and all of the paper's sets (extras only when a run holds no paper set)."""
    accuracies: dict[str, list[float]] = {"in": [], "out": [], "extra": []}
    for name, entry in benchmarks.items():
        accuracies.setdefault(_domain(name), []).append(entry["accuracy"])
    paper = accuracies["in"] + accuracies["out"]
    return {
        "in_domain": _mean(accuracies["in"]),
        "out_of_domain": _mean(accuracies["out"]),
        "all": _mean(paper or [b["accuracy"] for b in benchmarks.values()]),
    }


def answer_cut_offs(record: Mapping[str, Any]) -> tuple[int, int]:
    """``(cut off, answering generations)`` of one sample record: the generations whose text gave the answer
    (one per sample: the PoT program, or the CoT fallback where hybrid decoding fell back) and how many of them
    stopped at ``--max-tokens``."""
    extra = record.get("extra") if isinstance(record.get("extra"), Mapping) else {}
    sample_modes = extra.get("sample_modes")
    k = len(sample_modes) if isinstance(sample_modes, list) and sample_modes else 1
    reasons = extra.get("finish_reasons")
    if not isinstance(reasons, list) or not reasons:
        return 0, k  # finish reasons are stored only when a generation was cut off
    modes = extra.get("generation_modes")
    if isinstance(modes, list) and len(modes) == len(reasons) and len(reasons) > k and modes[0] == "pot":
        fell_back = ([m == "cot" for m in sample_modes] if k > 1 else [bool(record.get("fell_back"))])
        fallbacks = iter(reasons[k:])
        answering = [next(fallbacks, reason) if fell else reason for reason, fell in zip(reasons[:k], fell_back)]
    else:
        answering = reasons[-k:]
    return sum(reason == "length" for reason in answering), k


def _sampling(config: Mapping[str, Any]) -> dict[str, Any]:
    return {key: config[key] for key in ("samples", "temperature", "top_p") if config.get(key) is not None}


def sampling_text(summary: Mapping[str, Any]) -> str:
    """How a run decoded: "greedy", "k samples, majority vote, T=..." or "1 sample, T=..." ("" when unknown)."""
    sampling = summary.get("sampling") if isinstance(summary.get("sampling"), Mapping) else {}
    if not sampling:
        return ""
    samples = sampling.get("samples") if isinstance(sampling.get("samples"), int) else 1
    temperature = sampling.get("temperature") if _number(sampling.get("temperature")) else 0
    if samples > 1:
        return f"{samples} samples, majority vote, T={temperature:g}"
    return f"1 sample, T={temperature:g}" if temperature else "greedy"


def _check_sample(record: Any) -> None:
    if not isinstance(record, Mapping):
        raise DataError(f"a sample record is {type(record).__name__}, not an object")
    for key, kinds in (("benchmark", str), ("correct", (bool, int))):
        if not isinstance(record.get(key), kinds):
            raise DataError(f"sample {record.get('id')!r}: missing or invalid {key!r}")


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_summary(summary: Any, path: Path) -> None:
    if not (isinstance(summary, dict) and isinstance(summary.get("benchmarks"), dict)):
        raise DataError(f"{path}: not a tusk summary (needs a 'benchmarks' object)")
    for name, entry in summary["benchmarks"].items():
        if not isinstance(entry, dict) or not _number(entry.get("accuracy")):
            raise DataError(f"{path}: benchmark {name!r} has no numeric 'accuracy'")
        for key in ("n", "correct", "cut_off", "answers"):
            if key in entry and not (isinstance(entry[key], int) and not isinstance(entry[key], bool)):
                raise DataError(f"{path}: benchmark {name!r}: {key!r} is not a whole number")
    for key in ("model", "mode", "grader", "grader_version"):
        if not isinstance(summary.get(key, ""), (str, int, type(None))):
            raise DataError(f"{path}: {key!r} is not a string")


def load_summary(run_dir: str | Path) -> dict[str, Any]:
    """A run's summary: summary.json, or rebuilt from samples.jsonl (marked incomplete) when the run has none
    (it is running, or was killed).  The averages are recomputed from the per-benchmark accuracies with today's
    definition, whichever version wrote the file; ``configured`` lists the benchmarks the run's config names (a
    partial run may have no results for some of them yet)."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise TuskError(f"{run_dir} is not a run directory")
    path = run_dir / SUMMARY
    config = load_config(run_dir)
    if path.exists():
        summary = read_json(path)
        _check_summary(summary, path)
        summary["averages"] = averages(summary["benchmarks"])
        if not isinstance(summary.get("sampling"), dict):
            summary["sampling"] = _sampling(config)
        if any("answers" not in entry for entry in summary["benchmarks"].values()):
            _recount_cut_offs(run_dir, summary)
    else:
        if not config:
            read_json(run_dir / "config.json")  # the error: not found
        summary = summarize(read_samples(run_dir), {**config, "complete": False})
    from tusk.paper_results import PAPER_COLUMNS

    configured = config.get("benchmarks") if isinstance(config.get("benchmarks"), list) else []
    summary["configured"] = [one for b in configured if isinstance(b, str)
                             for one in (PAPER_COLUMNS if b == "paper" else (b,))]
    return summary


def _recount_cut_offs(run_dir: Path, summary: dict[str, Any]) -> None:
    """A summary written before "cut off" counted only answering generations: recount from samples.jsonl, or
    leave the count out (shown as "-") where the samples do not match the summary."""
    counts: dict[str, Counter] = defaultdict(Counter)
    if (run_dir / "samples.jsonl").exists():
        for record in read_samples(run_dir):
            cut, answers = answer_cut_offs(record)
            c = counts[record.get("benchmark")]
            c["n"] += 1
            c["cut_off"] += cut
            c["answers"] += answers
    for name, entry in summary["benchmarks"].items():
        c = counts.get(name)
        if c and c["n"] == entry.get("n"):
            entry["cut_off"], entry["answers"] = c["cut_off"], c["answers"]
        else:
            entry.pop("cut_off", None)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}"


SUBSET_NOTE = "* on part of the test set (--limit or a shard)"


def _subset(name: str, score: Mapping[str, Any]) -> bool:
    from tusk.benchmarks import BENCHMARKS

    bench = BENCHMARKS.get(name)
    return bool(bench and bench.expected_count and "n" in score and score["n"] < bench.expected_count)


def _label(label: str, summary: Mapping[str, Any]) -> str:
    return f"{label} (partial)" if summary.get("complete") is False else label


def _columns(summaries: Sequence[tuple[str, Mapping[str, Any]]]) -> list[str]:
    from tusk.paper_results import order_benchmarks

    names: list[str] = []
    for _, summary in summaries:
        names += [*summary["benchmarks"], *summary.get("configured", ())]
    return order_benchmarks(names)


def table_rows(summaries: Sequence[tuple[str, Mapping[str, Any]]]) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the paper-style table: one row per run, accuracies in percent, marked ``*`` where a
    run covered only part of a benchmark (:data:`SUBSET_NOTE`).  Columns follow the paper's order, then extras;
    a benchmark a run has no result for (not run, or configured but not reached yet) is ``-``."""
    names = _columns(summaries)
    header = ["run", *(SHORT_NAMES.get(b, b) for b in names), "in-dom", "out-dom", "avg"]
    rows = []
    for label, summary in summaries:
        bench = summary["benchmarks"]
        cells = [_pct(bench[b]["accuracy"]) + ("*" if _subset(b, bench[b]) else "") if b in bench else "-"
                 for b in names]
        avg = summary["averages"]
        rows.append([_label(label, summary), *cells, _pct(avg.get("in_domain")), _pct(avg.get("out_of_domain")),
                     _pct(avg.get("all"))])
    return header, rows


def coverage_notes(
    summaries: Sequence[tuple[str, Mapping[str, Any]]], references: Sequence[tuple[str, Mapping[str, Any]]] = ()
) -> list[str]:
    """Notes for a table whose runs cover different benchmarks (their averages are then over different sets),
    and for runs with configured benchmarks that have no results yet."""
    from tusk.paper_results import order_benchmarks

    def names(benchmarks: Iterable[str]) -> str:
        return ", ".join(SHORT_NAMES.get(b, b) for b in order_benchmarks(benchmarks)) or "nothing"

    notes = []
    covered = [(label, frozenset(summary["benchmarks"])) for label, summary in summaries]
    if len({c for _, c in covered}) > 1:
        notes.append("note: the runs cover different benchmarks, so their in-dom / out-dom / avg are over different "
                     "sets (compare each benchmark's column): "
                     + "; ".join(f"{label}: {names(c)}" for label, c in covered)
                     + ("; the paper rows average over the paper benchmarks of all the runs" if references else ""))
    for label, summary in summaries:
        missing = [b for b in summary.get("configured", ()) if b not in summary["benchmarks"]]
        if missing:
            notes.append(f"note: {label} has no results for {names(missing)} (named in its config.json, none stored); "
                         "its averages leave them out")
    return notes


def _table(title: str | None, header: Sequence[str], caption: str | None = None):
    from rich.table import Table
    from rich.text import Text

    table = Table(title=Text(title) if title else None, caption=Text(caption) if caption else None)
    for i, column in enumerate(header):
        # fold, never cut: run paths that differ only at the end stay told apart
        table.add_column(Text(column), justify="left" if i == 0 else "right", overflow="fold")
    return table


def _add_rows(table: Any, rows: Sequence[Sequence[str]]) -> Any:
    from rich.text import Text

    for row in rows:
        table.add_row(*(Text(cell) for cell in row))  # shown verbatim: "[lora]" is text, not rich markup
    return table


def render_table(summaries: Sequence[tuple[str, Mapping[str, Any]]], title: str = "accuracy (%)"):
    """A rich Table of one or more runs (print it with rich.console.Console().print)."""
    header, rows = table_rows(summaries)
    subset = any(cell.endswith("*") for row in rows for cell in row[1:])
    return _add_rows(_table(title, header, SUBSET_NOTE if subset else None), rows)


def details_title(summary: Mapping[str, Any], run_dir: str | Path | None = None) -> str:
    """``RUN_DIR: model · mode · grader vN · sampling`` of one run's details."""
    grader = " v".join(str(v) for v in (summary.get("grader"), summary.get("grader_version")) if v)
    parts = [str(summary.get("model") or "?"), str(summary.get("mode") or "?"), f"grader {grader or '?'}",
             sampling_text(summary)]
    title = " · ".join(p for p in parts if p)
    return f"{_label(str(run_dir), summary)}: {title}" if run_dir is not None else title


def render_details(summary: Mapping[str, Any], run_dir: str | Path | None = None):
    """Per-benchmark counts of one run: n, correct, accuracy, PoT answers, fallbacks, no answer, cut off."""
    header, rows = details_rows(summary)
    table = _table(details_title(summary, run_dir), header)
    for column in table.columns:
        if str(column.header) in ("benchmark", "domain"):
            column.justify = "left"
    return _add_rows(table, rows)


def _cut_off(entry: Mapping[str, Any]) -> str:
    if "cut_off" not in entry:
        return "-"  # not recorded (an older summary): unknown, not zero
    answers = entry.get("answers")
    if answers is not None and answers != entry.get("n"):
        return f"{entry['cut_off']}/{answers}"  # votes: answering generations cut off, out of all of them
    return str(entry["cut_off"])


def details_rows(summary: Mapping[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Header and rows of one run's per-benchmark counts, with a 95% (Wilson) interval for each accuracy."""
    from tusk.compare import wilson_interval
    from tusk.paper_results import order_benchmarks

    header = ["benchmark", "domain", "n", "correct", "acc %", "95% CI", "PoT", "fell back", "no answer",
              "cut off"]
    rows = []
    for name in order_benchmarks(summary["benchmarks"]):
        b = summary["benchmarks"][name]
        counted = "n" in b and "correct" in b
        low, high = wilson_interval(b["correct"], b["n"]) if counted else (None, None)
        rows.append([name, _domain(name), str(b.get("n", "-")), str(b.get("correct", "-")), _pct(b["accuracy"]),
                     f"{_pct(low)}-{_pct(high)}" if counted else "-", str(b.get("pot_answers", "-")),
                     str(b.get("fell_back", "-")), str(b.get("no_answer", "-")), _cut_off(b)])
    return header, rows


def comparison_rows(comparisons: Sequence[Any]) -> tuple[list[str], list[list[str]]]:
    """Header and rows of a paired comparison (:func:`tusk.compare.compare_runs`)."""
    header = ["benchmark", "shared n", "base %", "this %", "Δ pts", "gained", "lost", "p (McNemar)", "unpaired"]
    rows = []
    for c in comparisons:
        unpaired = str(c.base_only + c.other_only)
        if not c.comparable:  # different problem files: ids pair different problems
            rows.append([c.benchmark, "-", "-", "-", "-", "-", "-", "not comparable", "-"])
            continue
        if not c.n:  # nothing answered by both runs: nothing measured
            rows.append([c.benchmark, "0", "-", "-", "-", "-", "-", "-", unpaired])
            continue
        rows.append([c.benchmark, str(c.n), _pct(c.base_correct / c.n), _pct(c.other_correct / c.n),
                     f"{100 * c.delta:+.1f}", str(c.gained), str(c.lost), f"{c.p_value:.3g}", unpaired])
    return header, rows


def render_comparison(base: str, other: str, comparisons: Sequence[Any]):
    """A rich Table of a paired comparison of run ``other`` against run ``base``, with its notes as caption."""
    from tusk.compare import comparison_notes

    header, rows = comparison_rows(comparisons)
    notes = comparison_notes(comparisons, (str(base), str(other)))
    table = _table(f"{other} against {base} (paired by problem)", header, "\n".join(notes) or None)
    if notes:
        table.caption_justify = "left"
    return _add_rows(table, rows)
