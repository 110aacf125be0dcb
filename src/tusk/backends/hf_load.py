"""Find and load a transformers model for the ``hf`` backend.

A target is one of: a built-in model name (its GGUF file, see :mod:`tusk.models`), a ``.gguf`` file, a local
model directory, a local PEFT adapter directory (loaded on its base model and merged), or a hub id.  GGUF
weights are dequantised by transformers; the quantizer marker transformers 5.x leaves on such a model is
cleared so the model behaves as the plain float model it is.  Loading errors become :class:`TuskError`
naming the target.  This module never downloads anything itself; a hub id is passed to transformers as is.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tusk.compat import quiet_peft_deprecations
from tusk.errors import TuskError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelSource:
    """Where the weights come from: ``kind`` is gguf, dir, adapter or hub."""

    kind: str
    location: str
    gguf_file: str | None = None
    base: ModelSource | None = None


def resolve_source(target: str, base_model: str | None = None) -> ModelSource:
    """Decide what ``target`` names without loading anything.  ``base_model`` is for PEFT adapters only."""
    source = _resolve(target, base_model)
    if base_model and source.kind not in ("adapter", "hub"):
        raise TuskError(f"hf backend: base_model={base_model} is for PEFT adapters, and {target} is a "
                        f"{'GGUF file' if source.kind == 'gguf' else 'full model'} (no adapter_config.json)")
    return source


def _resolve(target: str, base_model: str | None) -> ModelSource:
    from tusk import models

    if target in models.BUILTIN_MODELS:
        path = models.resolve_model_path(target)
        return ModelSource("gguf", str(path.parent), path.name)
    path = Path(target).expanduser()
    if path.suffix == ".gguf":
        if not path.is_file():
            raise TuskError(f"hf backend: GGUF file {target} does not exist")
        return ModelSource("gguf", str(path.resolve().parent), path.name)
    if path.is_dir():
        adapter_config = path / "adapter_config.json"
        if adapter_config.is_file():
            if base_model:
                return ModelSource("adapter", str(path.resolve()), base=resolve_source(base_model))
            base = _adapter_base(adapter_config)
            beside = path / base  # a relative base written by the trainer is relative to the adapter
            if not Path(base).is_absolute() and beside.exists() and not Path(base).exists():
                base = str(beside)
            try:
                return ModelSource("adapter", str(path.resolve()), base=resolve_source(base))
            except TuskError as exc:
                raise TuskError(f"{adapter_config}: its base model {base!r} cannot be used ({exc}); "
                                "pass base_model=...") from None
        if not (path / "config.json").is_file():
            raise TuskError(f"hf backend: {target} is a folder without config.json or adapter_config.json")
        return ModelSource("dir", str(path.resolve()))
    if path.exists():
        raise TuskError(f"hf backend: {target} is neither a model folder nor a .gguf file")
    if _looks_local(target):  # runs/my-checkpoint with runs/ here: a mistyped path, not a hub id to download
        raise TuskError(f"hf backend: {target} not found (no such folder or file)")
    if target.count("/") == 1:
        return ModelSource("hub", target)
    raise TuskError(f"hf backend: {target} not found (expected a folder, a .gguf file or a hub id ORG/NAME)")


def _looks_local(target: str) -> bool:
    """Whether ``target`` can only mean a local path: it starts with ``./``, ``../``, ``/`` or ``~``, or its
    first path component is a folder or file that exists here."""
    if target.startswith((".", "/", "~")) or "\\" in target:
        return True
    first = target.split("/", 1)[0]
    return "/" in target and bool(first) and Path(first).exists()


def _adapter_base(adapter_config: Path) -> str:
    try:
        base = json.loads(adapter_config.read_text()).get("base_model_name_or_path")
    except (OSError, ValueError) as exc:
        raise TuskError(f"{adapter_config}: cannot read adapter config ({exc})") from exc
    if not base:
        raise TuskError(f"{adapter_config}: no base_model_name_or_path; pass base_model=...")
    return str(base)


def load_model_and_tokenizer(
    source: ModelSource, dtype: Any, device: str, convert_cache: bool = True
) -> tuple[Any, Any]:
    """Load the model (eval mode, on ``device``, in ``dtype``) and its tokenizer.

    With ``convert_cache`` a GGUF file is converted to a transformers folder (fp32 safetensors and the
    tokenizer) once, under the tusk cache, and later loads read that folder: about 40 s become about 1 s for
    SmolLM2 on 2 cores.  The folder is named by the file's sha256, so a changed file converts again.
    """
    try:
        from transformers import AutoModelForCausalLM, AutoTokenizer
    except ImportError as exc:
        from tusk.errors import MissingExtraError

        raise MissingExtraError("the hf backend", "hf", exc) from exc

    if source.kind == "adapter":
        assert source.base is not None
        model, tokenizer = load_model_and_tokenizer(source.base, dtype, device)
        model = _apply_adapter(model, source.location)
        if (Path(source.location) / "tokenizer_config.json").is_file():
            tokenizer = _load(AutoTokenizer.from_pretrained, source.location)
        return model, tokenizer

    kwargs: dict[str, Any] = {}
    if source.kind == "hub":
        kwargs.update(_hub_access(source.location))
    if source.gguf_file and convert_cache:
        converted = _converted_gguf(source)
        if converted is not None:
            return load_model_and_tokenizer(converted, dtype, device, convert_cache=False)
    if source.gguf_file:
        kwargs["gguf_file"] = source.gguf_file
    tokenizer = _load(AutoTokenizer.from_pretrained, source.location, **kwargs)
    model = _load(AutoModelForCausalLM.from_pretrained, source.location, dtype=dtype, **kwargs)
    if source.gguf_file:
        from tusk.gguf_convert import clear_quantization_marks

        clear_quantization_marks(model)
    model = model.to(device=device, dtype=dtype)
    model.eval()
    return model, tokenizer


def _hub_access(repo_id: str) -> dict[str, Any]:
    """Loading options for a hub id, decided before transformers tries the network: a repository in the
    Hugging Face cache loads from it when the hub cannot be reached (or ``HF_HUB_OFFLINE`` is set), and one that
    is not cached fails at once with one line instead of minutes of connection retries."""
    try:
        from huggingface_hub import constants, try_to_load_from_cache
    except ImportError:  # pragma: no cover - transformers depends on it
        return {}
    cached = isinstance(try_to_load_from_cache(repo_id, "config.json"), str)
    offline = bool(constants.HF_HUB_OFFLINE)
    if not offline and not _reachable(constants.ENDPOINT):
        offline = True
        why = f"{constants.ENDPOINT} cannot be reached (no network?)"
    else:
        why = "HF_HUB_OFFLINE is set"
    if not offline:
        return {}
    if not cached:
        raise TuskError(f"hf backend: {repo_id} is not in the Hugging Face cache and {why}; download it where "
                        "there is network (huggingface-cli download), or give a local folder")
    log.info("%s; loading %s from the Hugging Face cache", why, repo_id)
    return {"local_files_only": True}


def _reachable(url: str, timeout: float = 3.0) -> bool:
    """Whether a TCP connection to ``url``'s host opens within ``timeout`` seconds."""
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if not parts.hostname:
        return True
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname, port), timeout=timeout):
            return True
    except OSError:
        return False


def _quiet_library_handlers() -> None:
    """huggingface_hub logs through a stderr handler of its own and to the root logger too: every line came
    twice.  Its own handler goes; its records reach tusk's handler (or Python's last resort) once."""
    library = logging.getLogger("huggingface_hub")
    for handler in list(library.handlers):
        if type(handler) is logging.StreamHandler:
            library.removeHandler(handler)


def _converted_gguf(source: ModelSource) -> ModelSource | None:
    """The cached transformers folder for a GGUF source (None if it cannot be written: load the file)."""
    from tusk.gguf_convert import gguf_to_hf

    assert source.gguf_file is not None
    try:
        return ModelSource("dir", str(gguf_to_hf(Path(source.location) / source.gguf_file)))
    except TuskError as exc:
        log.warning("%s; loading the GGUF file directly", exc)
        return None


def _load(loader: Any, location: str, **kwargs: Any) -> Any:
    from transformers.utils import logging as hf_logging

    _quiet_library_handlers()
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # tusk shows its own progress; keep the per-tensor bars quiet
    try:
        return loader(location, **kwargs)
    except (OSError, ValueError) as exc:
        raise TuskError(f"hf backend: cannot load {location}: {exc}") from exc
    except Exception as exc:
        if type(exc).__name__ != "SafetensorError":
            raise
        raise TuskError(f"hf backend: cannot load {location}: damaged weights file ({exc})") from exc
    finally:
        if bars:
            hf_logging.enable_progress_bar()


def _apply_adapter(model: Any, adapter_dir: str) -> Any:
    try:
        from peft import PeftModel
    except ImportError as exc:
        from tusk.errors import MissingExtraError

        raise MissingExtraError("loading a PEFT adapter", "hf", exc) from exc
    try:
        with quiet_peft_deprecations():
            peft_model = PeftModel.from_pretrained(model, adapter_dir)
    except (OSError, ValueError) as exc:
        raise TuskError(f"hf backend: cannot load adapter {adapter_dir}: {exc}") from exc
    log.info("merging adapter %s into its base model", adapter_dir)
    return peft_model.merge_and_unload()


def fingerprint(source: ModelSource) -> dict[str, Any]:
    """The identity of the weights: name, size and sha256 of the GGUF file or of each file that makes the model
    folder (hashed on first use, then remembered while size and mtime are unchanged), and where they lie
    (``path``, described but not part of the run's identity: a copy of the folder is the same model)."""
    from tusk.backends.identity import file_entries, folder_files

    if source.kind == "hub":
        return {"hub": source.location}
    root = Path(source.location)
    out: dict[str, Any] = {"path": str(root / source.gguf_file) if source.gguf_file else str(root)}
    out["files"] = file_entries(root / source.gguf_file) if source.gguf_file else folder_files(root)
    if source.base is not None:
        out["base"] = fingerprint(source.base)
    return out
