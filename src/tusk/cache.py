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
