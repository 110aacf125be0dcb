"""Find and load the model and tokenizer to fine-tune: HF folders or hub ids, GGUF files, built-in names.

A GGUF file (or a built-in model, which resolves to one) is converted once into a cached plain HF folder
by :func:`tusk.gguf_convert.gguf_to_hf` (the same conversion the ``hf`` backend uses), so it saves and
trains like any other model.

Guarantees: the returned tokenizer is a fast tokenizer with a pad token (EOS when it had none; padding is
masked by length, so this is safe); LoRA wraps the model with peft and leaves only adapter weights
trainable.  Does not: move the model to a device or cast it (the loop does).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from tusk.errors import MissingExtraError, TuskError
from tusk.gguf_convert import clear_quantization_marks, gguf_to_hf

log = logging.getLogger(__name__)


def require_hf() -> None:
    try:
        import torch  # noqa: F401
        import transformers  # noqa: F401
    except ImportError as exc:
        raise MissingExtraError("training", "train", exc) from None


def resolve_model_dir(spec: str) -> str:
    """An HF folder (as an absolute path) or hub id for ``spec``, converting a GGUF file or built-in model
    on first use.  Absolute, so what records the base model (a LoRA adapter's config, the run log) works from
    any directory."""
    from tusk.models import BUILTIN_MODELS, resolve_model_path

    spec = spec.removeprefix("hf:")
    if spec in BUILTIN_MODELS:
        return str(Path(gguf_to_hf(resolve_model_path(spec))).absolute())
    path = Path(spec.removeprefix("llamacpp:")).expanduser()
    if path.suffix == ".gguf":
        if not path.is_file():
            raise TuskError(f"model file {path} does not exist")
        return str(Path(gguf_to_hf(path)).absolute())
    if path.exists():
        if not (path / "config.json").is_file():
            raise TuskError(f"{path} is not an HF model folder (no config.json)")
        return str(path.absolute())
    if _looks_like_path(spec):
        raise TuskError(f"model folder {path} does not exist")
    return spec


def _looks_like_path(spec: str) -> bool:
    """Whether ``spec`` can only be a local path: a hub id is ``name`` or ``owner/name``."""
    return (spec.startswith(("/", "./", "../", "~", ".\\")) or spec in (".", "..") or "\\" in spec
            or spec.count("/") > 1 or spec.endswith("/"))


def load_tokenizer(model_dir: str) -> Any:
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(model_dir)
    except (OSError, ValueError) as exc:  # ValueError: huggingface_hub's check of a malformed repo id
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
    """Wrap ``model`` with LoRA adapters on ``targets`` (checked against the model's module names first)."""
    try:
        from peft import LoraConfig, get_peft_model
    except ImportError as exc:
        raise MissingExtraError("LoRA training", "train", exc) from None
    modules: Any = "all-linear" if targets.strip() == "all-linear" else [
        name.strip() for name in targets.split(",") if name.strip()
    ]
    if modules != "all-linear":
        check_target_modules(model, modules)
    config = LoraConfig(r=r, lora_alpha=alpha, lora_dropout=dropout, target_modules=modules, task_type="CAUSAL_LM")
    from tusk.compat import quiet_peft_deprecations

    try:
        with quiet_peft_deprecations():
            return get_peft_model(model, config)
    except ValueError as exc:  # e.g. a target that is not a layer type LoRA supports
        raise TuskError(f"lora_target_modules={targets!r}: {exc}") from None


def check_target_modules(model: Any, targets: list[str]) -> None:
    """Every LoRA target must name modules of ``model`` (by last name(s), as peft matches them)."""
    import torch

    names = [name for name, _ in model.named_modules() if name]
    unknown = [t for t in targets if not any(n == t or n.endswith("." + t) for n in names)]
    if not targets or unknown:
        linear = sorted({n.rsplit(".", 1)[-1] for n, m in model.named_modules() if isinstance(m, torch.nn.Linear)})
        what = f"no module named {', '.join(unknown)}" if unknown else "no modules given"
        raise TuskError(f"lora_target_modules: {what} in this model; its linear layers: {', '.join(linear)} "
                        "(or use all-linear)")


def optimizer_groups(model: Any, weight_decay: float) -> list[dict[str, Any]]:
    """AdamW parameter groups of the trainable parameters: as HF Trainer (the paper's script) does, biases and
    normalisation weights (the one-dimensional parameters) get no weight decay.  One group when
    ``weight_decay`` is 0 (so checkpoints of such runs keep one optimizer group)."""
    params = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    if not weight_decay:
        return [{"params": [p for _, p in params], "weight_decay": 0.0}]
    decay = [p for n, p in params if p.ndim >= 2 and not n.endswith(".bias")]
    rest = [p for n, p in params if not (p.ndim >= 2 and not n.endswith(".bias"))]
    return [{"params": decay, "weight_decay": weight_decay}, {"params": rest, "weight_decay": 0.0}]


def count_parameters(model: Any) -> tuple[int, int]:
    """(trainable, total) parameter counts."""
    trainable = total = 0
    for param in model.parameters():
        total += param.numel()
        if param.requires_grad:
            trainable += param.numel()
    return trainable, total
