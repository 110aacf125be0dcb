"""What a checkpoint must match to be resumed, and keeping each optimizer step whole under Ctrl-C / SIGTERM.

A checkpoint's ``state.json`` records two identities: ``plan`` (what fixes the data order: batch size, seed,
the examples and their token ids, the total number of steps) and ``settings`` (what changes the optimisation:
model, method and LoRA shape, learning rate, schedule, warmup, weight decay, AdamW betas, clipping, max
length, precision).  Resuming with any of them changed would silently train a different run than the one
the run directory records, so :func:`check_resume` refuses it with one line naming each changed key
(``old -> new``).  Settings that do not change the result are not part of the identity and may change on
resume: ``grad_accum``, ``packing``, ``attn_implementation``, ``gradient_checkpointing``, ``compile``, the
number of processes, logging / saving cadence, export and the evaluation hook.

:class:`deferred_interrupts` holds SIGINT / SIGTERM while a step's update (clip, optimizer, scheduler, log
line) runs, then delivers them, so an interrupt always lands between whole steps and the interrupt
checkpoint describes exactly one finished step.
Does not: read or write checkpoint files (see :mod:`tusk.train.checkpoint`).
"""

from __future__ import annotations

import hashlib
import os
import signal
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from typing_extensions import Self

from tusk.errors import TuskError

# config fields that change what training computes (LoRA fields only count for method=lora)
RESULT_SETTINGS: tuple[str, ...] = (
    "method", "learning_rate", "lr_scheduler", "warmup_ratio", "weight_decay", "adam_beta1", "adam_beta2",
    "max_grad_norm", "max_length",
)
LORA_SETTINGS: tuple[str, ...] = ("lora_r", "lora_alpha", "lora_dropout", "lora_target_modules")


def data_digest(data: Any) -> str:
    """A short hash of the encoded examples (token ids and prompt lengths): the data a plan orders."""
    digest = hashlib.sha256()
    for ids in data.ids:
        digest.update(len(ids).to_bytes(4, "little"))
        digest.update(ids.tobytes())
    digest.update(data.n_masked.tobytes())
    return digest.hexdigest()[:16]


def settings_identity(config: Any, precision: str, model_dir: str) -> dict[str, Any]:
    """The optimisation settings a checkpoint belongs to (stored in its ``state.json`` as ``settings``)."""
    keys = RESULT_SETTINGS + (LORA_SETTINGS if config.method == "lora" else ())
    return {"model": model_dir, "precision": precision, **{k: getattr(config, k) for k in keys}}


def changes(saved: Mapping[str, Any], current: Mapping[str, Any]) -> list[str]:
    """``key: old -> new`` for each key of ``saved`` whose value differs (keys a checkpoint lacks are skipped)."""
    return [f"{key}: {saved[key]!r} -> {current.get(key)!r}" for key in saved
            if key in current and saved[key] != current[key]]


def check_resume(path: Path, state: Mapping[str, Any], plan: Mapping[str, Any], settings: Mapping[str, Any]) -> None:
    """Refuse to resume from checkpoint ``path`` when its plan or settings differ from this run's."""
    plan_changes = changes(state.get("plan", {}), plan)
    setting_changes = changes(state.get("settings", {}), settings)
    if not plan_changes and not setting_changes:
        return
    parts = []
    if plan_changes:
        parts.append(f"the data plan changed ({', '.join(plan_changes)})")
    if setting_changes:
        parts.append(f"the training settings changed ({', '.join(setting_changes)})")
    advice = "put them back, use a new --out, or --resume never to start over"
    if any(c.startswith("total_steps:") for c in plan_changes):
        advice = ("the learning-rate schedule (warmup, then decay to 0) is laid out over the total number of "
                  "steps, so a run cannot be extended or shortened in place; to train further, start a new run "
                  f"from its exported model (--model {path.parent.parent / 'final'} --out NEW), or start over "
                  "with --resume never")
    raise TuskError(f"cannot resume from {path}: {'; '.join(parts)}; {advice}")


class deferred_interrupts:
    """Hold SIGINT and SIGTERM inside the block and deliver the first one when it ends.

    Delivery calls the handler that was installed before (so ``tusk``'s SIGTERM handler still raises its
    ``Terminated``); with the default handler SIGINT raises KeyboardInterrupt and SIGTERM ends the process.
    Off the main thread (where handlers cannot be set) it does nothing.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self, deliver: bool = True):
        self.deliver = deliver
        self.pending: int | None = None
        self._previous: dict[int, Any] = {}

    def _hold(self, signum: int, frame: Any) -> None:
        if self.pending is None:
            self.pending = signum

    def __enter__(self) -> Self:
        self.pending = None
        if threading.current_thread() is threading.main_thread():
            for sig in self.SIGNALS:
                if signal.getsignal(sig) is not None:  # None: a handler not set from Python; leave it alone
                    self._previous[sig] = signal.signal(sig, self._hold)
        return self

    def __exit__(self, *exc: object) -> None:
        previous, self._previous = self._previous, {}
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if self.pending is None or not self.deliver or exc[0] is not None:
            return
        handler = previous.get(self.pending, signal.SIG_DFL)
        if callable(handler):
            handler(self.pending, None)
        elif handler == signal.SIG_DFL:
            if self.pending == signal.SIGINT:
                raise KeyboardInterrupt
            os.kill(os.getpid(), self.pending)
