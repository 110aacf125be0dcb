"""GGUF files as transformers models: one cached conversion shared by the ``hf`` backend and training.

transformers dequantises a GGUF file to float weights when it loads it (slow: ~40 s for a 0.5B model on two
cores), and in 5.x leaves a quantizer marker on the result that makes ``save_pretrained`` and ``Trainer``
refuse it although its layers are plain ``Linear``.  :func:`gguf_to_hf` loads the file once, clears the
marker, and saves model and tokenizer as a plain fp32 transformers folder in the tusk cache, named by the
file's sha256 (a changed file converts again); later loads read that folder in about a second.

:func:`dequantized_gguf` goes one step further for the ``llamacpp`` backend: it writes that folder back as an
f32 GGUF file, so llama.cpp computes with exactly the weights transformers computes with (instead of
quantised weights times 8-bit-quantised activations), and the two engines' greedy decoding agrees.
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path
from typing import Any

from tusk.cache import cache_dir, verified_sha256
from tusk.errors import MissingExtraError, TuskError

log = logging.getLogger(__name__)


def clear_quantization_marks(model: Any) -> None:
    """Drop the GGUF quantizer marker transformers 5.x keeps on a dequantised model."""
    if getattr(model, "hf_quantizer", None) is not None:
        model.hf_quantizer = None
    if getattr(model.config, "quantization_config", None) is not None:
        try:
            del model.config.quantization_config
        except AttributeError:
            model.config.quantization_config = None
    if getattr(model, "is_quantized", False):
        model.is_quantized = False


def converted_folder(gguf: Path) -> Path:
    """Where the conversion of ``gguf`` lives in the cache (it may not exist yet)."""
    return cache_dir("hf-from-gguf") / f"{gguf.stem}-{verified_sha256(gguf)[:16]}"


def gguf_to_hf(gguf: str | Path) -> Path:
    """The cached transformers folder for a GGUF file, converting it first if needed."""
    gguf = Path(gguf)
    if not gguf.is_file():
        raise TuskError(f"GGUF file {gguf} does not exist")
    folder = converted_folder(gguf)
    if (folder / "config.json").is_file():
        return folder
    try:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer
    except ImportError as exc:
        raise MissingExtraError("converting a GGUF model for transformers", "hf", exc) from exc
    log.info("converting %s to a transformers folder in %s (once)", gguf.name, folder)
    staging = folder.with_name(f".{folder.name}.{os.getpid()}.tmp")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
        clear_quantization_marks(model)
        tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        os.replace(staging, folder)
    except (OSError, ValueError) as exc:
        if (folder / "config.json").is_file():  # a concurrent conversion finished first
            return folder
        raise TuskError(f"cannot convert {gguf} to a transformers folder in {folder}: {exc}") from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return folder


def dequantized_gguf(gguf: str | Path) -> Path:
    """An f32 GGUF file with the weights transformers loads from ``gguf``, cached; ``gguf`` itself if it is f32.

    Supported for the architectures :func:`tusk.gguf_export.export_gguf` writes (Llama, Qwen2); others
    raise :class:`TuskError` naming the architecture.
    """
    gguf = Path(gguf)
    if not gguf.is_file():
        raise TuskError(f"GGUF file {gguf} does not exist")
    if _all_f32(gguf):
        return gguf
    target = cache_dir("gguf-f32") / f"{gguf.stem}-{verified_sha256(gguf)[:16]}.f32.gguf"
    if target.is_file():
        return target
    from tusk.gguf_export import export_gguf

    log.info("writing the f32 weights of %s to %s (once)", gguf.name, target)
    return export_gguf(gguf_to_hf(gguf), target, dtype="f32")


def read_gguf(path: Path, purpose: str) -> Any:
    """A ``gguf.GGUFReader`` over ``path`` (metadata and tensor list; the weights stay memory-mapped)."""
    try:
        from gguf import GGUFReader
    except ImportError as exc:
        raise MissingExtraError(purpose, "hf", exc) from exc
    try:
        return GGUFReader(str(path))
    except (OSError, ValueError) as exc:
        raise TuskError(f"cannot read GGUF file {path}: {exc}") from exc


def _all_f32(gguf: Path) -> bool:
    from gguf import GGMLQuantizationType

    reader = read_gguf(gguf, "dequantising a GGUF model")
    return all(t.tensor_type == GGMLQuantizationType.F32 for t in reader.tensors)
