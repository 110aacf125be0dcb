"""Benchmark: tusk's hf backend against the two usual ways to generate with transformers.

The same GSM8K test prompts (Alpaca CoT prompts, as MAmmoTH builds them), greedy, every row forced to the same
number of new tokens (end-of-sequence suppressed, so each method does the same work), three ways in one run
on one loaded model:

- (a) per-prompt ``model.generate``, one prompt at a time;
- (b) MAmmoTH-style: fixed batches of 8 in input order, left padding, one ``generate`` per batch;
- (c) tusk's ``HFBackend``: prompts sorted by length and bucketed, batch size from free memory on a GPU or
  ``--batch-size``, per-row stopping.

Reports generated tokens per second and the ratio of (c) to (a) and (b), and how many completions of (b)
and (c) are identical (a sanity check: padding can flip a near-tie in fp32, rarely).

    python benchmarks/generation.py --data-dir ../shared/data                 # CPU: SmolLM2-135M GGUF
    python benchmarks/generation.py --data-dir ../shared/data --gpu-random-1b # GPU: Llama-shaped 1.1B, random

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


def gsm8k_prompts(data_dir: str | None, count: int) -> list[str]:
    from tusk.benchmarks.registry import load_problems
    from tusk.prompts import build_prompt

    problems = load_problems("gsm8k", data_dir=data_dir, limit=count)
    return [build_prompt(p, "cot", "alpaca") for p in problems]


def random_llama_1b(folder: Path, tokenizer_from: str) -> str:
    """A TinyLlama-shaped (1.1B) Llama with random weights, saved with a real tokenizer."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from tusk.backends.hf_load import load_model_and_tokenizer, resolve_source

    _, tokenizer = load_model_and_tokenizer(resolve_source(tokenizer_from), torch.float32, "cpu")
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=2048,
        intermediate_size=5632,
        num_hidden_layers=22,
        num_attention_heads=32,
        num_key_value_heads=4,
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


def baseline(lm: Any, tokenizer: Any, prompts: list[str], tokens: int, batch: int) -> tuple[list[str], float]:
    """``model.generate`` over fixed batches in input order (batch=1 is per-prompt generation)."""
    import torch

    tokenizer.padding_side = "left"
    texts: list[str] = []
    device = lm.device
    began = time.perf_counter()
    for start in range(0, len(prompts), batch):
        enc = tokenizer(prompts[start : start + batch], return_tensors="pt", padding=True)
        with torch.inference_mode():
            out = lm.generate(
                input_ids=enc["input_ids"].to(device),
                attention_mask=enc["attention_mask"].to(device),
                do_sample=False,
                max_new_tokens=tokens,
                min_new_tokens=tokens,
                pad_token_id=tokenizer.pad_token_id,
            )
        texts += tokenizer.batch_decode(out[:, enc["input_ids"].shape[1] :], skip_special_tokens=True)
    _sync()
    return texts, time.perf_counter() - began


def tusk_backend(backend: Any, prompts: list[str], tokens: int) -> tuple[list[str], float, int]:
    from tusk.types import Request, SamplingParams

    sampling = SamplingParams(max_tokens=tokens)
    requests = [Request(str(i), p, sampling) for i, p in enumerate(prompts)]
    began = time.perf_counter()
    gens = {g.request_id: g for g in backend.generate(requests)}
    _sync()
    elapsed = time.perf_counter() - began
    generated = sum(g.completion_tokens for g in gens.values())
    return [gens[str(i)].text for i in range(len(prompts))], elapsed, generated


def _sync() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data-dir", default=os.environ.get("TUSK_DATA_DIR"), help="folder with gsm8k/test.jsonl"
    )
    parser.add_argument("--model", default="smollm2-135m", help="hf target (default: the SmolLM2 GGUF)")
    parser.add_argument(
        "--gpu-random-1b", action="store_true", help="use a random-weight Llama-shaped 1.1B model"
    )
    parser.add_argument("--prompts", type=int, default=64)
    parser.add_argument("--tokens", type=int, default=48, help="new tokens per prompt (fixed)")
    parser.add_argument("--batch-size", type=int, default=None, help="tusk's batch size (default: automatic)")
    parser.add_argument(
        "--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)"
    )
    parser.add_argument("--skip-per-prompt", action="store_true", help="leave out (a), the slowest method")
    parser.add_argument("--json", default="benchmarks/results/generation.json")
    args = parser.parse_args(argv)

    import torch
    import transformers
    from rich.console import Console
    from rich.table import Table

    from tusk.backends.hf import HFBackend

    console = Console()
    prompts = gsm8k_prompts(args.data_dir, args.prompts)
    with tempfile.TemporaryDirectory() as tmp:
        target = random_llama_1b(Path(tmp), args.model) if args.gpu_random_1b else args.model
        load_avg = os.getloadavg()
        backend = HFBackend(target, batch_size=args.batch_size, ignore_eos=True, threads=args.threads)
        lm, tok = backend.lm, backend.tokenizer
        console.print(
            f"model {target} on {backend.device} ({backend.dtype}); {len(prompts)} prompts x "
            f"{args.tokens} new tokens; load average {load_avg[0]:.1f}"
        )
        baseline(lm, tok, prompts[:2], 4, 2)  # warm-up: first-call allocations and kernel selection
        rows: list[dict[str, Any]] = []
        expected = len(prompts) * args.tokens
        if not args.skip_per_prompt:
            _, seconds = baseline(lm, tok, prompts, args.tokens, 1)
            rows.append({"method": "(a) per-prompt generate", "seconds": seconds, "tokens": expected})
        b_texts, seconds = baseline(lm, tok, prompts, args.tokens, 8)
        rows.append({"method": "(b) fixed batches of 8 (MAmmoTH)", "seconds": seconds, "tokens": expected})
        c_texts, seconds, generated = tusk_backend(backend, prompts, args.tokens)
        rows.append({"method": "(c) tusk hf backend", "seconds": seconds, "tokens": generated})
        load_after = os.getloadavg()
    for row in rows:
        row["tokens_per_s"] = row["tokens"] / row["seconds"]
    rate = {r["method"][:3]: r["tokens_per_s"] for r in rows}
    same = sum(x == y for x, y in zip(b_texts, c_texts))

    table = Table(title="greedy generation, same prompts, same model")
    for column in ("method", "tokens", "seconds", "tokens/s", "(c) vs this"):
        table.add_column(column, justify="left" if column == "method" else "right")
    for row in rows:
        ratio = rate["(c)"] / row["tokens_per_s"]
        table.add_row(
            row["method"],
            str(row["tokens"]),
            f"{row['seconds']:.1f}",
            f"{row['tokens_per_s']:.1f}",
            f"{ratio:.2f}x",
        )
    console.print(table)
    console.print(
        f"identical completions (b) vs (c): {same}/{len(prompts)}; load average {load_after[0]:.1f}"
    )

    result = {
        "model": target if not args.gpu_random_1b else "random Llama-shaped 1.1B",
        "device": backend.device,
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "dtype": str(backend.dtype),
        "prompts": len(prompts),
        "new_tokens": args.tokens,
        "tusk_batch_size": args.batch_size or "auto",
        "torch_threads": torch.get_num_threads(),
        "rows": rows,
        "identical_b_c": same,
        "load_average": [load_avg[0], load_after[0]],
        "versions": {
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "python": sys.version.split()[0],
        },
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
    }
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    console.print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
