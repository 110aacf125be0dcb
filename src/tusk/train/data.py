"""Read instruction-tuning records from disk into :class:`tusk.types.TrainingExample` objects.

Formats: an Alpaca JSON list (``tusk data build``'s ``train.json``, extra keys such as ``source`` and
``mode`` are kept; a ``tusk data build`` output folder means its ``train.json``), JSON Lines, Parquet, and HF
datasets saved with ``save_to_disk`` (a folder).  Text files must be UTF-8.
Guarantees: every record has a non-empty string ``instruction`` and a string ``output``; a bad record
raises :class:`tusk.errors.DataError` naming the file and record (line for JSONL).  Order is preserved.
Does not: render prompts or tokenise (see :mod:`tusk.train.tokenize`); shuffle (the loop does, seeded).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from tusk.errors import DataError, MissingExtraError
from tusk.types import TrainingExample

log = logging.getLogger(__name__)

_KNOWN = {"instruction", "input", "output", "mode", "source", "answer"}
BUILD_OUTPUT = "train.json"  # what ``tusk data build`` writes into its output folder


def load_examples(path: str | Path, limit: int = 0, progress: bool = True) -> tuple[TrainingExample, ...]:
    """All records of ``path`` (or the first ``limit`` when ``limit > 0``) as training examples;
    ``progress=False`` also silences the datasets library's bars while an HF dataset folder loads."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"training data {path} does not exist")
    if path.is_dir() and (path / BUILD_OUTPUT).is_file():
        log.info("%s is a tusk data build folder: training on %s", path, path / BUILD_OUTPUT)
        path = path / BUILD_OUTPUT
    if path.is_dir():
        records = _records_from_hf_dataset(path, progress)
        where = "record"
    elif path.suffix == ".parquet":
        records = _records_from_parquet(path)
        where = "row"
    elif path.suffix in (".jsonl", ".ndjson"):
        records = _records_from_jsonl(path)
        where = "line"
    else:
        records = _records_from_json(path)
        where = "record"
    examples = []
    for index, record in records:
        examples.append(to_example(record, f"{path}: {where} {index}"))
        if limit and len(examples) >= limit:
            break
    if not examples:
        raise DataError(f"{path}: no training records")
    return tuple(examples)


def to_example(record: Any, where: str) -> TrainingExample:
    """One Alpaca record -> :class:`TrainingExample`; ``where`` names it in errors."""
    if not isinstance(record, Mapping):
        raise DataError(f"{where}: expected an object with instruction/output, got {type(record).__name__}")
    instruction = record.get("instruction")
    output = record.get("output")
    if not isinstance(instruction, str) or not instruction.strip():
        raise DataError(f"{where}: missing or empty 'instruction'")
    if not isinstance(output, str):
        raise DataError(f"{where}: missing 'output' (a string)")
    extra = record.get("input") or ""
    if not isinstance(extra, str):
        raise DataError(f"{where}: 'input' must be a string")
    mode = record.get("mode") or "cot"
    if mode not in ("cot", "pot"):
        raise DataError(f"{where}: 'mode' must be cot or pot, got {mode!r}")
    answer = record.get("answer")
    provenance = {k: v for k, v in record.items() if k not in _KNOWN}
    return TrainingExample(
        instruction=instruction,
        output=output,
        input=extra,
        mode=mode,
        source=str(record.get("source") or ""),
        answer=None if answer is None else str(answer),
        provenance=provenance,
    )


def _records_from_json(path: Path) -> Iterable[tuple[int, Any]]:
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise DataError(f"{path}: line {line}: not UTF-8 text (byte {exc.start}: {exc.reason}); "
                        "save the file as UTF-8") from None
    stripped = text.lstrip()
    if stripped and stripped[0] != "[":  # a .json file holding JSON lines
        return _records_from_jsonl(path)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: not valid JSON (line {exc.lineno}: {exc.msg})") from None
    if not isinstance(data, list):
        raise DataError(f"{path}: expected a JSON list of Alpaca records")
    return enumerate(data)


def _records_from_jsonl(path: Path) -> Iterable[tuple[int, Any]]:
    out = []
    with open(path, "rb") as fh:
        for number, raw in enumerate(fh, 1):
            try:
                line = raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError as exc:
                raise DataError(f"{path}: line {number}: not UTF-8 text ({exc.reason} at column {exc.start + 1}); "
                                "save the file as UTF-8") from None
            if not line.strip():
                continue
            try:
                out.append((number, json.loads(line)))
            except json.JSONDecodeError as exc:
                raise DataError(f"{path}: line {number}: not valid JSON ({exc.msg})") from None
    return out


def _records_from_parquet(path: Path) -> Iterable[tuple[int, Any]]:
    try:
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise MissingExtraError("reading Parquet training data", "train", exc) from None
    try:
        table = pq.read_table(path)
    except Exception as exc:  # noqa: BLE001 - pyarrow raises several types for corrupt files
        raise DataError(f"{path}: cannot read Parquet ({exc})") from None
    return enumerate(table.to_pylist())


def _records_from_hf_dataset(path: Path, progress: bool = True) -> Iterable[tuple[int, Any]]:
    try:
        import datasets
    except ImportError as exc:
        raise MissingExtraError("reading an HF dataset folder", "train", exc) from None
    from tusk.progress import library_bars_off

    try:
        with library_bars_off(enabled=not progress):
            loaded = datasets.load_from_disk(str(path))
    except Exception as exc:  # noqa: BLE001 - datasets raises several types for a wrong folder
        raise DataError(f"{path}: not a dataset saved with save_to_disk ({exc})") from None
    if isinstance(loaded, datasets.DatasetDict):
        if "train" not in loaded:
            raise DataError(f"{path}: dataset has no 'train' split (splits: {', '.join(loaded)})")
        loaded = loaded["train"]
    return enumerate(loaded)
