"""Find and load the model and tokenizer to fine-tune: HF folders or hub ids, GGUF files, built-in names.

A GGUF file (or a built-in model, which resolves to one) is converted once into a cached plain HF folder
(``cache_dir("hf", ...)``, keyed by the file's sha256): transformers dequantises it to fp32, the leftover
quantizer markers are cleared so the model saves and trains like any other, and the tokenizer is saved
beside it.  The conversion is written to a temporary folder and renamed, so a crash never leaves a
half-written cache entry.

Guarantees: the returned tokenizer is a fast tokenizer with a pad token (EOS when it had none; padding is
masked by length, so this is safe); LoRA wraps the model with peft and leaves only adapter weights
trainable.  Does not: move the model to a device or cast it (the loop does).
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


def require_hf() -> None:
    try:
        import torch  # noqa: F401
        import transformers  # noqa: F401
    except ImportError as exc:
        raise MissingExtraError("training", "train", exc) from None


def resolve_model_dir(spec: str) -> str:
    """An HF folder or hub id for ``spec`` (converting a GGUF file or built-in model on first use)."""
    from tusk.models import BUILTIN_MODELS, resolve_model_path

    spec = spec.removeprefix("hf:")
    if spec in BUILTIN_MODELS:
        return str(gguf_to_hf(resolve_model_path(spec)))
    path = Path(spec.removeprefix("llamacpp:")).expanduser()
    if path.suffix == ".gguf":
        if not path.is_file():
            raise TuskError(f"model file {path} does not exist")
        return str(gguf_to_hf(path))
    if path.exists() and not (path / "config.json").is_file():
        raise TuskError(f"{path} is not an HF model folder (no config.json)")
    return str(path) if path.exists() else spec


def gguf_to_hf(gguf: Path) -> Path:
    """Convert ``gguf`` into a cached HF folder (once) and return the folder."""
    require_hf()
    digest = verified_sha256(gguf)
    target = cache_dir("hf") / f"{gguf.stem}-{digest[:16]}"
    if (target / "config.json").is_file():
        return target
    from transformers import AutoModelForCausalLM, AutoTokenizer

    log.info("converting %s to an HF folder at %s (once)", gguf.name, target)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        clear_quantization_marks(model)
        tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        os.replace(tmp, target)
    except OSError as exc:
        raise TuskError(f"cannot convert {gguf} to an HF folder: {exc}") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def clear_quantization_marks(model: Any) -> None:
    """transformers 5 keeps a GGUF quantizer marker on dequantised models; it blocks saving and training."""
    if getattr(model, "hf_quantizer", None) is not None:
        model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        try:
            del model.config.quantization_config
        except AttributeError:
            model.config.quantization_config = None
    if getattr(model, "is_quantized", False):
        model.is_quantized = False


def load_tokenizer(model_dir: str) -> Any:
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(model_dir)
    except OSError as exc:
        raise TuskError(f"cannot load a tokenizer from {model_dir}: {exc}") from None
    if not getattr(tokenizer, "is_fast", False):
        raise TuskError(f"{model_dir}: training needs a fast tokenizer (tokenizer.json)")
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_model(model_dir: str, dtype: Any, attn_implementation: str) -> Any:
    from transformers import AutoModelForCausalLM

    try:
        model = AutoModelForCausalLM.from_pretrained(
            model_dir, dtype=dtype, attn_implementation=attn_implementation
        )
    except (OSError, ValueError, ImportError) as exc:
        raise TuskError(f"cannot load model {model_dir}: {exc}") from None
    clear_quantization_marks(model)
    model.config.use_cache = False
    return model


def apply_lora(model: Any, r: int, alpha: int, dropout: float, targets: str) -> Any:
    try:
        from peft import LoraConfig, get_peft_model
    except ImportError as exc:
        raise MissingExtraError("LoRA training", "train", exc) from None
    modules: Any = "all-linear" if targets.strip() == "all-linear" else [
        name.strip() for name in targets.split(",") if name.strip()
    ]
    config = LoraConfig(r=r, lora_alpha=alpha, lora_dropout=dropout, target_modules=modules, task_type="CAUSAL_LM")
    return get_peft_model(model, config)


def count_parameters(model: Any) -> tuple[int, int]:
    """(trainable, total) parameter counts."""
    trainable = total = 0
    for param in model.parameters():
        total += param.numel()
        if param.requires_grad:
            trainable += param.numel()
    return trainable, total
