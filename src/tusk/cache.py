"""Where tusk keeps what it downloads, assembles or converts: ``$TUSK_CACHE_DIR`` or ``~/.cache/tusk``."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from pathlib import Path

from tusk.errors import TuskError


def cache_dir(*parts: str) -> Path:
    """The cache folder (or a subfolder of it), created on first use."""
    base = os.environ.get("TUSK_CACHE_DIR")
    if base:
        root = Path(base)
    else:
        xdg = os.environ.get("XDG_CACHE_HOME")
        root = (Path(xdg) if xdg else Path.home() / ".cache") / "tusk"
    path = root.joinpath(*parts)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise TuskError(f"cannot use the cache folder {path} ({exc.strerror or exc}); set TUSK_CACHE_DIR to a "
                        "writable folder") from None
    return path


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def verified_sha256(path: Path) -> str:
    """sha256 of ``path``, remembered in a stamp file beside it while its size and mtime are unchanged."""
    key = _file_key(path)
    stamp = path.with_name(path.name + ".sha256.json")
    digest = _remembered(stamp, key)
    if digest is None:
        digest = sha256_file(path)
        _remember(stamp, {"key": key, "sha256": digest})  # a read-only location (site-packages): not kept
    return digest


def file_sha256(path: Path) -> str:
    """sha256 of a user's file, hashed on first use and remembered while its size and mtime are unchanged.

    A stamp :func:`verified_sha256` left beside the file is used when it matches; otherwise the digest is kept
    under the tusk cache (``sha256/``, one small JSON file per file path), so nothing is written beside the
    user's files and a multi-GB checkpoint is read once, not at every load.
    """
    path = Path(path)
    key = _file_key(path)
    digest = _remembered(path.with_name(path.name + ".sha256.json"), key)
    if digest is not None:
        return digest
    where = str(path.resolve())
    try:
        record = cache_dir("sha256") / (hashlib.sha256(where.encode()).hexdigest()[:32] + ".json")
    except TuskError:  # no writable cache: hash every time
        return sha256_file(path)
    digest = _remembered(record, key, where)
    if digest is None:
        digest = sha256_file(path)
        _remember(record, {"path": where, "key": key, "sha256": digest})
    return digest


def _file_key(path: Path) -> dict[str, int]:
    stat = path.stat()
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def _remembered(stamp: Path, key: dict[str, int], where: str | None = None) -> str | None:
    """The digest a stamp file keeps for a file of this size and mtime (and path, when ``where``), else None."""
    try:
        saved = json.loads(stamp.read_text())
    except (OSError, ValueError):
        return None
    if (isinstance(saved, dict) and saved.get("key") == key and (where is None or saved.get("path") == where)
            and isinstance(saved.get("sha256"), str)):
        return saved["sha256"]
    return None


def _remember(stamp: Path, saved: dict) -> None:
    """Write a stamp file atomically; a location that cannot be written just does not remember."""
    tmp = stamp.with_name(f".{stamp.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(json.dumps(saved))
        os.replace(tmp, stamp)
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
