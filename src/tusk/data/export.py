"""Optional exports of a built dataset: a Hugging Face ``datasets`` folder and a Parquet file.

Both need the ``[train]`` extra (``datasets`` / ``pyarrow``), imported only when an export is asked for.
:func:`write_exports` writes the exports a build asks for and removes those it does not (a rebuild never
leaves an old ``train.parquet`` or ``hf/`` beside a new ``train.json``); it returns, per export, the sha256 of
every file written, which the manifest records and ``tusk data check`` verifies.  Files are written beside
their final place and moved there, so a reader never sees half an export.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tusk.cache import sha256_file
from tusk.errors import MissingExtraError

COLUMNS = ("instruction", "input", "output", "source", "mode")
EXPORTS = {"parquet": "train.parquet", "hf": "hf"}
"""export name -> its path inside the build folder"""


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
    from tusk.progress import library_bars_off

    tmp = folder.with_name(folder.name + ".tmp")
    remove(tmp)
    with library_bars_off():  # a second-long save; the build has its own progress line
        datasets.Dataset.from_dict(_columns(records)).save_to_disk(str(tmp))
    remove(folder)
    tmp.replace(folder)
    return folder


def remove(path: Path) -> None:
    """Delete a file or folder if it is there."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def file_hashes(path: Path) -> dict[str, str]:
    """sha256 of a file (keyed by its name) or of every file under a folder (keyed by relative path)."""
    if path.is_dir():
        return {p.relative_to(path).as_posix(): sha256_file(p) for p in sorted(path.rglob("*")) if p.is_file()}
    return {path.name: sha256_file(path)}


def write_exports(records: Sequence[dict[str, Any]], folder: Path, parquet: bool, hf: bool) -> dict[str, dict]:
    """Write the wanted exports into ``folder``, remove the unwanted; ``{name: {path, records, files}}``."""
    wanted = {"parquet": parquet, "hf": hf}
    writers = {"parquet": export_parquet, "hf": export_hf}
    out: dict[str, dict] = {}
    for name, rel in EXPORTS.items():
        path = folder / rel
        if not wanted[name]:
            remove(path)
            continue
        writers[name](records, path)
        out[name] = {"path": rel, "records": len(records), "files": file_hashes(path)}
    return out
