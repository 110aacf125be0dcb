"""Where tusk keeps what it downloads, assembles or converts: ``$TUSK_CACHE_DIR`` or ``~/.cache/tusk``."""

from __future__ import annotations

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
    stat = path.stat()
    stamp = path.with_name(path.name + ".sha256.json")
    key = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    try:
        saved = json.loads(stamp.read_text())
        if saved.get("key") == key:
            return saved["sha256"]
    except (OSError, ValueError, KeyError):
        pass
    digest = sha256_file(path)
    try:
        stamp.write_text(json.dumps({"key": key, "sha256": digest}))
    except OSError:  # a read-only location (e.g. site-packages): just do not remember
        pass
    return digest


def file_sha256(path: Path) -> str:
    """sha256 of a user's file, hashed on first use and remembered while its size and mtime are unchanged.

    A stamp :func:`verified_sha256` left beside the file is used when it matches; otherwise the digest is kept
    under the tusk cache (``sha256/``, one small JSON file per file path), so nothing is written beside the
    user's files and a multi-GB checkpoint is read once, not at every load.
    """
    path = Path(path)
    stat = path.stat()
    key = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    beside = path.with_name(path.name + ".sha256.json")
    try:
        saved = json.loads(beside.read_text())
        if saved.get("key") == key:
            return saved["sha256"]
    except (OSError, ValueError, KeyError, AttributeError):
        pass
    where = str(path.resolve())
    try:
        record = cache_dir("sha256") / (hashlib.sha256(where.encode()).hexdigest()[:32] + ".json")
    except TuskError:  # no writable cache: hash every time
        return sha256_file(path)
    try:
        saved = json.loads(record.read_text())
        if saved.get("path") == where and saved.get("key") == key:
            return saved["sha256"]
    except (OSError, ValueError, KeyError, AttributeError):
        pass
    digest = sha256_file(path)
    tmp = record.with_name(f".{record.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(json.dumps({"path": where, "key": key, "sha256": digest}))
        os.replace(tmp, record)
    except OSError:
        tmp.unlink(missing_ok=True)
    return digest
