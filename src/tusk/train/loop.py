"""The supervised fine-tuning loop: one process or many (``accelerate launch`` / ``torchrun``: DDP, FSDP,
DeepSpeed ZeRO-3), full fine-tuning or LoRA.

Per optimizer step every process builds the same :class:`tusk.train.plan.StepPlan`, runs its
``grad_accum`` micro-batches and scales each micro-batch's summed token loss by
``world_size * grad_accum / target_tokens_of_the_global_batch``.  Data-parallel gradient averaging and
accelerate's division by ``grad_accum`` then leave exactly the gradient of the mean loss per target token
over the whole global batch: the result does not depend on how the batch is split across micro-batches or
devices.  The vocabulary projection runs on trained positions only (``logits_to_keep``).

Guarantees: a run resumed from a checkpoint sees the same data in the same order and, on the same
hardware, reproduces the loss curve; resuming with other data or optimisation settings is refused (see
:mod:`tusk.train.resume`); Ctrl-C / SIGTERM in a one-process run checkpoints the last whole step before the
interrupt propagates (a multi-process run saves nothing then and names the last periodic checkpoint); the
run directory holds ``config.yaml`` (resolved config),
``log.jsonl``, ``loss.png``, ``checkpoints/`` and ``final/`` (export); a run starting from step 0 first moves
an earlier run's files there into ``previous/TIME/`` (see :func:`tusk.train.checkpoint.set_aside_previous_run`).
Does not: build the training data (``tusk data build``) or run a full evaluation (the optional hook runs a
small one per checkpoint).
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tusk.errors import TuskError
from tusk.progress import library_bars_off
from tusk.train.config import TrainConfig, require_inputs, save_config

log = logging.getLogger(__name__)

EvalHook = Callable[[Path, int], dict[str, Any]]


@dataclass(frozen=True)
class TrainResult:
    out: Path
    steps: int
    first_loss: float | None
    last_loss: float | None
    losses: tuple[float, ...]
    export: Path | None
    encoding: dict[str, int]
    trainable_parameters: int
    parameters: int
    seconds: float
    resumed_from: int = 0


class ExportFailed(TuskError):
    """Training finished but writing ``OUT/final`` (or ``final.gguf``) failed; the log, plot and end event are
    written, and ``result`` is what :func:`train` would have returned (``export`` None when nothing was
    written)."""

    def __init__(self, message: str, result: TrainResult):
        super().__init__(message)
        self.result = result


def lr_lambda(total: int, warmup: int, kind: str) -> Callable[[int], float]:
    """Multiplier of the peak learning rate at each step: linear warmup, then cosine/linear/constant."""

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / (warmup + 1) if warmup else 1.0
        if kind == "constant":
            return 1.0
        progress = (step - warmup) / max(1, total - warmup)
        if kind == "linear":
            return max(0.0, 1.0 - progress)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))

    return factor


def _precision(config: TrainConfig, cuda: bool) -> str:
    """The resolved precision.  ``auto`` on a GPU without bf16 is fp16: accelerate then runs autocast with a
    gradient scaler (loss scaling, unscaled before clipping) over the fp32 weights and optimizer."""
    if config.precision == "auto":
        if cuda:
            import torch

            return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
        return "fp32"
    return config.precision


def train(config: TrainConfig, eval_hook: EvalHook | None = None, progress: bool = True,
          encoded: Any = None) -> TrainResult:
    """Fine-tune ``config.model`` on ``config.data``; see the module docstring for what it guarantees.

    ``encoded`` (an :class:`tusk.train.masking.EncodedData`) replaces reading and tokenising ``config.data``,
    for callers that bring token ids of their own (benchmarks, pre-tokenised corpora).  ``config.threads``
    (when set) holds torch's CPU thread count for the run; the previous count is restored afterwards.
    """
    from tusk.train.loading import require_hf

    require_hf()
    require_inputs(config, need_data=encoded is None)
    import torch

    before = torch.get_num_threads()
    if config.threads:
        torch.set_num_threads(config.threads)
        log.info("torch uses %d CPU threads (threads: %d)", torch.get_num_threads(), config.threads)
    try:
        with library_bars_off(enabled=not progress):  # transformers' and datasets' bars too
            return _train(config, eval_hook, progress, encoded)
    finally:
        if config.threads:
            torch.set_num_threads(before)


def _train(config: TrainConfig, eval_hook: EvalHook | None, progress: bool, encoded: Any) -> TrainResult:
    import torch
    from accelerate import Accelerator
    from accelerate.utils import DistributedType, TorchDynamoPlugin

    from tusk.progress import ProgressBar
    from tusk.train import checkpoint as ckpt
    from tusk.train.collate import collate
    from tusk.train.data import load_examples
    from tusk.train.loading import (
        apply_lora,
        count_parameters,
        load_model,
        load_tokenizer,
        optimizer_groups,
        resolve_model_dir,
    )
    from tusk.train.masking import encode_examples
    from tusk.train.plan import DataPlan
    from tusk.train.resume import check_resume, data_digest, deferred_interrupts, settings_identity
    from tusk.train.runlog import PLOT_NAME, RunLog, losses, plot_loss

    started = time.perf_counter()
    cuda = torch.cuda.is_available()
    precision = _precision(config, cuda)
    dynamo = None
    if config.compile:
        dynamo = TorchDynamoPlugin(backend="inductor", dynamic=True, use_regional_compilation=True)
    accelerator = Accelerator(
        cpu=not cuda,
        mixed_precision="no" if precision == "fp32" else precision,
        gradient_accumulation_steps=config.grad_accum,
        dynamo_plugin=dynamo,
    )
    world, rank, main = accelerator.num_processes, accelerator.process_index, accelerator.is_main_process
    deepspeed_clipping(accelerator, config.max_grad_norm)
    out = Path(config.out)
    if main:
        out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(config.seed)
    resume_path = _resume_path(config, out)
    resume_state = ckpt.read_state(resume_path) if resume_path is not None else None

    if encoded is None:  # bad data fails before any model is loaded
        examples = load_examples(config.data, config.limit, progress=progress and main)
    with accelerator.main_process_first():  # converts a GGUF once, on the main process
        model_dir = resolve_model_dir(config.model)
    tokenizer = load_tokenizer(model_dir)
    if config.export_gguf:  # an export that cannot be written fails now, not after the last step
        from transformers import AutoConfig

        from tusk.gguf_export import check_exportable

        architectures = getattr(AutoConfig.from_pretrained(model_dir), "architectures", None) or []
        try:
            check_exportable(architectures, tokenizer, str(model_dir))
        except TuskError as exc:
            raise TuskError(f"export_gguf: {exc}; set export_gguf to empty (and convert OUT/final yourself) "
                            "or train a Llama or Qwen2 model") from None
    data = encode_examples(tokenizer, examples, config.max_length) if encoded is None else encoded
    check_length_losses(data.stats, config, warn=main)
    lengths = data.lengths
    plan = DataPlan(
        lengths=lengths,
        targets=lengths - data.n_masked,
        batch_size=config.batch_size,
        world_size=world,
        grad_accum=config.grad_accum,
        packing=config.packing,
        seed=config.seed,
    )
    total = plan.total_steps(config.epochs, config.max_steps)
    warmup = math.ceil(config.warmup_ratio * total)
    # what fixes the data order, and what changes the optimisation: a checkpoint resumes only if both match
    plan_identity = {"batch_size": config.batch_size, "seed": config.seed,
                     "examples": len(data), "target_tokens": int(data.stats.target_tokens), "total_steps": total,
                     "data_digest": data_digest(data)}
    settings = settings_identity(config, precision, model_dir)
    if resume_path is not None:
        check_resume(resume_path, resume_state or {}, plan_identity, settings)
    if main:  # only now: a refused resume leaves the run's recorded config as it was
        if resume_path is None:  # starting over: the earlier run's files must not mix with this run's
            moved = ckpt.set_aside_previous_run(out)
            if moved is not None:
                log.warning("starting a new run in %s: the previous run's files (checkpoints, log, evaluations, "
                            "export) were moved to %s; delete that folder when you no longer need it", out, moved)
        ckpt.remove_eval_models(out)  # temporary models left by an interrupted evaluation
        save_config(config, out / "config.yaml")
    accelerator.wait_for_everyone()

    from transformers.utils import logging as hf_logging

    quiet = not (progress and main) and hf_logging.is_progress_bar_enabled()
    if quiet:  # transformers' own weight-loading bar follows --no-progress too
        hf_logging.disable_progress_bar()
    try:
        model = load_model(model_dir, torch.float32, config.attn_implementation)
    finally:
        if quiet:
            hf_logging.enable_progress_bar()
    if config.gradient_checkpointing:
        if hasattr(model, "activation_checkpointing_enable"):  # transformers >= 5.x: the old name warns
            model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
        else:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        if config.method == "lora":
            model.enable_input_require_grads()
    if config.method == "lora":
        model = apply_lora(model, config.lora_r, config.lora_alpha, config.lora_dropout, config.lora_target_modules)
    trainable, n_params = count_parameters(model)
    # one fused kernel per step for all parameters on a GPU (DeepSpeed brings its own optimizer step)
    fused = cuda and accelerator.distributed_type != DistributedType.DEEPSPEED
    optimizer = torch.optim.AdamW(
        optimizer_groups(model, config.weight_decay),
        lr=config.learning_rate,
        betas=(config.adam_beta1, config.adam_beta2),
        weight_decay=config.weight_decay,
        fused=fused or None,
    )
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda(total, warmup, config.lr_scheduler))
    model, optimizer = accelerator.prepare(model, optimizer)

    runlog = RunLog(out, enabled=main)
    start_step, resumed_from = 0, 0
    if resume_path is not None:
        state = ckpt.load_checkpoint(accelerator, model, optimizer, scheduler, resume_path)
        start_step = resumed_from = int(state["step"])
        runlog.truncate_after(start_step)
        log.info("resumed from %s at step %d", resume_path, start_step)
    else:
        runlog.truncate_after(0)
    runlog.write({"event": "start", "step": start_step, "total_steps": total, "world_size": world,
                  "precision": precision, "threads": torch.get_num_threads(),
                  "encoding": dataclasses.asdict(data.stats),
                  "trainable_parameters": trainable, "parameters": n_params, "model_dir": model_dir})
    if main:
        log.info("%s; %d steps, %d trainable of %d parameters", data.stats.summary(), total, trainable, n_params)

    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    bar = ProgressBar("train", total, done=start_step, unit="step", enabled=progress and main)
    bar.start()
    model.train()
    finished = saved = start_step  # the last whole optimizer step, and the last one checkpointed
    rng = ckpt.rng_state() if world == 1 else None  # RNG state right after step `finished`
    try:
        for step in range(start_step, total):
            t0 = time.perf_counter()
            step_plan = plan.step(step)
            loss_sum = torch.zeros((), dtype=torch.float64, device=accelerator.device)
            scale = world * config.grad_accum / max(1, step_plan.target_tokens)
            for indices in step_plan.micro_batches(rank, world):
                batch = collate(data, indices, config.packing, pad_id, row_tokens=config.max_length)
                with accelerator.accumulate(model):
                    summed = _summed_loss(model, batch, accelerator.device)
                    accelerator.backward(summed * scale)
                    loss_sum += summed.detach().double()
            done = step + 1
            with deferred_interrupts():  # an interrupt lands before or after the whole update, never inside
                grad_norm = None
                if config.max_grad_norm > 0:
                    grad_norm = accelerator.clip_grad_norm_(model.parameters(), config.max_grad_norm)
                optimizer.step()
                lr = scheduler.get_last_lr()[0]
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
                loss = float(accelerator.reduce(loss_sum, "sum").item()) / max(1, step_plan.target_tokens)
                seconds = time.perf_counter() - t0
                rate = step_plan.target_tokens / seconds if seconds > 0 else 0.0
                if done % config.logging_steps == 0 or done == total:
                    runlog.write({
                        "step": done, "epoch": step_plan.epoch, "loss": loss, "lr": lr,
                        "grad_norm": None if grad_norm is None else float(grad_norm),
                        "target_tokens": step_plan.target_tokens, "tokens": step_plan.tokens,
                        "seconds": round(seconds, 4), "target_tokens_per_s": round(rate, 1),
                    })
                finished = done
                if world == 1:
                    rng = ckpt.rng_state()
            shown = f"loss {loss:.4f}" if math.isfinite(loss) else "loss nan"
            bar.advance(1, f"{shown}, lr {lr:.2e}, {rate:,.0f} target tok/s")
            if config.save_steps >= 0 and ((config.save_steps and done % config.save_steps == 0) or done == total):
                path = ckpt.checkpoint_dir(out, done)
                ckpt.save_checkpoint(accelerator, model, optimizer, scheduler, path,
                                     {"step": done, "total_steps": total, "loss": loss, "plan": plan_identity,
                                      "settings": settings})
                saved = done
                runlog.write({"event": "checkpoint", "step": done, "path": str(path)})
                if main:
                    ckpt.prune_checkpoints(out, config.save_total_limit, keep_path=path)
                if eval_hook is not None and done != total:
                    _run_eval(eval_hook, accelerator, model, tokenizer, out, done, runlog, precision)
    except KeyboardInterrupt:
        bar.close()
        _save_on_interrupt(accelerator, model, optimizer, scheduler, out, runlog, config,
                           finished, saved, rng, {"total_steps": total, "plan": plan_identity, "settings": settings})
        raise
    finally:
        bar.close()

    # a failed export must not lose the rest of the run's record: plot, evaluation, end event, result
    export_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision, torch.float32)
    exported, failure = None, None
    try:
        exported = ckpt.export_model(accelerator, model, tokenizer, out / "final", config.export, export_dtype)
        if config.export_gguf and exported is not None and main:
            from tusk.gguf_export import export_gguf

            gguf_path = export_gguf(exported, out / "final.gguf", config.export_gguf)
            runlog.write({"event": "export", "step": total, "path": str(gguf_path), "format": "gguf"})
    except Exception as exc:  # noqa: BLE001 - reported after the run's record is complete
        failure = exc
        runlog.write({"event": "export", "step": total, "error": str(exc)})
    if eval_hook is not None and exported is not None and config.export == "merged" and main:
        _record_eval(eval_hook, exported, total, runlog)
    elif eval_hook is not None and failure is None:  # no merged export to score: a temporary one, as per checkpoint
        _run_eval(eval_hook, accelerator, model, tokenizer, out, total, runlog, precision)
    accelerator.wait_for_everyone()
    curve = losses(runlog.path) if main else []
    if main:
        plot_loss(runlog.path, out / PLOT_NAME, title=f"{Path(config.model).name} ({config.method})")
        end: dict[str, Any] = {"event": "end", "step": total, "seconds": round(time.perf_counter() - started, 2)}
        if failure is not None:
            end["error"] = str(failure)
        runlog.write(end)
    accelerator.end_training()
    values = tuple(v for _, v in curve)
    result = TrainResult(
        out=out, steps=total, first_loss=values[0] if values else None, last_loss=values[-1] if values else None,
        losses=values, export=exported, encoding=dataclasses.asdict(data.stats),
        trainable_parameters=trainable, parameters=n_params, seconds=time.perf_counter() - started,
        resumed_from=resumed_from,
    )
    if failure is not None:
        last = ckpt.latest_checkpoint(out)
        kept = f"; the trained state is in {last}" if last is not None else ""
        raise ExportFailed(f"training finished ({total} steps) but the export failed: {failure}{kept}",
                           result) from failure
    return result


def check_length_losses(stats: Any, config: TrainConfig, warn: bool = True) -> None:
    """Warn when ``max_length`` truncates or drops examples (with counts and shares), and refuse to train
    when the dropped share exceeds ``max_dropped_share``."""
    if not (stats.dropped or stats.truncated) or not stats.examples:
        return
    dropped, truncated = stats.dropped / stats.examples, stats.truncated / stats.examples
    what = (f"max_length {config.max_length}: {stats.dropped} of {stats.examples} examples ({dropped:.1%}) dropped "
            f"(the whole response cut off) and {stats.truncated} ({truncated:.1%}) truncated (training on a cut "
            "response without its end)")
    if dropped > config.max_dropped_share:
        raise TuskError(f"{what}; more than max_dropped_share {config.max_dropped_share:.0%} dropped: raise "
                        "max_length, or set max_dropped_share (up to 1) to train anyway")
    if warn:
        log.warning("%s; raise max_length to keep them whole", what)


def deepspeed_clipping(accelerator: Any, max_grad_norm: float) -> None:
    """Under DeepSpeed the engine clips gradients itself, at its config's ``gradient_clipping`` (accelerate's
    ``clip_grad_norm_`` then only reports the norm): set that to ``max_grad_norm`` (0: no clipping) before
    ``prepare``, warning when a config file asked for another value.  Does nothing without DeepSpeed."""
    plugin = getattr(getattr(accelerator, "state", None), "deepspeed_plugin", None)
    if plugin is None:
        return
    ds_config = plugin.deepspeed_config
    given = ds_config.get("gradient_clipping")
    if given not in (None, "auto") and float(given) != float(max_grad_norm):
        log.warning("the DeepSpeed config's gradient_clipping %s is replaced by max_grad_norm %s (set "
                    "gradient_clipping to \"auto\" in the DeepSpeed JSON to silence this)", given, max_grad_norm)
    ds_config["gradient_clipping"] = float(max_grad_norm)
    plugin.gradient_clipping = float(max_grad_norm)


def _summed_loss(model: Any, batch: Any, device: Any) -> Any:
    """Sum of next-token cross-entropy over the micro-batch's target tokens (fp32)."""
    import torch
    import torch.nn.functional as F

    keep = batch.keep.to(device)
    if _BOOL_KEEP is None:
        _probe_logits_to_keep()
    if _BOOL_KEEP:
        selector: Any = keep  # transformers 5: a boolean mask keeps exactly the trained positions
    else:  # older transformers: one set of positions for every row
        selector = torch.nonzero(keep.any(dim=0)).flatten()
    kwargs: dict[str, Any] = {"input_ids": batch.input_ids.to(device), "use_cache": False,
                              "logits_to_keep": selector}
    if batch.position_ids is not None:
        kwargs["position_ids"] = batch.position_ids.to(device)
    if batch.attention_mask is not None:
        kwargs["attention_mask"] = batch.attention_mask.to(device)
    logits = model(**kwargs).logits
    all_targets = batch.targets.to(device)
    targets = all_targets[keep] if _BOOL_KEEP else all_targets[:, selector]
    return F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), targets.reshape(-1),
                           ignore_index=-100, reduction="sum")


_BOOL_KEEP: bool | None = None


def _probe_logits_to_keep() -> None:
    """Whether this transformers accepts a boolean (rows, positions) ``logits_to_keep`` mask."""
    global _BOOL_KEEP
    try:
        from transformers.modeling_utils import slice_logits_to_keep  # noqa: F401

        _BOOL_KEEP = True
    except ImportError:
        _BOOL_KEEP = False


def _save_on_interrupt(accelerator: Any, model: Any, optimizer: Any, scheduler: Any, out: Path, runlog: Any,
                       config: TrainConfig, finished: int, saved: int, rng: Any, identity: dict[str, Any]) -> None:
    """On Ctrl-C / SIGTERM: checkpoint the last whole step (one process), or say where a rerun resumes."""
    from tusk.train import checkpoint as ckpt
    from tusk.train.resume import deferred_interrupts

    if accelerator.num_processes > 1:
        # the other processes may not have been interrupted: a collective save could hang, so none is tried
        last = ckpt.latest_checkpoint(out)
        if accelerator.is_main_process:
            where = f"{last}; {_resume_hint(config, last)}" if last is not None else "the start (no checkpoint yet)"
            log.warning("interrupted after step %d; not saving in a multi-process run: a rerun resumes from %s",
                        finished, where)
        return
    if config.save_steps < 0:
        log.warning("interrupted after step %d; nothing was saved (save_steps: -1 writes no checkpoints), so a "
                    "rerun starts from the beginning", finished)
        return
    if finished == saved:
        last = ckpt.latest_checkpoint(out)
        if last is None:
            log.warning("interrupted before the first step finished; a rerun starts from the beginning")
        else:
            log.warning("interrupted after step %d, which is checkpointed in %s; %s", finished, last,
                        _resume_hint(config, last))
        return
    path = ckpt.checkpoint_dir(out, finished)
    with deferred_interrupts(deliver=False):  # a second Ctrl-C must not leave a half-written checkpoint
        ckpt.save_checkpoint(accelerator, model, optimizer, scheduler, path,
                             {"step": finished, "interrupted": True, **identity}, rng=rng)
        runlog.write({"event": "checkpoint", "step": finished, "path": str(path), "reason": "interrupt"})
        ckpt.prune_checkpoints(out, config.save_total_limit, keep_path=path)
    log.warning("interrupted: saved step %d to %s; %s", finished, path, _resume_hint(config, path))


def _resume_hint(config: TrainConfig, path: Path) -> str:
    """How to continue from checkpoint ``path``: the same command does only under ``resume: auto`` (with
    ``never`` it would start over, with a named checkpoint it would go back to that one)."""
    if config.resume.strip().lower() == "auto":
        return "rerun the same command to resume"
    return f"to resume, rerun the command with --resume {path} (or --resume auto) instead of --resume {config.resume}"


def _resume_path(config: TrainConfig, out: Path) -> Path | None:
    from tusk.train.checkpoint import latest_checkpoint

    word = config.resume.strip().lower()
    if word in ("never", "no", "false", "off", "none", ""):
        return None
    if word == "auto":
        return latest_checkpoint(out)
    path = Path(config.resume)
    if not path.is_dir():
        raise TuskError(f"resume: checkpoint folder {path} does not exist (resume is auto, never or a checkpoint "
                        "folder)")
    return path


def _run_eval(hook: EvalHook, accelerator: Any, model: Any, tokenizer: Any, out: Path, step: int,
              runlog: Any, precision: str) -> None:
    import torch

    from tusk.train.checkpoint import checkpoint_dir, eval_model_dir, export_model, remove_eval_models

    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision, torch.float32)
    target = eval_model_dir(out, step)
    try:
        exported = export_model(accelerator, model, tokenizer, target, "merged", dtype)
        if accelerator.is_main_process and exported is not None:
            checkpoint = checkpoint_dir(out, step)  # what the event names: the temporary model is removed
            _record_eval(hook, exported, step, runlog, shown=checkpoint if checkpoint.is_dir() else None)
    finally:  # also on Ctrl-C / SIGTERM: a full model copy must not stay behind
        if accelerator.is_main_process:
            remove_eval_models(out)
    accelerator.wait_for_everyone()
    model.train()


def _record_eval(hook: EvalHook, model_dir: Path, step: int, runlog: Any, shown: Path | None | str = "") -> None:
    """Evaluate ``model_dir`` and log an ``eval`` event; its ``model`` is ``shown`` when given (the checkpoint
    of a temporary export, None when there is none)."""
    try:
        result = hook(model_dir, step)
    except Exception as exc:  # noqa: BLE001 - the hook is optional: a failed evaluation must not lose the training run
        log.warning("evaluation at step %d failed: %s", step, exc)
        result = {"error": str(exc)}
    model = str(model_dir) if shown == "" else (None if shown is None else str(shown))
    runlog.write({"event": "eval", "step": step, "model": model, "result": result})
