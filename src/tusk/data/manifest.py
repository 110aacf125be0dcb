"""Check that a built dataset folder is what its ``manifest.json`` says it is.

:func:`check_build` recomputes, from ``train.json`` and the input files themselves, everything the manifest
claims that can be recomputed: the output sha256 and record count, ``config_sha256`` from ``config``, the
counts per source/mode, mode and component, each component's funnel (verified + unverified - dedup -
contamination = available >= selected), each component's verification, dedup and decontamination counts
against the rows of ``verification.jsonl``, ``dedup.jsonl`` and ``decontamination.jsonl`` (and those files'
sha256), the sha256 of every input (a build lists at least one), of every evaluation file decontamination
read and of every export file (``train.parquet``, ``hf/``; an export on disk that the manifest does not list
is stale and reported).  A manifest written by an older tusk, without some of these records, gives a note per
record it lacks (what could not be checked; rebuild to check it), not a disagreement.  It returns the list of disagreements (empty when the folder is consistent);
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


def check_build(folder: str | Path, check_inputs: bool = True, notes: list[str] | None = None) -> list[str]:
    """The disagreements between ``folder`` and its manifest (empty: consistent).  What a manifest written by
    an older tusk does not record cannot be checked: one line per such record goes to ``notes`` (when
    given), not to the disagreements."""
    folder = Path(folder)
    unchecked: list[str] = [] if notes is None else notes
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
    if "config" in manifest:
        digest = hashlib.sha256(json.dumps(manifest["config"], sort_keys=True).encode()).hexdigest()
        expect("config_sha256 (of the manifest's config)", manifest.get("config_sha256"), digest)
    else:
        problems.append("manifest: 'config' is missing")
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
    components = _section(manifest, "components", problems)
    decontam = manifest.get("decontamination")
    reviews = _read_reviews(folder, manifest, decontam is not None, problems, unchecked)
    for name, stats in components.items():
        try:
            _check_component(name, stats, by_component, expect, problems)
            _check_review_counts(name, stats, reviews, list(components), expect)
        except (KeyError, TypeError, ValueError, AttributeError, ZeroDivisionError) as exc:
            detail = f"lacks {exc}" if isinstance(exc, KeyError) else f"is malformed ({exc})"
            problems.append(f"manifest: components.{name} {detail}")
    if decontam is not None and "decontamination.jsonl" in reviews:
        expect("decontamination matches", decontam.get("dropped") if isinstance(decontam, dict) else decontam,
               len(reviews["decontamination.jsonl"]))
    _check_exports(folder, output, len(records), problems, unchecked)
    inputs = manifest.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        problems.append("manifest: 'inputs' is missing or empty (a build reads at least one source file)")
        inputs = []
    eval_inputs: list = []
    if isinstance(decontam, dict):
        if "inputs" not in decontam:
            unchecked.append("manifest: decontamination lists no evaluation files (built by an older tusk); "
                             "rebuild to record them")
        elif not isinstance(decontam["inputs"], list) or not decontam["inputs"]:
            problems.append("manifest: decontamination.inputs is empty (decontamination reads evaluation files)")
        else:
            eval_inputs = decontam["inputs"]
    if check_inputs:
        for label, items in (("inputs", inputs), ("decontamination.inputs", eval_inputs)):
            for i, item in enumerate(items):
                if not isinstance(item, dict) or "path" not in item or "sha256" not in item:
                    problems.append(f"manifest: {label}[{i}] needs a path and a sha256")
                    continue
                path = Path(item["path"])
                kind = "input" if label == "inputs" else "evaluation file"
                if not path.is_file():
                    problems.append(f"{kind} {path} is missing")
                else:
                    expect(f"{kind} {path.name} sha256", item["sha256"], _sha256(path))
    return problems


REVIEW_FILES = ("verification.jsonl", "dedup.jsonl", "decontamination.jsonl")


def _read_reviews(folder: Path, manifest: dict, decontaminated: bool, problems: list[str],
                  unchecked: list[str]) -> dict[str, list[dict]]:
    """The rows of each review file that is there (checked against the manifest's sha256 and row count)."""
    recorded = manifest.get("reviews")
    if recorded is None:
        unchecked.append("manifest: no sha256 of the review files (built by an older tusk); rebuild to check them")
        recorded = {}
    elif not isinstance(recorded, dict):
        problems.append("manifest: 'reviews' is not an object")
        recorded = {}
    out: dict[str, list[dict]] = {}
    for name in REVIEW_FILES:
        path = folder / name
        if not path.is_file():
            if name != "decontamination.jsonl" or decontaminated or name in recorded:
                problems.append(f"{name} is missing")
            continue
        text = path.read_text(encoding="utf-8")
        rows = []
        for number, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    row = json.loads(line)
                except ValueError:
                    row = None
                if not isinstance(row, dict):
                    problems.append(f"{name} line {number}: not a JSON object")
                    row = {}
                rows.append(row)
        out[name] = rows
        entry = recorded.get(name)
        if entry is None:
            continue
        if not isinstance(entry, dict):
            problems.append(f"manifest: reviews.{name} is malformed")
            continue
        if entry.get("sha256") != _sha256(path):
            problems.append(f"{name}: sha256 differs from the manifest")
        if entry.get("rows") != len(rows):
            problems.append(f"{name} rows: manifest says {entry.get('rows')!r}, file has {len(rows)}")
    return out


def _component_of(row: dict, names: list[str]) -> str | None:
    """The component a review row belongs to: its ``component``, else the longest name its key starts with."""
    if isinstance(row.get("component"), str):
        return row["component"]
    key = str(row.get("key", ""))
    found = [n for n in names if key.startswith(n + "/")]
    return max(found, key=len) if found else None


def _check_review_counts(name: str, stats: dict, reviews: dict[str, list[dict]], names: list[str], expect) -> None:
    """A component's verification, dedup and decontamination counts against the review files' rows."""
    rows = reviews.get("verification.jsonl")
    v = stats.get("verification")
    if rows is not None and isinstance(v, dict):
        mine = [r for r in rows if _component_of(r, names) == name]
        if "no_gold" in v:
            no_gold = [r for r in mine if r.get("rule") == "no-gold"]
            graded = [r for r in mine if r.get("rule") != "no-gold"]
            expect(f"{name}: no-gold rows in verification.jsonl", v["no_gold"], len(no_gold))
        else:  # an older build counted no-gold rows as checked
            graded = mine
        expect(f"{name}: checked rows in verification.jsonl", v.get("checked"), len(graded))
        expect(f"{name}: passed rows in verification.jsonl", v.get("passed"), sum(r.get("kept") is True for r in graded))
    for file, count in (("dedup.jsonl", "dedup_dropped"), ("decontamination.jsonl", "contaminated")):
        if reviews.get(file) is not None:
            expect(f"{name}: {file} rows", stats[count], sum(_component_of(r, names) == name for r in reviews[file]))


def _section(parent: dict, key: str, problems: list[str]) -> dict:
    value = parent.get(key)
    if not isinstance(value, dict):
        problems.append(f"manifest: {key!r} is missing or not an object")
        return {}
    return value


def _check_component(name: str, stats: dict, by_component: dict, expect, problems: list[str]) -> None:
    kept = stats["verified"] + stats.get("unverified", 0)  # builds before "unverified" counted them as verified
    funnel = kept - stats["dedup_dropped"] - stats["contaminated"]
    expect(f"{name}: available", stats["available"], funnel)
    if "candidates" in stats and kept > stats["candidates"]:
        problems.append(f"{name}: verified + unverified {kept} > candidates {stats['candidates']}")
    expect(f"{name}: selected", stats["selected"], by_component.get(name))
    if stats["selected"] > stats["available"]:
        problems.append(f"{name}: selected {stats['selected']} > available {stats['available']}")
    v = stats.get("verification") or {}
    if v.get("checked"):
        expect(f"{name}: pass rate", v.get("pass_rate"), round(v["passed"] / v["checked"], 4))
        expect(f"{name}: drops", sum(v.get("dropped", {}).values()), v["checked"] - v["passed"])
    elif "checked" in v:
        expect(f"{name}: pass rate", v.get("pass_rate"), None)


def _check_exports(folder: Path, output: dict, records: int, problems: list[str], unchecked: list[str]) -> None:
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
            unchecked.append(f"{rel}: the manifest records no sha256 for it (built by an older tusk); rebuild to "
                             "check it")
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
