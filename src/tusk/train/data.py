"""Read instruction-tuning records from disk into :class:`tusk.types.TrainingExample` objects.

Formats: an Alpaca JSON list (``tusk data build``'s ``train.json``, extra keys such as ``source`` and
``mode`` are kept; a ``tusk data build`` output folder means its ``train.json``), JSON Lines, Parquet, and HF
datasets saved with ``save_to_disk`` (a folder).  Text files must be UTF-8.
Guarantees: every record has a non-empty string ``instruction`` and a non-empty string ``output`` (``input``,
when present, a string); a bad record raises :class:`tusk.errors.DataError` naming the file and where: ``line N``
for JSON Lines (also in a ``.json`` file), ``record N`` (from 1) in a JSON list or HF dataset, ``row N`` (from 1)
in Parquet.  A ``.json`` file is read as JSON first; Parquet is recognised by its magic bytes whatever the name.
Order is preserved.
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
    elif path.suffix == ".parquet" or _is_parquet(path):
        records = _records_from_parquet(path)
    elif path.suffix in (".jsonl", ".ndjson"):
        records = _records_from_jsonl(path)
    else:
        records = _records_from_json(path)
    examples = []
    for where, record in records:
        examples.append(to_example(record, f"{path}: {where}"))
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
    if instruction is not None and not isinstance(instruction, str):
        raise DataError(f"{where}: 'instruction' must be a string, got {type(instruction).__name__}")
    if not isinstance(instruction, str) or not instruction.strip():
        raise DataError(f"{where}: missing or empty 'instruction'")
    if output is None:
        raise DataError(f"{where}: missing 'output'")
    if not isinstance(output, str):
        raise DataError(f"{where}: 'output' must be a string, got {type(output).__name__}")
    if not output.strip():
        raise DataError(f"{where}: empty 'output' (it would train the model to stop right after the prompt)")
    extra = record.get("input")
    if extra is None:
        extra = ""
    if not isinstance(extra, str):
        raise DataError(f"{where}: 'input' must be a string, got {type(extra).__name__}")
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


def _is_parquet(path: Path) -> bool:
    """Whether ``path`` starts with Parquet's magic bytes (a Parquet file named other than ``.parquet``)."""
    try:
        with open(path, "rb") as fh:
            return fh.read(4) == b"PAR1"
    except OSError:
        return False


def _records_from_json(path: Path) -> Iterable[tuple[str, Any]]:
    """A JSON list of records (``record N``, from 1), or JSON Lines saved as ``.json`` (``line N``)."""
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise DataError(f"{path}: line {line}: not UTF-8 text (byte {exc.start}: {exc.reason}); "
                        "save the file as UTF-8") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as whole:
        stripped = text.lstrip()
        if not stripped or stripped[0] == "[":
            raise DataError(f"{path}: not valid JSON (line {whole.lineno}: {whole.msg})") from None
        first = stripped.splitlines()[0]
        try:
            json.loads(first)
        except json.JSONDecodeError:  # not JSON Lines either: the file's own JSON error is the useful one
            raise DataError(f"{path}: not valid JSON (line {whole.lineno}: {whole.msg})") from None
        return _records_from_jsonl(path)  # a .json file holding JSON lines
    if isinstance(data, dict):
        raise DataError(f"{path}: expected a JSON list of Alpaca records, got one object (a single record: wrap "
                        "it in [ ]; many records: a list, or one object per line)")
    if not isinstance(data, list):
        raise DataError(f"{path}: expected a JSON list of Alpaca records, got {type(data).__name__}")
    return [(f"record {number}", record) for number, record in enumerate(data, 1)]


def _records_from_jsonl(path: Path) -> Iterable[tuple[str, Any]]:
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
                out.append((f"line {number}", json.loads(line)))
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
    return [(f"row {number}", row) for number, row in enumerate(table.to_pylist(), 1)]


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
        hint = ""
        others = sorted(p.name for p in path.iterdir() if p.suffix in (".json", ".jsonl", ".parquet"))
        if others:
            hint = f"; to train on a file in it, name it: {path / others[0]}"
        raise DataError(f"{path}: a folder without {BUILD_OUTPUT} (what tusk data build writes) that is not an HF "
                        f"dataset saved with save_to_disk either ({exc}){hint}") from None
    if isinstance(loaded, datasets.DatasetDict):
        if "train" not in loaded:
            raise DataError(f"{path}: dataset has no 'train' split (splits: {', '.join(loaded)})")
        loaded = loaded["train"]
    return ((f"record {number}", record) for number, record in enumerate(loaded, 1))
