"""Optional exports of a built dataset: a Hugging Face ``datasets`` folder and a Parquet file.

Both need the ``[train]`` extra (``datasets`` / ``pyarrow``), imported only when an export is asked for.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tusk.errors import MissingExtraError

COLUMNS = ("instruction", "input", "output", "source", "mode")


def _columns(records: Sequence[dict[str, Any]]) -> dict[str, list[str]]:
    return {name: [str(r.get(name, "")) for r in records] for name in COLUMNS}


def export_parquet(records: Sequence[dict[str, Any]], path: Path) -> Path:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise MissingExtraError("Parquet export", "train", exc) from exc
    tmp = path.with_name(path.name + ".tmp")
    pq.write_table(pa.table(_columns(records)), tmp)
    tmp.replace(path)
    return path


def export_hf(records: Sequence[dict[str, Any]], folder: Path) -> Path:
    try:
        import datasets
    except ImportError as exc:
        raise MissingExtraError("Hugging Face datasets export", "train", exc) from exc
    datasets.Dataset.from_dict(_columns(records)).save_to_disk(str(folder))
    return folder
