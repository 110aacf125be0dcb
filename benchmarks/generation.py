"""Benchmark: tusk's hf backend against the two usual ways to generate with transformers.

The same GSM8K test prompts (Alpaca CoT prompts, as MAmmoTH builds them), greedy, every row forced to the same
number of new tokens (end-of-sequence suppressed, so each method does the same work), several ways in one run
on one loaded model:

- (a) per-prompt ``model.generate``, one prompt at a time;
- (b) MAmmoTH-style: fixed batches of 8 in input order, left padding, one ``generate`` per batch;
- (c) tusk's ``HFBackend``: prompts sorted by length and bucketed, batch size from free memory on a GPU or
  ``--batch-size``, per-row stopping;
- (c2) the same backend with ``cache="static"`` (a preallocated KV cache);
- (c3) the same backend with ``cache="static", compile=True`` (``torch.compile`` of the decoding step), run
  twice: the first run includes compilation, the second shows the compiled steady state;
- (c4) the same backend with ``batching="continuous"`` (rows leave the batch when they stop, waiting rows
  join).

``--lengths gold`` gives each prompt its own length instead: the token count of its GSM8K reference
solution (capped at ``--tokens``), as if each row stopped there at its end of sequence, so the output lengths
vary as real answers do.  (b) then runs each batch to its longest row (``generate`` keeps finished rows in the
batch, padded) and every method counts only each row's own tokens: the work a real run would keep.

(c2) and (c3) are separate backend instances loading the same weights; ``--skip-static`` leaves them out, and
a contender that fails (say, no compiler for (c3)) is recorded under ``failed`` while the others still report.
(a) runs last and the JSON is rewritten after every method, so a run stopped by a time limit keeps the rest.
Reports generated tokens per second, the ratio of (c) to each method and of each method to (b), and how
many completions agree with (b) (a sanity check: padding or another kernel can flip a near-tie, rarely).

    python benchmarks/generation.py --data-dir ../shared/data                 # CPU: SmolLM2-135M GGUF
    python benchmarks/generation.py --data-dir ../shared/data --gpu-random-1b # GPU: Llama-shaped 1.1B, random
    python benchmarks/generation.py --random-llama tiny --prompts 8 --tokens 8 # the random-model path, small
    (--tokenizer DIR: the random model's tokenizer from a saved tokenizer folder instead of --model)

Prints a table and writes JSON (``--json``, default benchmarks/results/generation.json).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench_common import existing_dir, positive_int, run_main
from llama_shapes import LLAMA_SHAPES  # benchmarks/ is on sys.path when a benchmark runs as a script


def gsm8k_prompts(data_dir: str | None, count: int) -> tuple[list[str], list[str]]:
    """The Alpaca CoT prompts of the first ``count`` GSM8K test problems, and their reference solutions."""
    from tusk.benchmarks.registry import load_problems
    from tusk.prompts import build_prompt

    problems = load_problems("gsm8k", data_dir=data_dir, limit=count)
    solutions = [f"{p.meta['rationale']}\nThe answer is {p.answer}." for p in problems]
    return [build_prompt(p, "cot", "alpaca") for p in problems], solutions


def gold_lengths(tokenizer: Any, solutions: list[str], cap: int) -> list[int]:
    """Each reference solution's token count, between 1 and ``cap``."""
    counts = tokenizer(solutions, add_special_tokens=False)["input_ids"]
    return [max(1, min(cap, len(ids))) for ids in counts]


def random_llama(
    folder: Path, tokenizer_from: str, size: str = "1b", tokenizer_dir: str | None = None
) -> str:
    """A Llama with random weights in one of :data:`LLAMA_SHAPES`, saved with a real tokenizer.

    The tokenizer is read from ``tokenizer_dir`` (a saved transformers tokenizer) when given, else taken from
    the model ``tokenizer_from`` (loading that model once).
    """
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from tusk.backends.hf_load import load_model_and_tokenizer, resolve_source

    if tokenizer_dir:
        tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    else:
        _, tokenizer = load_model_and_tokenizer(resolve_source(tokenizer_from), torch.float32, "cpu")
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        **LLAMA_SHAPES[size],
        max_position_embeddings=4096,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    torch.manual_seed(0)
    with torch.device("cuda" if torch.cuda.is_available() else "cpu"):
        model = LlamaForCausalLM(config).to(torch.bfloat16)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    AutoTokenizer.from_pretrained(folder)  # fail early if the tokenizer does not round-trip
    return str(folder)


def baseline(
    lm: Any, tokenizer: Any, prompts: list[str], lengths: list[int], batch: int
) -> tuple[list[str], float, int]:
    """``model.generate`` over fixed batches in input order (batch=1 is per-prompt generation); each batch runs
    to its longest row's length, and each row keeps its own ``lengths[i]`` tokens."""
    import torch

    tokenizer.padding_side = "left"
    texts: list[str] = []
    device = lm.device
    began = time.perf_counter()
    for start in range(0, len(prompts), batch):
        enc = tokenizer(prompts[start : start + batch], return_tensors="pt", padding=True)
        tokens = max(lengths[start : start + batch])
        with torch.inference_mode():
            out = lm.generate(
                input_ids=enc["input_ids"].to(device),
                attention_mask=enc["attention_mask"].to(device),
                do_sample=False,
                max_new_tokens=tokens,
                min_new_tokens=tokens,
                pad_token_id=tokenizer.pad_token_id,
            )
        new = out[:, enc["input_ids"].shape[1] :].tolist()
        own = [row[:length] for row, length in zip(new, lengths[start : start + batch])]
        texts += tokenizer.batch_decode(own, skip_special_tokens=True)
    _sync()
    return texts, time.perf_counter() - began, sum(lengths)


def tusk_backend(backend: Any, prompts: list[str], lengths: list[int]) -> tuple[list[str], float, int]:
    from tusk.types import Request, SamplingParams

    requests = [Request(str(i), p, SamplingParams(max_tokens=n)) for i, (p, n) in enumerate(zip(prompts, lengths))]
    began = time.perf_counter()
    gens = {g.request_id: g for g in backend.generate(requests)}
    _sync()
    elapsed = time.perf_counter() - began
    generated = sum(g.completion_tokens for g in gens.values())
    return [gens[str(i)].text for i in range(len(prompts))], elapsed, generated


def run_contender(
    key: str,
    label: str,
    backend_class: Any,
    target: str,
    options: dict[str, Any],
    settings: dict[str, Any],
    prompts: list[str],
    tokens: list[int],
    measure: Any,
) -> None:
    """Load a backend with these settings (cache, compile, batching) and measure it (compiled: twice, cold then
    warm)."""
    compiled = bool(settings.get("compile"))
    began = time.perf_counter()
    backend = backend_class(target, **settings, **options)
    loaded = time.perf_counter() - began
    try:
        if compiled:
            first = label + ", 1st run (compiles)"
            measure(key + "-first", first, tusk_backend, backend, prompts, tokens, load_seconds=loaded)
            label += ", 2nd run"
        else:
            tusk_backend(backend, prompts[:2], [4, 4])  # the same warm-up as the others had
        measure(key, label, tusk_backend, backend, prompts, tokens, load_seconds=loaded)
    finally:
        backend.close()


def _free_memory() -> None:
    import gc

    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def _sync() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data-dir",
        type=existing_dir,
        default=os.environ.get("TUSK_DATA_DIR"),
        help="folder with gsm8k/test.jsonl",
    )
    parser.add_argument("--model", default="smollm2-135m", help="hf target (default: the SmolLM2 GGUF)")
    parser.add_argument(
        "--random-llama",
        choices=sorted(LLAMA_SHAPES),
        default=None,
        help="use a Llama with random weights of this size (tokenizer from --model) instead of --model",
    )
    parser.add_argument(
        "--gpu-random-1b", action="store_true", help="same as --random-llama 1b (the GPU benchmark)"
    )
    parser.add_argument(
        "--tokenizer",
        type=existing_dir,
        default=None,
        help="a saved tokenizer folder for the random model (default: --model's)",
    )
    parser.add_argument("--prompts", type=positive_int, default=64)
    parser.add_argument("--tokens", type=positive_int, default=48, help="new tokens per prompt (the most, with "
                        "--lengths gold)")
    parser.add_argument("--lengths", choices=("fixed", "gold"), default="fixed",
                        help="fixed: every prompt --tokens new tokens; gold: each its reference solution's length")
    parser.add_argument(
        "--batch-size", type=positive_int, default=None, help="tusk's batch size (default: automatic)"
    )
    parser.add_argument(
        "--threads", type=positive_int, default=None, help="torch CPU threads (default: torch's choice)"
    )
    parser.add_argument(
        "--skip-per-prompt", action="store_true", help="leave out (a), the slowest method (it runs last)"
    )
    parser.add_argument(
        "--skip-static", action="store_true", help="leave out (c2) static cache and (c3) static + compiled"
    )
    parser.add_argument("--skip-compile", action="store_true", help="leave out (c3) static + compiled")
    parser.add_argument("--skip-continuous", action="store_true", help="leave out (c4) continuous batching")
    parser.add_argument("--json", default=str(Path(__file__).parent / "results" / "generation.json"))
    args = parser.parse_args(argv)
    size = "1b" if args.gpu_random_1b else args.random_llama

    import torch
    import transformers
    from rich.console import Console
    from rich.table import Table

    from tusk.backends.hf import HFBackend
    from tusk.errors import TuskError

    console = Console(width=None if sys.stdout.isatty() else 150)  # logs: no wrapped rows
    prompts, solutions = gsm8k_prompts(args.data_dir, args.prompts)
    rows: list[dict[str, Any]] = []
    texts: dict[str, list[str]] = {}
    failures: dict[str, str] = {}
    lengths: list[int] = []  # new tokens each prompt keeps (set once the tokenizer is loaded)
    order = ["a", "b", "c", "c2", "c3-first", "c3", "c4"]
    load_avg = os.getloadavg()

    def result(backend: Any, target: str) -> dict[str, Any]:
        ordered = sorted(rows, key=lambda r: order.index(r["key"]))
        agree = {
            r["key"]: sum(x == y for x, y in zip(texts["b"], texts[r["key"]]))
            for r in ordered
            if "b" in texts
        }
        return {
            "model": target if not size else f"random Llama-shaped ({size})",
            "device": backend.device,
            "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
            "dtype": str(backend.dtype),
            "prompts": len(prompts),
            "new_tokens": args.tokens,
            "lengths": args.lengths,
            "useful_tokens": sum(lengths),
            "tusk_batch_size": args.batch_size or "auto",
            "torch_threads": torch.get_num_threads(),
            "rows": ordered,
            "identical_b_c": agree.get("c"),
            "identical_to_b": {k: v for k, v in agree.items() if k != "b"},
            "failed": failures,
            "load_average": [load_avg[0], os.getloadavg()[0]],
            "versions": {
                "torch": torch.__version__,
                "transformers": transformers.__version__,
                "python": sys.version.split()[0],
            },
            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
        }

    def measure(key: str, method: str, run: Any, *run_args: Any, **extra: Any) -> None:
        console.print(f"running {method} ...")
        out, seconds, tokens = run(*run_args)
        texts[key] = out
        rows.append({"key": key, "method": method, "seconds": seconds, "tokens": tokens, **extra})
        rows[-1]["tokens_per_s"] = tokens / seconds
        # written after every method, so a run stopped by a time limit keeps what it measured
        Path(args.json).write_text(json.dumps(result(backend, target), indent=2) + "\n")

    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        target = random_llama(Path(tmp), args.model, size, args.tokenizer) if size else args.model
        options = {"batch_size": args.batch_size, "ignore_eos": True, "threads": args.threads}
        backend = HFBackend(target, **options)
        lm, tok = backend.lm, backend.tokenizer
        if args.lengths == "gold":
            lengths[:] = gold_lengths(tok, solutions, args.tokens)
            shape = f"{min(lengths)}-{max(lengths)} new tokens (mean {sum(lengths) / len(lengths):.0f}, gold lengths)"
        else:
            lengths[:] = [args.tokens] * len(prompts)
            shape = f"{args.tokens} new tokens"
        console.print(
            f"model {target} on {backend.device} ({backend.dtype}); {len(prompts)} prompts x {shape}; "
            f"load average {load_avg[0]:.1f}"
        )
        baseline(lm, tok, prompts[:2], [4, 4], 2)  # warm-up: first-call allocations and kernel selection
        measure("b", "(b) fixed batches of 8 (MAmmoTH)", baseline, lm, tok, prompts, lengths, 8)
        measure("c", "(c) tusk hf backend", tusk_backend, backend, prompts, lengths)
        # (c4) first: quick, where (c3) compiles for a while and a time limit should cut what runs last
        contenders = [] if args.skip_continuous else [("c4", "continuous batching", {"batching": "continuous"})]
        if not args.skip_static:
            contenders.append(("c2", "static cache", {"cache": "static"}))
        if not (args.skip_static or args.skip_compile):
            contenders.append(("c3", "static cache + compiled", {"cache": "static", "compile": True}))
        for key, what, settings in contenders:
            label = f"({key}) tusk hf, {what}"
            try:
                run_contender(key, label, HFBackend, target, options, settings, prompts, lengths, measure)
            except (TuskError, RuntimeError) as exc:  # report and go on: the other rows are still worth having
                first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
                failures[key] = f"{type(exc).__name__}: {first_line}"
                console.print(f"[red]{label} failed: {failures[key]}[/red]")
            _free_memory()
        if not args.skip_per_prompt:  # the slowest, so last: a time limit costs it, not the others
            measure("a", "(a) per-prompt generate", baseline, lm, tok, prompts, lengths, 1)
        final = result(backend, target)
        backend.close()
    Path(args.json).write_text(json.dumps(final, indent=2) + "\n")

    rate = {r["key"]: r["tokens_per_s"] for r in final["rows"]}
    table = Table(title=f"greedy generation, same prompts, same weights, {args.lengths} lengths")
    for column in ("method", "tokens", "seconds", "tokens/s", "(c) vs this", "this vs (b)", "same as (b)"):
        table.add_column(column, justify="left" if column == "method" else "right", no_wrap=column == "method")
    for row in final["rows"]:
        table.add_row(
            row["method"],
            str(row["tokens"]),
            f"{row['seconds']:.1f}",
            f"{row['tokens_per_s']:.1f}",
            f"{rate['c'] / row['tokens_per_s']:.2f}x",
            f"{row['tokens_per_s'] / rate['b']:.2f}x",
            "-" if row["key"] == "b" else f"{final['identical_to_b'][row['key']]}/{len(prompts)}",
        )
    console.print(table)
    for key, error in failures.items():
        console.print(f"({key}) failed: {error}")
    console.print(f"load average {load_avg[0]:.1f} at the start, {final['load_average'][1]:.1f} at the end")
    console.print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(run_main(main))
