"""Check that a built dataset folder is what its ``manifest.json`` says it is.

:func:`check_build` recomputes, from ``train.json`` and the input files themselves, everything the manifest
claims that can be recomputed: the output sha256 and record count, the counts per source/mode, mode and
component, each component's funnel (verified - dedup - contamination = available >= selected), and the
sha256 of every input.  It returns the list of disagreements (empty when the folder is consistent).
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

    output = manifest.get("output", {}).get("train.json", {})
    expect("records", manifest.get("records"), len(records))
    expect("output records", output.get("records"), len(records))
    expect("train.json sha256", output.get("sha256"), _sha256(folder / "train.json"))
    counts = manifest.get("counts", {})
    expect("counts by source/mode", counts.get("by_source_mode"),
           dict(sorted(Counter(f"{r.get('source')}/{r.get('mode')}" for r in records).items())))
    expect("counts by mode", counts.get("by_mode"), dict(sorted(Counter(r.get("mode") for r in records).items())))
    expect("counts by source", counts.get("by_source"),
           dict(sorted(Counter(r.get("source") for r in records).items())))
    by_component = counts.get("by_component", {})
    expect("sum of component counts", sum(by_component.values()), len(records))
    for name, stats in manifest.get("components", {}).items():
        funnel = stats["verified"] - stats["dedup_dropped"] - stats["contaminated"]
        expect(f"{name}: available", stats["available"], funnel)
        expect(f"{name}: selected", stats["selected"], by_component.get(name))
        if stats["selected"] > stats["available"]:
            problems.append(f"{name}: selected {stats['selected']} > available {stats['available']}")
        v = stats.get("verification", {})
        if v.get("checked"):
            expect(f"{name}: pass rate", v.get("pass_rate"), round(v["passed"] / v["checked"], 4))
            expect(f"{name}: drops", sum(v.get("dropped", {}).values()), v["checked"] - v["passed"])
    decontam = manifest.get("decontamination")
    if decontam is not None:
        rows = [line for line in (folder / "decontamination.jsonl").read_text().splitlines() if line.strip()]
        expect("decontamination matches", decontam.get("dropped"), len(rows))
    if check_inputs:
        for item in manifest.get("inputs", []):
            path = Path(item["path"])
            if not path.is_file():
                problems.append(f"input {path} is missing")
            else:
                expect(f"input {path.name} sha256", item["sha256"], _sha256(path))
    return problems
