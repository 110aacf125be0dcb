"""What identifies a model in a run directory and in a generation-cache key: the weights, not where they lie.

A backend's ``describe()`` says everything about the model (paths and library versions included, for people
reading ``config.json``); :func:`model_identity` keeps what changes the generated text.  Weights are known by
content: a built-in model by its pinned sha256, a user's GGUF file by its sha256, a model folder by the
name, size and sha256 of each weight, config and tokenizer file (:func:`folder_files`), a hub id by the id.
Digests of user files are computed on first use and remembered while size and mtime are unchanged
(:func:`tusk.cache.file_sha256`), so a multi-GB checkpoint is read once.  Install paths, mtimes, URLs,
library versions and parallelism are left out, so a copied checkpoint, another machine's cache folder or
another server of the same model resume and merge.

Run directories written before identities were content-based held paths and mtimes (and no digest for user
files): :func:`upgraded_identity` turns such a saved identity into today's form when the file or folder it
names is still there unchanged (same size and mtime), so those runs still resume with the same weights.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

#: description keys that do not change what a model generates: library versions, parallelism, and where
#: things are (paths, mtimes, server URLs, the cache file)
NEUTRAL_DESCRIPTION = frozenset({"llama_cpp", "transformers", "torch", "vllm", "device", "url", "generation_cache",
                                 "replicas", "tensor_parallel_size", "path", "mtime_ns", "sampling_fields"})
#: keys that identify the weights themselves: beside one of them, the ``model`` text (a path or spec) is left out
_WEIGHT_KEYS = ("sha256", "weights", "inner")
#: files of a model folder that are training state, not the model (left out of its identity)
_TRAINING_STATE = ("optimizer", "scheduler", "rng_state", "trainer_state", "training_args")
#: suffixes of the files that make a model folder: weights, configs, tokenizers, templates, remote code
_MODEL_SUFFIXES = frozenset({".safetensors", ".bin", ".pt", ".pth", ".gguf", ".json", ".model", ".txt",
                             ".tiktoken", ".jinja", ".py", ".msgpack", ".h5", ".ckpt"})


def model_identity(description: Any) -> Any:
    """``description`` (a backend's ``describe()``) without what does not change the generated text (nested
    descriptions too)."""
    if isinstance(description, dict):
        by_weights = any(k in description for k in _WEIGHT_KEYS)
        return {k: model_identity(v) for k, v in description.items()
                if k not in NEUTRAL_DESCRIPTION and not (by_weights and k == "model")}
    return description


def folder_files(root: Path) -> list[list[Any]]:
    """``[name, size, sha256]`` of each file that makes the model in folder ``root``, sorted by name (hidden
    files, sha256 stamps and training state such as ``optimizer.pt`` are not the model)."""
    from tusk.cache import file_sha256

    files = sorted(p for p in root.iterdir() if p.is_file() and _is_model_file(p.name))
    return [[p.name, p.stat().st_size, file_sha256(p)] for p in files]


def file_entries(path: Path) -> list[list[Any]]:
    """``[[name, size, sha256]]`` of one weights file."""
    from tusk.cache import file_sha256

    return [[path.name, path.stat().st_size, file_sha256(path)]]


def _is_model_file(name: str) -> bool:
    lower = name.lower()
    return (not lower.startswith(".") and not lower.endswith(".sha256.json")
            and not lower.startswith(_TRAINING_STATE) and Path(lower).suffix in _MODEL_SUFFIXES)


def upgraded_identity(identity: Any) -> Any:
    """A saved identity in today's form where an older form names files still there unchanged (see the module
    docstring); anything else as it is (another file, or one no longer there, stays another model)."""
    if isinstance(identity, list):
        return [upgraded_identity(v) for v in identity]
    if not isinstance(identity, dict):
        return identity
    out = {k: upgraded_identity(v) for k, v in identity.items()}
    where = out.get("path")
    if not isinstance(where, str):
        return out
    path = Path(where).expanduser()
    if "mtime_ns" in out and "size" in out and "sha256" not in out:  # a llamacpp file: path, size, mtime
        if _unchanged(path, out["size"], out["mtime_ns"]):
            out.pop("mtime_ns")
            out["sha256"] = file_entries(path)[0][2]
        return out
    files = out.get("files")
    if isinstance(files, list) and files and all(_old_entry(e) for e in files):  # hf: [name, size, mtime]
        folder = path if path.is_dir() else path.parent
        if all(_unchanged(folder / name, size, mtime) for name, size, mtime in files):
            out["files"] = file_entries(path) if path.is_file() else folder_files(folder)
    return out


def _old_entry(entry: Any) -> bool:
    return (isinstance(entry, list) and len(entry) == 3 and isinstance(entry[0], str)
            and all(isinstance(v, int) and not isinstance(v, bool) for v in entry[1:]))


def _unchanged(path: Path, size: Any, mtime_ns: Any) -> bool:
    try:
        stat = path.stat()
    except OSError:
        return False
    return path.is_file() and stat.st_size == size and stat.st_mtime_ns == mtime_ns
