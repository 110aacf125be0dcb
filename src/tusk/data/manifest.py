"""Check that a built dataset folder is what its ``manifest.json`` says it is.

:func:`check_build` recomputes, from ``train.json`` and the input files themselves, everything the manifest
claims that can be recomputed: the output sha256 and record count, the counts per source/mode, mode and
component, each component's funnel (verified - dedup - contamination = available >= selected), the sha256
of every input and of every export file (``train.parquet``, ``hf/``; an export on disk that the manifest does
not list is stale and reported).  It returns the list of disagreements (empty when the folder is consistent);
a manifest with missing or malformed entries gives disagreements too, never a traceback.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path

from tusk.errors import DataError


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def check_build(folder: str | Path, check_inputs: bool = True) -> list[str]:
    folder = Path(folder)
    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        records = json.loads((folder / "train.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DataError(f"{folder}: not a complete build ({exc})") from exc
    problems: list[str] = []

    def expect(what: str, claimed, actual) -> None:
        if claimed != actual:
            problems.append(f"{what}: manifest says {claimed!r}, output has {actual!r}")

    if not isinstance(manifest, dict) or not isinstance(records, list):
        raise DataError(f"{folder}: manifest.json must be an object and train.json a list")
    output = _section(manifest, "output", problems)
    expect("records", manifest.get("records"), len(records))
    train = _section(output, "train.json", problems)
    expect("output records", train.get("records"), len(records))
    expect("train.json sha256", train.get("sha256"), _sha256(folder / "train.json"))
    counts = _section(manifest, "counts", problems)
    records = [r if isinstance(r, dict) else {} for r in records]
    expect("counts by source/mode", counts.get("by_source_mode"),
           dict(sorted(Counter(f"{r.get('source')}/{r.get('mode')}" for r in records).items())))
    expect("counts by mode", counts.get("by_mode"), dict(sorted(Counter(r.get("mode") for r in records).items())))
    expect("counts by source", counts.get("by_source"),
           dict(sorted(Counter(r.get("source") for r in records).items())))
    by_component = counts.get("by_component")
    if not isinstance(by_component, dict) or not all(isinstance(n, int) for n in by_component.values()):
        problems.append("manifest: counts.by_component is missing or not a mapping of counts")
        by_component = {}
    expect("sum of component counts", sum(by_component.values()), len(records))
    for name, stats in _section(manifest, "components", problems).items():
        try:
            _check_component(name, stats, by_component, expect, problems)
        except (KeyError, TypeError, ValueError, AttributeError, ZeroDivisionError) as exc:
            detail = f"lacks {exc}" if isinstance(exc, KeyError) else f"is malformed ({exc})"
            problems.append(f"manifest: components.{name} {detail}")
    decontam = manifest.get("decontamination")
    if decontam is not None:
        path = folder / "decontamination.jsonl"
        if not path.is_file():
            problems.append("decontamination.jsonl is missing")
        else:
            rows = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
            expect("decontamination matches", decontam.get("dropped") if isinstance(decontam, dict) else decontam,
                   len(rows))
    _check_exports(folder, output, len(records), problems)
    if check_inputs:
        for i, item in enumerate(manifest.get("inputs", [])):
            if not isinstance(item, dict) or "path" not in item or "sha256" not in item:
                problems.append(f"manifest: inputs[{i}] needs a path and a sha256")
                continue
            path = Path(item["path"])
            if not path.is_file():
                problems.append(f"input {path} is missing")
            else:
                expect(f"input {path.name} sha256", item["sha256"], _sha256(path))
    return problems


def _section(parent: dict, key: str, problems: list[str]) -> dict:
    value = parent.get(key)
    if not isinstance(value, dict):
        problems.append(f"manifest: {key!r} is missing or not an object")
        return {}
    return value


def _check_component(name: str, stats: dict, by_component: dict, expect, problems: list[str]) -> None:
    funnel = stats["verified"] - stats["dedup_dropped"] - stats["contaminated"]
    expect(f"{name}: available", stats["available"], funnel)
    expect(f"{name}: selected", stats["selected"], by_component.get(name))
    if stats["selected"] > stats["available"]:
        problems.append(f"{name}: selected {stats['selected']} > available {stats['available']}")
    v = stats.get("verification") or {}
    if v.get("checked"):
        expect(f"{name}: pass rate", v.get("pass_rate"), round(v["passed"] / v["checked"], 4))
        expect(f"{name}: drops", sum(v.get("dropped", {}).values()), v["checked"] - v["passed"])


def _check_exports(folder: Path, output: dict, records: int, problems: list[str]) -> None:
    """Every export the manifest lists is there with the recorded hashes; none it does not list is there."""
    from tusk.data.export import EXPORTS, file_hashes

    for name, rel in EXPORTS.items():
        path = folder / rel
        entry = output.get(name)
        if entry is None:
            if path.exists():
                problems.append(f"{rel} is not in the manifest (left from an earlier build?)")
            continue
        if not path.exists():
            problems.append(f"{rel} is missing")
            continue
        if not isinstance(entry, dict) or not isinstance(entry.get("files"), dict):
            problems.append(f"{rel}: the manifest records no sha256 for it (built by an older tusk); rebuild")
            continue
        if entry.get("records") != records:
            problems.append(f"{rel} records: manifest says {entry.get('records')!r}, train.json has {records}")
        actual = file_hashes(path)
        for file, digest in sorted(entry["files"].items()):
            if file not in actual:
                problems.append(f"{rel}: {file} is missing")
            elif actual[file] != digest:
                problems.append(f"{rel}: {file} sha256 differs from the manifest")
        for file in sorted(set(actual) - set(entry["files"])):
            problems.append(f"{rel}: {file} is not in the manifest")
