"""Merging shard runs: the samples of ``tusk eval --shard i/n`` runs combined into one run directory.

Shards must agree on every setting that changes results (:data:`tusk.evaluate.IDENTITY_KEYS`); a problem found
in several shards is kept once (they are identical by construction); the merged summary is recomputed from the
merged samples, so it equals the summary an unsharded run would have written.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tusk.errors import TuskError
from tusk.evaluate import IDENTITY_KEYS
from tusk.report import summarize
from tusk.store import CONFIG, read_json, read_samples
from tusk.types import SampleRecord


def merge_runs(run_dirs: Sequence[str | Path], out: str | Path) -> dict[str, Any]:
    from tusk.store import RunStore

    if not run_dirs:
        raise TuskError("nothing to merge")
    configs = [read_json(Path(d) / CONFIG) for d in run_dirs]
    first = configs[0]
    for run_dir, config in zip(run_dirs[1:], configs[1:]):
        changed = [k for k in IDENTITY_KEYS if config.get(k) != first.get(k)]
        if changed:
            raise TuskError(f"{run_dir} differs from {run_dirs[0]} in {', '.join(changed)}; cannot merge")
    benchmarks: list[str] = []
    for config in configs:
        benchmarks += [b for b in config.get("benchmarks", []) if b not in benchmarks]
    merged_config = {**first, "benchmarks": benchmarks, "shard": None, "merged_from": [str(d) for d in run_dirs]}
    with RunStore(out, merged_config, IDENTITY_KEYS) as store:
        for run_dir in run_dirs:
            for record in read_samples(run_dir):
                if record["id"] not in store.done_ids:
                    store.append(_to_record(record))
        summary = summarize(store.records(), {**store.config, "complete": True})
        store.write_summary(summary)
    return summary


def _to_record(row: dict[str, Any]) -> SampleRecord:
    fields = SampleRecord.__dataclass_fields__
    unknown = set(row) - set(fields)
    if unknown:
        raise TuskError(f"sample {row.get('id')}: unknown fields {sorted(unknown)} ({json.dumps(row)[:80]}...)")
    return SampleRecord(**{k: tuple(v) if k == "generations" else v for k, v in row.items()})
