"""``tusk data stats``: what a built dataset contains: a mixture table, length distributions, PNG plots.

Lengths are counted in tokens of a tokenizer when one is given (a built-in model or ``.gguf`` vocabulary, a
Hugging Face tokenizer folder, or a hub name already in the local cache: the network is never used), else in
whitespace-separated words (named as such in every table and plot).  A tokenizer that cannot be found and a
plot folder that cannot be written are one-line :class:`~tusk.errors.DataError` errors.
Plots are drawn with matplotlib's Agg backend (no display needed).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tusk.errors import DataError, MissingExtraError


@dataclass(frozen=True)
class LengthSummary:
    n: int
    mean: float
    p50: float
    p90: float
    p99: float
    max: int


@dataclass(frozen=True)
class GroupStats:
    name: str
    records: int
    share: float
    instruction: LengthSummary
    output: LengthSummary


def summarise(lengths: Sequence[int]) -> LengthSummary:
    if not lengths:
        return LengthSummary(0, 0.0, 0.0, 0.0, 0.0, 0)
    a = np.asarray(lengths)
    p50, p90, p99 = np.percentile(a, [50, 90, 99])
    return LengthSummary(len(a), float(a.mean()), float(p50), float(p90), float(p99), int(a.max()))


def read_dataset(folder: Path) -> list[dict[str, Any]]:
    path = folder / "train.json" if folder.is_dir() else folder
    try:
        records = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise DataError(f"{path}: {exc.strerror or exc} (expected a folder written by tusk data build)") from exc
    except ValueError as exc:
        raise DataError(f"{path}: invalid JSON ({exc})") from exc
    if not isinstance(records, list):
        raise DataError(f"{path}: expected a JSON list of Alpaca records")
    for i, record in enumerate(records):
        if not isinstance(record, dict) or "instruction" not in record or "output" not in record:
            raise DataError(f"{path} record {i}: needs 'instruction' and 'output'")
    return records


def token_counter(tokenizer: str | None) -> tuple[Callable[[list[str]], list[int]], str]:
    """(count function over a batch of texts, unit name).

    ``tokenizer``: a built-in model name or a ``.gguf`` path (its vocabulary is loaded through llama.cpp, no
    weights), or a Hugging Face tokenizer folder/name available offline; None counts words.
    """
    if not tokenizer:
        return (lambda texts: [len(t.split()) for t in texts]), "words"
    from tusk import models

    if tokenizer.endswith(".gguf") and not Path(tokenizer).is_file():
        raise DataError(f"--tokenizer {tokenizer}: no such GGUF file")
    if tokenizer in models.BUILTIN_MODELS or tokenizer.endswith(".gguf"):
        try:
            import llama_cpp
        except ImportError as exc:
            raise MissingExtraError("token counts with a GGUF tokenizer", "cpu", exc) from exc
        path = models.resolve_model_path(tokenizer) if tokenizer in models.BUILTIN_MODELS else tokenizer
        vocab = llama_cpp.Llama(model_path=str(path), vocab_only=True, verbose=False)

        def count(texts: list[str]) -> list[int]:
            return [len(vocab.tokenize(t.encode("utf-8"), add_bos=False, special=False)) for t in texts]

        return count, f"{tokenizer} tokens"
    try:
        from transformers import AutoTokenizer
    except ImportError as exc:
        raise MissingExtraError("token counts with a tokenizer", "hf", exc) from exc
    try:  # never the network: a folder, or a tokenizer already in the local Hugging Face cache
        tok = AutoTokenizer.from_pretrained(tokenizer, local_files_only=True)
    except (OSError, ValueError, KeyError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(
            f"--tokenizer {tokenizer}: not a built-in model, a .gguf file, a tokenizer folder or a Hugging Face "
            f"tokenizer in the local cache (looked up offline only): {first}"
        ) from exc
    return (lambda texts: [len(ids) for ids in tok(texts, add_special_tokens=False)["input_ids"]]), "tokens"


def dataset_stats(
    records: Sequence[dict[str, Any]], count: Callable[[list[str]], list[int]]
) -> tuple[list[GroupStats], dict[str, dict[str, list[int]]]]:
    """Per source/mode group (sorted by size) and the raw lengths behind them."""
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for record in records:
        groups[f"{record.get('source', '?')}/{record.get('mode', '?')}"].append(record)
    total = len(records) or 1
    lengths: dict[str, dict[str, list[int]]] = {}
    stats = []
    for name, group in sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        instr = count([r["instruction"] + ("\n" + r["input"] if r.get("input") else "") for r in group])
        out = count([r["output"] for r in group])
        lengths[name] = {"instruction": instr, "output": out}
        stats.append(GroupStats(name, len(group), len(group) / total, summarise(instr), summarise(out)))
    return stats, lengths


def plot_lengths(lengths: dict[str, dict[str, list[int]]], unit: str, folder: Path) -> list[Path]:
    """Write the length histograms and the mixture bar chart as PNGs into ``folder`` (created if needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    try:
        folder.mkdir(parents=True, exist_ok=True)
        return _draw(plt, lengths, unit, folder)
    except OSError as exc:
        raise DataError(f"cannot write plots to {folder}: {exc.strerror or exc}") from exc


def _draw(plt, lengths: dict[str, dict[str, list[int]]], unit: str, folder: Path) -> list[Path]:
    written = []
    for part in ("instruction", "output"):
        fig, ax = plt.subplots(figsize=(8, 4.5))
        every = [n for g in lengths.values() for n in g[part]]
        top = max(np.percentile(every, 99), 1) if every else 1
        bins = np.linspace(0, top, 50)
        for name, g in lengths.items():
            ax.hist(np.clip(g[part], 0, top), bins=bins, histtype="step", label=f"{name} ({len(g[part])})")
        ax.set_xlabel(f"{part} length ({unit}; clipped at p99)")
        ax.set_ylabel("records")
        ax.set_title(f"{part} length by source/mode")
        ax.legend(fontsize=7)
        fig.tight_layout()
        path = folder / f"{part}_lengths.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)
    fig, ax = plt.subplots(figsize=(8, 4.5))
    names = list(lengths)
    ax.barh(names, [len(lengths[n]["output"]) for n in names])
    ax.invert_yaxis()
    ax.set_xlabel("records")
    ax.set_title("mixture")
    fig.tight_layout()
    path = folder / "mixture.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    written.append(path)
    return written
