"""Merging shard runs: the samples of ``tusk eval --shard i/n`` runs combined into one run directory.

Shards must agree on every setting that changes results (:data:`tusk.evaluate.IDENTITY_KEYS`); a problem found
in several shards is kept once (they are identical by construction); the merged summary is recomputed from the
merged samples, so it equals the summary an unsharded run would have written.  The merge is marked complete only
when every shard 0..n-1 of one split is there and finished; otherwise it is marked partial and a warning names
what is missing (merging unfinished shards is a way to watch a long run).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import MISSING as _MISSING
from pathlib import Path
from typing import Any

from tusk.errors import DataError, TuskError
from tusk.evaluate import IDENTITY_KEYS, REQUIRED_KEYS, comparable_setting
from tusk.report import summarize
from tusk.store import CONFIG, SUMMARY, read_json, read_samples
from tusk.types import SampleRecord

log = logging.getLogger(__name__)


def merge_runs(run_dirs: Sequence[str | Path], out: str | Path) -> dict[str, Any]:
    from tusk.store import RunStore

    if not run_dirs:
        raise TuskError("nothing to merge")
    inputs = {Path(d).resolve() for d in run_dirs}
    if Path(out).resolve() in inputs:
        raise TuskError(f"--out {out} is one of the runs being merged; choose a new directory")
    configs = [read_json(Path(d) / CONFIG) for d in run_dirs]
    first = configs[0]
    for run_dir, config in zip(run_dirs[1:], configs[1:]):
        changed = [k for k in IDENTITY_KEYS
                   if comparable_setting(k, config.get(k)) != comparable_setting(k, first.get(k))]
        if changed:
            raise TuskError(f"{run_dir} differs from {run_dirs[0]} in {', '.join(changed)}; cannot merge")
    benchmarks: list[str] = []
    for config in configs:
        benchmarks += [b for b in config.get("benchmarks", []) if b not in benchmarks]
    merged_config = {**first, "benchmarks": benchmarks, "shard": None, "merged_from": [str(d) for d in run_dirs]}
    gaps = _gaps(run_dirs, configs)
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


def _gaps(run_dirs: Sequence[str | Path], configs: Sequence[dict[str, Any]]) -> list[str]:
    """What keeps the merge from being the whole run: unfinished shards, and shards of the split not given."""
    gaps = []
    for run_dir in run_dirs:
        summary_path = Path(run_dir) / SUMMARY
        if not summary_path.exists() or read_json(summary_path).get("complete") is not True:
            gaps.append(f"{run_dir} is unfinished")
    shards = [(int(c["shard"][0]), int(c["shard"][1])) for c in configs if c.get("shard")]
    splits = {n for _, n in shards}
    if len(splits) > 1:
        raise TuskError(f"the runs come from different splits (--shard i/n with n in {sorted(splits)}); cannot merge")
    if splits and len(shards) == len(configs):
        (n,) = splits
        missing = sorted(set(range(n)) - {i for i, _ in shards})
        if missing:
            gaps.append(f"shards {', '.join(f'{i}/{n}' for i in missing)} are not among the runs")
    return gaps


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
