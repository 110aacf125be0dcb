"""Merging shard runs: the samples of ``tusk eval --shard i/n`` runs combined into one run directory.

Shards must agree on every setting that changes results (:data:`tusk.evaluate.IDENTITY_KEYS`); a problem found
in several shards is kept once (they are identical by construction); the merged summary is recomputed from the
merged samples, so it equals the summary an unsharded run would have written.  The merge is marked complete only
when every shard 0..n-1 of one split is there (an unsharded run counts as every shard) and finished, and every
input ran the same benchmarks with the same ``--limit`` on the same problem files (their recorded digest, not
the folder path, is compared); otherwise it is marked partial and
a warning names what is missing or different (merging unfinished shards is a way to watch a long run).

``out`` is a new directory or a previous merge: merging into a previous merge adds the new inputs to the ones
it records (``merged_from``, and what each held in ``merge_inputs``), and completeness is judged over all of
them; an input given again replaces what was recorded for it.  An input that is itself a merge counts as the
runs it was merged from.  An ordinary run directory is refused as ``out``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import MISSING as _MISSING
from pathlib import Path
from typing import Any

from tusk.backends.base import redacted_options
from tusk.errors import DataError, TuskError
from tusk.evaluate import IDENTITY_KEYS, REQUIRED_KEYS, comparable_setting
from tusk.report import summarize
from tusk.store import (
    CONFIG,
    SUMMARY,
    combine_limits,
    config_limits,
    read_json,
    read_samples,
    recorded_problem_sets,
    with_limits,
)
from tusk.types import SampleRecord

log = logging.getLogger(__name__)


def merge_runs(run_dirs: Sequence[str | Path], out: str | Path) -> dict[str, Any]:
    from tusk.store import RunStore

    if not run_dirs:
        raise TuskError("nothing to merge")
    inputs = {Path(d).resolve() for d in run_dirs}
    if Path(out).resolve() in inputs:
        raise TuskError(f"--out {out} is one of the runs being merged; choose a new directory")
    previous = None
    if (Path(out) / CONFIG).exists():
        previous = read_json(Path(out) / CONFIG)
        if not isinstance(previous, dict) or "merged_from" not in previous:
            raise TuskError(f"--out {out} holds a run that is not a merge; choose a new directory or a previous "
                            "merge")
    configs = [read_json(Path(d) / CONFIG) for d in run_dirs]
    first = configs[0]
    for run_dir, config in zip(run_dirs[1:], configs[1:]):
        changed = [k for k in IDENTITY_KEYS
                   if comparable_setting(k, config.get(k)) != comparable_setting(k, first.get(k))]
        if changed:
            raise TuskError(f"{run_dir} differs from {run_dirs[0]} in {', '.join(changed)}; cannot merge")
    given = [info for run_dir, config in zip(run_dirs, configs) for info in _inputs_of(run_dir, config)]
    given_runs = {info["run"] for info in given}
    earlier = [info for info in (_inputs_of(out, previous) if previous else []) if info["run"] not in given_runs]
    every = earlier + given
    benchmarks: list[str] = []
    limits: dict[str, int | None] = {}
    problem_sets: dict[str, Any] = {}
    for config in configs:
        benchmarks += [b for b in config.get("benchmarks", []) if b not in benchmarks]
        limits = combine_limits(limits, config_limits(config))
        problem_sets.update(config.get("problem_sets") or {})
    merged_config = {**first, "benchmarks": benchmarks, "shard": None, "problem_sets": problem_sets,
                     "merged_from": [info["run"] for info in every], "merge_inputs": every}
    merged_config.pop("elapsed", None)  # the time of one input is not the merge's
    for key in ("backend_options", "result_options"):  # an API key an older version saved is not copied
        if isinstance(merged_config.get(key), dict):
            merged_config[key] = redacted_options(merged_config[key])
    merged_config = with_limits(merged_config, limits)
    gaps = _gaps(every)
    for gap in gaps:
        log.warning("merge is partial: %s", gap)
    with RunStore(out, merged_config, IDENTITY_KEYS, required=REQUIRED_KEYS, comparable=comparable_setting) as store:
        for run_dir in run_dirs:
            for record in read_samples(run_dir):
                if record["id"] not in store.done_ids:
                    store.append(_to_record(record, run_dir))
        summary = summarize(store.records(), {**store.config, "complete": not gaps})
        store.write_summary(summary)
    return summary


def _inputs_of(run_dir: str | Path, config: dict[str, Any]) -> list[dict[str, Any]]:
    """What a run directory contributes to a merge: itself, or for a merge the inputs it records."""
    if "merged_from" not in config:
        summary_path = Path(run_dir) / SUMMARY
        return [{
            "run": str(Path(run_dir).resolve()),
            "shard": config.get("shard"),
            "complete": summary_path.exists() and read_json(summary_path).get("complete") is True,
            "benchmarks": list(config.get("benchmarks") or []),
            "limits": config_limits(config),
            "data_dir": config.get("data_dir"),
            "problem_sets": dict(config.get("problem_sets") or {}),
        }]
    recorded = config.get("merge_inputs")
    if isinstance(recorded, list) and all(isinstance(i, dict) and "run" in i for i in recorded):
        return [dict(i) for i in recorded]
    # a merge made before its inputs were recorded: what they hold now, where they can still be read
    found = []
    for earlier in config.get("merged_from") or []:
        try:
            found += _inputs_of(earlier, read_json(Path(earlier) / CONFIG))
        except TuskError:
            found.append({"run": str(Path(earlier).resolve()), "unknown": True})
    return found


def _gaps(inputs: Sequence[dict[str, Any]]) -> list[str]:
    """What keeps the merge from being the whole run: unfinished inputs, inputs that selected other problems,
    and shards of the split not given."""
    gaps = []
    for info in inputs:
        if info.get("unknown"):
            gaps.append(f"{info['run']} was merged in before, and what it held cannot be read any more")
        elif not info.get("complete"):
            gaps.append(f"{info['run']} is unfinished")
    known = [info for info in inputs if not info.get("unknown")]
    shared = set.intersection(*(set(info["benchmarks"]) for info in known)) if known else set()
    for what, value in (
        ("benchmarks", lambda info: sorted(info["benchmarks"])),
        ("--limit", lambda info: {b: info["limits"].get(b) for b in sorted(shared)}),
        ("benchmark files", lambda info: {b: _problems_read(info, b, known) for b in sorted(shared)}),
    ):
        values = [value(info) for info in known]
        if any(v != values[0] for v in values[1:]):
            listed = "; ".join(f"{info['run']}: {v}" for info, v in zip(known, values))
            gaps.append(f"the runs differ in {what} ({listed}), so together they are not one run's problems")
    shards = [(int(info["shard"][0]), int(info["shard"][1])) for info in known if info.get("shard")]
    splits = {n for _, n in shards}
    if len(splits) > 1:
        raise TuskError(f"the runs come from different splits (--shard i/n with n in {sorted(splits)}); cannot merge")
    whole = any(not info.get("shard") for info in known)  # an unsharded run holds every shard
    if splits and not whole:
        (n,) = splits
        missing = sorted(set(range(n)) - {i for i, _ in shards})
        if missing:
            gaps.append(f"shards {', '.join(f'{i}/{n}' for i in missing)} are not among the runs")
    return gaps


def _problems_read(info: dict[str, Any], benchmark: str, inputs: Sequence[dict[str, Any]]) -> Any:
    """What identifies the problems an input read for ``benchmark``: their digest where every input recorded
    one (the same files through any folder, mount or mirror agree), else (an older run among them) the data
    folder each named."""
    recorded = recorded_problem_sets(info).get(benchmark)
    if recorded and all(benchmark in recorded_problem_sets(other) for other in inputs):
        return f"{recorded.get('count')} problems, sha256 {str(recorded['sha256'])[:12]}"
    return f"--data-dir {info.get('data_dir')}"


def _to_record(row: dict[str, Any], run_dir: str | Path) -> SampleRecord:
    fields = SampleRecord.__dataclass_fields__
    where = f"{Path(run_dir) / 'samples.jsonl'}: sample {row.get('id')!r}"
    unknown = set(row) - set(fields)
    if unknown:
        raise DataError(f"{where}: unknown fields {sorted(unknown)} ({json.dumps(row)[:80]}...)")
    required = [name for name, f in fields.items() if f.default is f.default_factory is _MISSING]
    missing = [name for name in required if name not in row]
    if missing:
        raise DataError(f"{where}: missing fields {missing}")
    try:
        return SampleRecord(**{k: tuple(v) if k == "generations" else v for k, v in row.items()})
    except TypeError as exc:
        raise DataError(f"{where}: {exc}") from None
