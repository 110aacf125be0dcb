"""Checkpoints with full state, resume, and export of the trained model as a plain HF folder.

A checkpoint (``OUT/checkpoints/step-000123``) holds everything needed to continue exactly: the trainable
weights (all weights for full fine-tuning, adapter weights for LoRA), the optimizer and scheduler states,
each process's RNG states, and ``state.json`` with the step.  Under FSDP or DeepSpeed the sharded state is
written through accelerate's ``save_state``.  ``state.json`` is written last, so a folder without it is an
interrupted save and is ignored by :func:`latest_checkpoint`.

Export: ``merged`` writes a plain HF model folder (LoRA merged into the weights) plus the tokenizer, which
the ``hf`` backend and transformers load directly (``config.json`` records the dtype the weights are saved in;
tied embeddings are saved once); ``adapter`` writes the peft adapter only.  Either way
the exported tokenizer carries no chat template (the model was trained on Alpaca prompts), so ``tusk eval``
prompts it with Alpaca by default.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
from pathlib import Path
from typing import Any

from tusk.errors import TuskError

log = logging.getLogger(__name__)

STATE = "state.json"
_STEP = re.compile(r"^step-(\d+)$")


def checkpoint_dir(out: Path, step: int) -> Path:
    return out / "checkpoints" / f"step-{step:06d}"


def list_checkpoints(out: Path) -> list[Path]:
    root = out / "checkpoints"
    if not root.is_dir():
        return []
    found = [p for p in root.iterdir() if _STEP.match(p.name) and (p / STATE).is_file()]
    return sorted(found, key=lambda p: int(_STEP.match(p.name).group(1)))  # type: ignore[union-attr]


def latest_checkpoint(out: Path) -> Path | None:
    found = list_checkpoints(out)
    return found[-1] if found else None


def _sharded(accelerator: Any) -> bool:
    from accelerate.utils import DistributedType

    return accelerator.distributed_type in (DistributedType.FSDP, DistributedType.DEEPSPEED)


def read_state(path: Path) -> dict[str, Any]:
    """The ``state.json`` of checkpoint ``path`` (step, data plan and settings identities)."""
    if not (path / STATE).is_file():
        raise TuskError(f"{path} is not a complete checkpoint (no {STATE})")
    try:
        return json.loads((path / STATE).read_text())
    except ValueError as exc:
        raise TuskError(f"{path / STATE}: not valid JSON ({exc})") from None


def save_checkpoint(accelerator: Any, model: Any, optimizer: Any, scheduler: Any, path: Path,
                    state: dict[str, Any], rng: dict[str, Any] | None = None) -> None:
    """Write a full checkpoint; ``rng`` is this process's RNG state to record (default: the current one)."""
    import torch

    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        path.mkdir(parents=True, exist_ok=True)
    accelerator.wait_for_everyone()
    if _sharded(accelerator):
        accelerator.save_state(str(path))
    elif accelerator.is_main_process:
        unwrapped = accelerator.unwrap_model(model)
        weights = {n: p.detach().cpu() for n, p in unwrapped.named_parameters() if p.requires_grad}
        torch.save(weights, path / "trainable.pt")
        torch.save(optimizer.state_dict(), path / "optimizer.pt")
        scaler = getattr(accelerator, "scaler", None)
        if scaler is not None:  # fp16: the loss scale reached so far, so a resumed run steps as this one would
            torch.save(scaler.state_dict(), path / "scaler.pt")
    if accelerator.is_main_process:
        torch.save(scheduler.state_dict(), path / "scheduler.pt")
    torch.save(rng if rng is not None else rng_state(), path / f"rng-{accelerator.process_index}.pt")
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        (path / STATE).write_text(json.dumps(state, indent=1))
    accelerator.wait_for_everyone()


def load_checkpoint(accelerator: Any, model: Any, optimizer: Any, scheduler: Any, path: Path) -> dict[str, Any]:
    import torch

    state = read_state(path)
    if _sharded(accelerator):
        accelerator.load_state(str(path))
    else:
        unwrapped = accelerator.unwrap_model(model)
        weights = torch.load(path / "trainable.pt", map_location="cpu", weights_only=True)
        params = dict(unwrapped.named_parameters())
        missing = [n for n, p in params.items() if p.requires_grad and n not in weights]
        if missing:
            raise TuskError(f"{path}: checkpoint lacks {len(missing)} trained tensors (e.g. {missing[0]}); "
                            "was it written with another method or model?")
        with torch.no_grad():
            for name, value in weights.items():
                params[name].copy_(value)
        optimizer.load_state_dict(torch.load(path / "optimizer.pt", map_location="cpu", weights_only=False))
        scaler = getattr(accelerator, "scaler", None)
        if scaler is not None and (path / "scaler.pt").is_file():
            scaler.load_state_dict(torch.load(path / "scaler.pt", weights_only=False))
    scheduler.load_state_dict(torch.load(path / "scheduler.pt", weights_only=False))
    rng = path / f"rng-{accelerator.process_index}.pt"
    if rng.is_file():
        _set_rng_state(torch.load(rng, weights_only=False))
    return state


def prune_checkpoints(out: Path, keep: int, keep_path: Path | None = None) -> None:
    """Remove all but the ``keep`` newest step checkpoints (0 keeps all); ``keep_path`` (the checkpoint just
    written) is never removed."""
    if keep <= 0:
        return
    found = list_checkpoints(out)
    protected = [p for p in found if keep_path is not None and p.resolve() == Path(keep_path).resolve()]
    others = [p for p in found if p not in protected]
    room = keep - len(protected)
    for old in others[:-room] if room > 0 else others:
        shutil.rmtree(old, ignore_errors=True)


# what a run writes into its directory (see tusk.train.loop); a fresh start moves an earlier run's aside
RUN_FILES = ("checkpoints", "evals", "final", "final.gguf", "log.jsonl", "loss.png", "config.yaml")
PREVIOUS = "previous"
_ARTEFACTS = ("checkpoints", "evals", "final", "final.gguf")


def set_aside_previous_run(out: Path) -> Path | None:
    """Before a run starts from step 0 in ``out``: when ``out`` holds an earlier run's checkpoints,
    evaluations or export, move all of that run's files into ``out/previous/YYYYmmdd-HHMMSS`` (returned), so
    its checkpoints never mix with the new run's (rotation, ``resume: auto``).  A directory holding only a log
    and config (a run stopped before its first checkpoint) is simply reused.  None when nothing was moved."""
    import time

    def has_content(path: Path) -> bool:
        return path.is_file() or (path.is_dir() and any(path.iterdir()))

    if not any(has_content(out / name) for name in _ARTEFACTS):
        return None
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = out / PREVIOUS / stamp
    n = 1
    while target.exists():
        n += 1
        target = out / PREVIOUS / f"{stamp}-{n}"
    target.mkdir(parents=True)
    for name in RUN_FILES:
        if (out / name).exists():
            (out / name).rename(target / name)
    return target


EVAL_MODEL_PREFIX = "eval-model-"


def eval_model_dir(out: Path, step: int) -> Path:
    """Where the evaluation hook's temporary merged model of ``step`` is written (removed after use)."""
    return out / "checkpoints" / f"{EVAL_MODEL_PREFIX}{step:06d}"


def remove_eval_models(out: Path) -> None:
    """Remove temporary evaluation models an interrupted run left in ``out/checkpoints``."""
    root = out / "checkpoints"
    if root.is_dir():
        for path in root.iterdir():
            if path.name.startswith(EVAL_MODEL_PREFIX) or path.name.startswith(f".{EVAL_MODEL_PREFIX}"):
                shutil.rmtree(path, ignore_errors=True)


def rng_state() -> dict[str, Any]:
    import random

    import numpy as np
    import torch

    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    import random

    import numpy as np
    import torch

    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def export_model(accelerator: Any, model: Any, tokenizer: Any, target: Path, kind: str, dtype: Any) -> Path | None:
    """Write the trained model to ``target`` as ``merged`` (plain HF folder) or ``adapter``; main process."""
    if kind == "none":
        return None
    state_dict = accelerator.get_state_dict(model) if _sharded(accelerator) else None
    if not accelerator.is_main_process:
        return None
    unwrapped = accelerator.unwrap_model(model)
    is_peft = hasattr(unwrapped, "peft_config")
    tmp = target.with_name(f".{target.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    if kind == "adapter":
        if not is_peft:
            raise TuskError("export=adapter needs method=lora; use export=merged for full fine-tuning")
        from tusk.compat import quiet_peft_deprecations

        with quiet_peft_deprecations():
            unwrapped.save_pretrained(tmp, state_dict=state_dict)
    else:
        if is_peft:
            plain, weights = merged_copy(unwrapped, state_dict).to(dtype), None
        else:
            plain = unwrapped
            source = state_dict if state_dict is not None else unwrapped.state_dict()
            weights = _converted(source, dtype)
        saved = plain.config.use_cache, getattr(plain.config, "dtype", None)
        plain.config.use_cache, plain.config.dtype = True, dtype
        try:
            plain.save_pretrained(tmp, state_dict=weights)
        finally:
            plain.config.use_cache, plain.config.dtype = saved
        _record_dtype(tmp / "config.json", dtype)
    _save_tokenizer_without_chat_template(tokenizer, tmp)
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)
    log.info("exported %s model to %s", kind, target)
    return target


def _converted(source: dict[str, Any], dtype: Any) -> dict[str, Any]:
    """``source`` with every tensor cast to ``dtype``; tensors that share storage (tied embeddings) stay
    shared, so ``save_pretrained`` still recognises them as tied and writes the weight once."""
    done: dict[tuple[int, tuple[int, ...], tuple[int, ...], int], Any] = {}
    out = {}
    for name, tensor in source.items():
        tensor = tensor.detach()
        key = (tensor.data_ptr(), tuple(tensor.shape), tuple(tensor.stride()), tensor.storage_offset())
        if key not in done or tensor.data_ptr() == 0:
            done[key] = tensor.to(dtype)
        out[name] = done[key]
    return out


def _record_dtype(config_json: Path, dtype: Any) -> None:
    """Write the export's real weight dtype into its ``config.json`` (transformers records the model's
    parameter dtype, which for a full fine-tune is the fp32 training copy, not the saved bf16/fp16 weights)."""
    if not config_json.is_file():
        return
    values = json.loads(config_json.read_text())
    name = str(dtype).removeprefix("torch.")
    key = "dtype" if "dtype" in values or "torch_dtype" not in values else "torch_dtype"
    if values.get(key) != name:
        values[key] = name
        config_json.write_text(json.dumps(values, indent=2, sort_keys=True) + "\n")


def _save_tokenizer_without_chat_template(tokenizer: Any, folder: Path) -> None:
    """Save ``tokenizer`` to ``folder`` with no chat template: tusk trains on Alpaca prompts only, and a base
    model's template left in the export would make ``tusk eval`` (and llama.cpp, through the GGUF) prompt the
    trained model in a format it was not trained on.  The training tokenizer is left as it was."""
    saved = getattr(tokenizer, "chat_template", None)
    tokenizer.chat_template = None
    try:
        tokenizer.save_pretrained(folder)
    finally:
        tokenizer.chat_template = saved
    for extra in ("chat_template.jinja", "chat_template.json", "additional_chat_templates"):
        path = folder / extra
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
    config = folder / "tokenizer_config.json"
    if config.is_file():  # transformers writes "chat_template": null; drop the key altogether
        values = json.loads(config.read_text())
        if isinstance(values, dict) and "chat_template" in values:
            del values["chat_template"]
            config.write_text(json.dumps(values, indent=2, ensure_ascii=False) + "\n")


def merged_copy(peft_model: Any, state_dict: Any = None) -> Any:
    """A plain transformers model with the LoRA weights merged in; the training model is left untouched."""
    import copy

    clone = copy.deepcopy(peft_model)
    if state_dict is not None:
        clone.load_state_dict(state_dict)
    return clone.merge_and_unload()
