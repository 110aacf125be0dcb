"""The training configuration: one dataclass, documented field by field, loaded from YAML plus overrides.

Each field's docstring (the string right under it) is its documentation and doubles as the help text of
the matching ``tusk train --FIELD`` flag.  Defaults are the paper's recipe (3 epochs, cosine schedule, 3%
warmup, weight decay 0, lr 2e-5, global batch 128, max length 2048, bf16 on a GPU).

Guarantees: :func:`load_config` rejects unknown keys and values of the wrong type with a message naming the
file and key; :func:`resolve` returns a new frozen config (nothing is mutated); :func:`save_config` writes
the resolved values so a run directory always records exactly what ran.
Does not: touch torch or the model; decide the device (the loop does, from ``precision``).
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import inspect
import itertools
import json
import textwrap
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_type_hints

from tusk.errors import TuskError, yaml_error


@dataclass(frozen=True)
class TrainConfig:
    model: str = ""
    """Base model: an HF folder or hub id, a .gguf file (converted once to a cached HF folder), or a
    built-in name such as smollm2-135m."""

    data: str = ""
    """Training data: an Alpaca JSON list (tusk data build's train.json), JSONL, Parquet, or an HF dataset
    saved with save_to_disk. Records need instruction and output; input is optional."""

    out: str = "runs/train"
    """Run directory: resolved config, JSONL log, checkpoints, loss curve and the final export."""

    method: str = "full"
    """full (all weights, the paper's setup) or lora (peft adapters on the linear layers)."""

    epochs: float = 3.0
    """Passes over the data (the paper: 3). Ignored when max_steps is set."""

    max_steps: int = 0
    """Stop after this many optimizer steps (0: derived from epochs)."""

    learning_rate: float = 2e-5
    """Peak learning rate (paper: 2e-5 for 7B/13B, 1e-5 for 34B/70B; LoRA usually wants ~1e-4..2e-4)."""

    lr_scheduler: str = "cosine"
    """Learning-rate schedule after warmup: cosine, linear or constant."""

    warmup_ratio: float = 0.03
    """Fraction of all steps spent warming the learning rate up linearly from 0."""

    weight_decay: float = 0.0
    """AdamW weight decay (the paper: 0); as in HF Trainer, biases and norm weights are not decayed."""

    adam_beta1: float = 0.9
    """AdamW beta1."""

    adam_beta2: float = 0.999
    """AdamW beta2."""

    max_grad_norm: float = 1.0
    """Clip the global gradient norm to this value (0 disables clipping)."""

    batch_size: int = 128
    """Global batch: examples per optimizer step, over all devices and accumulation (the paper: 128)."""

    grad_accum: int = 1
    """Micro-batches per device per optimizer step (gradient accumulation). The loss is normalised per
    target token over the whole global batch, so this changes memory, not the result."""

    max_length: int = 2048
    """Tokens per example (prompt + response + EOS); longer examples are truncated and counted."""

    max_dropped_share: float = 0.05
    """Largest share of examples that may be dropped because max_length cuts off their whole response;
    above it training refuses to start (1: never refuse). Dropped and truncated examples are always warned
    about, with their counts."""

    packing: bool = True
    """Lay each micro-batch's examples back to back in rows of up to max_length tokens (position ids restart
    per example, attention kept within each example) instead of right-padding each example."""

    precision: str = "auto"
    """auto (bf16 on a GPU that supports it, fp16 with loss scaling on an older GPU, fp32 on a CPU), bf16,
    fp16 or fp32. bf16 and fp16 are mixed precision: fp32 weights and optimizer, autocast compute."""

    threads: int = 0
    """CPU threads torch uses for the run (torch.set_num_threads; 0: torch's default, one per core). On a
    small shared CPU, 1 thread per core (or 1 in all) may be faster than the default."""

    attn_implementation: str = "sdpa"
    """Attention kernel passed to transformers: sdpa, flash_attention_2, flex_attention or eager."""

    gradient_checkpointing: bool = False
    """Recompute activations in the backward pass to save memory (slower)."""

    compile: bool = False
    """torch.compile each decoder layer (inductor, dynamic shapes, one compilation shared by all layers); the
    first steps compile (seconds to minutes), later ones run the fused kernels."""

    lora_r: int = 16
    """LoRA rank (method=lora)."""

    lora_alpha: int = 32
    """LoRA scaling numerator (method=lora)."""

    lora_dropout: float = 0.05
    """Dropout on the LoRA input (method=lora)."""

    lora_target_modules: str = "all-linear"
    """Comma-separated module names to adapt (in YAML also a list), or all-linear (method=lora)."""

    seed: int = 42
    """Seed for the data order, initialisation of new weights and dropout."""

    limit: int = 0
    """Use only the first N records of the data (0: all); for demos and smoke runs."""

    save_steps: int = 0
    """Save a full checkpoint every N optimizer steps (0: only at the end; -1: never, e.g. for benchmarks).
    Unless -1, a one-process run interrupted by Ctrl-C or SIGTERM also saves its last finished step."""

    save_total_limit: int = 2
    """Keep at most this many step checkpoints (oldest removed first; 0 keeps all)."""

    resume: str = "auto"
    """auto: continue from the newest checkpoint in the run directory if there is one; never (start over:
    an earlier run's files in the directory are moved to OUT/previous/TIME); or a checkpoint folder. Resuming with other data or optimisation settings (learning rate, schedule, LoRA shape,
    max_steps, ...) is refused, naming each changed key."""

    logging_steps: int = 1
    """Write a log line every N optimizer steps."""

    export: str = "merged"
    """What to write to OUT/final: merged (a plain HF folder; LoRA merged into the weights), adapter
    (LoRA weights only), or none."""

    export_gguf: str = ""
    """Also write OUT/final.gguf for the llamacpp backend: f16 or f32 (needs export=merged; Llama and Qwen2
    architectures); empty: no GGUF."""

    eval_benchmarks: str = ""
    """Comma-separated benchmarks to evaluate at each checkpoint and on the final model, as tusk eval names
    them (paper: the paper's nine); empty: no evaluation hook."""

    eval_limit: int = 20
    """Problems per benchmark for the checkpoint evaluation (0: every problem)."""

    eval_mode: str = "hybrid"
    """Decoding mode for the checkpoint evaluation: cot, pot or hybrid."""

    eval_max_tokens: int = 512
    """Maximum new tokens per generation in the checkpoint evaluation."""

    eval_data_dir: str = ""
    """Folder holding the benchmark files for the checkpoint evaluation, as tusk eval --data-dir (empty:
    $TUSK_DATA_DIR, else tusk's data cache or a download). The files are looked up before training starts."""


_CHOICES: dict[str, tuple[str, ...]] = {
    "method": ("full", "lora"),
    "lr_scheduler": ("cosine", "linear", "constant"),
    "precision": ("auto", "bf16", "fp16", "fp32"),
    "attn_implementation": ("sdpa", "flash_attention_2", "flex_attention", "eager"),
    "export": ("merged", "adapter", "none"),
    "export_gguf": ("", "f16", "f32"),
    "eval_mode": ("cot", "pot", "hybrid"),
}


# str fields that also take a YAML list (joined with commas)
_LIST_FIELDS = ("lora_target_modules", "eval_benchmarks")
# spellings of resume's two keywords (YAML and the command line)
_RESUME_WORDS = {"auto": "auto", "yes": "auto", "true": "auto", "on": "auto",
                 "never": "never", "no": "never", "false": "never", "off": "never", "none": "never", "": "never"}


@functools.lru_cache(maxsize=1)
def field_docs() -> dict[str, str]:
    """Each field's docstring, read from this module's source (the string right under the field)."""
    source = textwrap.dedent(inspect.getsource(TrainConfig))
    body = ast.parse(source).body[0].body  # type: ignore[attr-defined]
    docs: dict[str, str] = {}
    for node, after in itertools.pairwise(body):
        if (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
                and isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant)):
            docs[node.target.id] = " ".join(str(after.value.value).split())
    return docs


def field_types() -> dict[str, type]:
    return {f.name: get_type_hints(TrainConfig)[f.name] for f in dataclasses.fields(TrainConfig)}


def coerce(key: str, value: Any, where: str = "") -> Any:
    """Convert ``value`` (from YAML or a ``key=value`` string) to the type of field ``key``."""
    types = field_types()
    prefix = f"{where}: " if where else ""
    if key not in types:
        raise TuskError(f"{prefix}{key}: unknown training option {key!r}; known: {', '.join(types)}")
    kind = types[key]
    try:
        if kind is bool:
            if isinstance(value, str):
                lowered = value.strip().lower()
                if lowered not in ("1", "0", "true", "false", "yes", "no", "on", "off"):
                    raise ValueError(value)
                value = lowered in ("1", "true", "yes", "on")
            elif not isinstance(value, bool):
                raise ValueError(value)
        elif kind is int:
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError(value)
            value = int(value)
        elif kind is float:
            if isinstance(value, bool):
                raise ValueError(value)
            value = float(value)
        elif key in _LIST_FIELDS and isinstance(value, (list, tuple)):  # YAML [a, b] means "a,b"
            if not all(isinstance(item, str) for item in value):
                raise ValueError(value)
            value = ",".join(item.strip() for item in value)
        elif key == "resume" and isinstance(value, bool):  # YAML reads no / false / yes / true as booleans
            value = "auto" if value else "never"
        elif isinstance(value, (list, tuple, dict, bool)):
            raise ValueError(value)
        else:
            value = "" if value is None else str(value)
            if key == "resume":
                value = _RESUME_WORDS.get(value.strip().lower(), value)
    except (TypeError, ValueError):
        expected = {bool: "a boolean", int: "an integer", float: "a number"}.get(kind, f"a {kind.__name__}")
        if key in _LIST_FIELDS:
            expected = "a comma-separated string or a list of strings"
        elif key == "resume":
            expected = "auto, never or a checkpoint folder"
        raise TuskError(f"{prefix}{key}: expected {expected}, got {value!r}") from None
    if key in _CHOICES and value not in _CHOICES[key]:
        raise TuskError(f"{prefix}{key}: must be one of {', '.join(_CHOICES[key])}, got {value!r}")
    return value


def load_config(path: str | Path | None = None, overrides: Mapping[str, Any] | None = None) -> TrainConfig:
    """Read a YAML (or JSON) config file and apply overrides on top; unknown keys are errors.

    Every error names where the offending value came from and its key, like ``c.yaml: adam_beta1: must be in
    [0, 1), got 1.5`` (``override: ...`` for a value given on the command line or in ``overrides``)."""
    values: dict[str, Any] = {}
    origins: dict[str, str] = {}
    if path:
        import yaml

        file = Path(path)
        try:
            loaded = yaml.safe_load(file.read_text()) or {}
        except OSError as exc:
            raise TuskError(f"cannot read config {file}: {exc.strerror}") from None
        except yaml.YAMLError as exc:
            raise TuskError(yaml_error(file, exc)) from None
        if not isinstance(loaded, dict):
            raise TuskError(f"{file}: a training config must be a mapping of option: value")
        for key, value in loaded.items():
            values[str(key)] = coerce(str(key), value, str(file))
            origins[str(key)] = str(file)
    for key, value in (overrides or {}).items():
        values[key] = coerce(key, value, "override")
        origins[key] = "override"
    return validate(TrainConfig(**values), origins)


def parse_overrides(items: Iterable[str]) -> dict[str, str]:
    """``["learning-rate=1e-4", "method=lora"]`` -> ``{"learning_rate": "1e-4", "method": "lora"}``.

    Keys are the config's field names (``-`` may stand for ``_``); values stay strings until
    :func:`coerce` converts them, so an unknown key is reported there with the list of known ones."""
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise TuskError(f"--set expects key=value, got {item!r}")
        out[key.strip().replace("-", "_")] = value.strip()
    return out


def validate(config: TrainConfig, origins: Mapping[str, str] | None = None) -> TrainConfig:
    """Check values that types alone do not catch (ranges, combinations, benchmark names) before any work
    starts; return the config unchanged.  Every problem found is reported in one message, each as
    ``ORIGIN: key: problem`` where ``origins`` says where the key's value came from (a file, ``override``)."""
    problems: list[tuple[str, str]] = []  # (key, problem)
    at_least = {"batch_size": 1, "grad_accum": 1, "max_length": 8, "logging_steps": 1, "lora_r": 1, "lora_alpha": 1,
                "max_steps": 0, "limit": 0, "threads": 0, "save_steps": -1, "save_total_limit": 0, "eval_limit": 0,
                "eval_max_tokens": 1}
    for key, low in at_least.items():
        if getattr(config, key) < low:
            problems.append((key, f"must be at least {low}, got {getattr(config, key)}"))
    for key in ("warmup_ratio", "lora_dropout", "adam_beta1", "adam_beta2"):
        if not 0.0 <= getattr(config, key) < 1.0:
            problems.append((key, f"must be in [0, 1), got {getattr(config, key)}"))
    if not 0.0 <= config.max_dropped_share <= 1.0:
        problems.append(("max_dropped_share", f"must be in [0, 1], got {config.max_dropped_share}"))
    for key in ("weight_decay", "max_grad_norm", "epochs"):
        if not getattr(config, key) >= 0:  # also catches nan
            problems.append((key, f"must not be negative, got {getattr(config, key)}"))
    if config.epochs <= 0 and config.max_steps <= 0:
        key = "max_steps" if "max_steps" in (origins or {}) else "epochs"
        problems.append((key, "set epochs > 0 or max_steps > 0"))
    if not config.learning_rate > 0 or config.learning_rate == float("inf"):
        problems.append(("learning_rate", f"must be positive, got {config.learning_rate}"))
    if config.export_gguf and config.export != "merged":
        problems.append(("export_gguf", "export_gguf needs export=merged"))
    if config.export == "adapter" and config.method != "lora":
        problems.append(("export", "export=adapter needs method=lora (no adapter in full fine-tuning; use merged)"))
    if config.method == "lora" and not [m for m in config.lora_target_modules.split(",") if m.strip()]:
        problems.append(("lora_target_modules", "empty (name modules, or all-linear)"))
    if (config.resume.strip().lower() not in _RESUME_WORDS and config.resume.strip()
            and not Path(config.resume).expanduser().is_dir()):
        problems.append(("resume", (f"checkpoint folder {config.resume} does not exist (auto, never or a "
                                    "checkpoint folder)")))
    problems += [("eval_benchmarks", p) for p in _unknown_benchmarks(config.eval_benchmarks)]
    if problems:
        raise TuskError(_problem_message(problems, origins or {}))
    return config


def _problem_message(problems: list[tuple[str, str]], origins: Mapping[str, str]) -> str:
    """``c.yaml: batch_size: must be at least 1, got 0; adam_beta1: ...; override: lora_r: ...``: problems
    grouped by where their values came from (``training config`` for defaults and direct callers)."""
    groups: dict[str, list[str]] = {}
    for key, problem in problems:
        groups.setdefault(origins.get(key, "training config"), []).append(f"{key}: {problem}")
    return "; ".join(f"{origin}: " + "; ".join(items) for origin, items in groups.items())


def eval_benchmark_names(names: str) -> tuple[str, ...]:
    """The benchmarks of an ``eval_benchmarks`` value: comma-separated names, ``paper`` standing for the
    paper's nine (as in ``tusk eval --benchmarks paper``); each name once, in order."""
    wanted: list[str] = []
    for name in (n.strip() for n in names.split(",")):
        if name.lower() == "paper":
            from tusk.benchmarks import PAPER_BENCHMARKS

            wanted += PAPER_BENCHMARKS
        elif name:
            wanted.append(name)
    return tuple(dict.fromkeys(wanted))


def _unknown_benchmarks(names: str) -> list[str]:
    wanted = eval_benchmark_names(names)
    if not wanted:
        return []
    from tusk.benchmarks import BENCHMARKS, get_benchmark

    unknown = []
    for name in wanted:
        try:
            get_benchmark(name)
        except TuskError:
            unknown.append(name)
    if not unknown:
        return []
    return [f"unknown benchmark {', '.join(map(repr, unknown))} (known: {', '.join(BENCHMARKS)}, or paper)"]


def require_inputs(config: TrainConfig, need_data: bool = True) -> None:
    if not config.model:
        raise TuskError("no model: set model in the config or pass --model (an HF folder, .gguf or built-in)")
    if need_data and not config.data:
        raise TuskError("no data: set data in the config or pass --data (tusk data build's train.json)")


def save_config(config: TrainConfig, path: Path, extra: Mapping[str, Any] | None = None) -> None:
    """Write the resolved config as YAML (plus ``extra`` facts of the run, e.g. world size, under ``run``)."""
    import yaml

    values = dataclasses.asdict(config)
    if extra:
        values = {**values, "run": dict(extra)}
    path.write_text(yaml.safe_dump(values, sort_keys=False))


def config_json(config: TrainConfig) -> str:
    return json.dumps(dataclasses.asdict(config), sort_keys=True)
