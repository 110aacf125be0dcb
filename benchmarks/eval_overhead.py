"""Harness overhead of ``tusk eval``: total time over pure generation time for the same prompts, same run.

Both passes use one llama.cpp model instance and the same prompts in the same order with greedy decoding, so
they generate the same tokens:

  (a) baseline: ``Llama.create_completion`` called in a plain loop (pure generation);
  (b) tusk:     ``tusk.evaluate.evaluate`` (prompting, decoding, grading, fsynced run store, progress off).

The problems are split into blocks and the passes alternate block by block, first one then the other
((a) then (b) on block 1, (b) then (a) on block 2, ...), so a change in machine load during the run hits both
passes alike.  Pass (b) evaluates
block k by resuming the same run directory with a larger ``limit``, so resume costs are part of its time.
One untimed completion first pays llama.cpp's cold start, and the model's state (its cached prompt tokens) is
reset before every timed pass, so neither pass reuses a prompt the other just processed.  llama.cpp models
only (``--model`` a built-in name, a ``.gguf`` path or ``llamacpp:...``).

    python benchmarks/eval_overhead.py --n 50 --data-dir ../shared/data

Prints a table and writes JSON (``--json``, default benchmarks/results/eval_overhead.json).  Target: harness
overhead under 10%.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from bench_common import existing_dir, positive_int, run_main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=positive_int, default=50, help="GSM8K problems")
    parser.add_argument("--model", default="qwen2.5-coder-0.5b", help="a llama.cpp model")
    parser.add_argument("--benchmark", default="gsm8k")
    parser.add_argument("--max-tokens", type=positive_int, default=384)
    parser.add_argument("--data-dir", type=existing_dir, default=None)
    parser.add_argument(
        "--blocks", type=positive_int, default=5, help="alternate the passes over this many blocks"
    )
    parser.add_argument(
        "--threads", type=positive_int, default=None, help="llama.cpp threads (default: all cores)"
    )
    parser.add_argument("--json", default=str(Path(__file__).parent / "results" / "eval_overhead.json"))
    args = parser.parse_args(argv)

    from tusk.backends import parse_model_spec

    if parse_model_spec(args.model).backend != "llamacpp":
        parser.error(f"--model {args.model}: pass (a) calls llama.cpp directly, so give a llama.cpp model")

    from rich.console import Console
    from rich.table import Table

    from tusk.backends import load_backend
    from tusk.benchmarks import load_problems
    from tusk.evaluate import EvalConfig, evaluate
    from tusk.prompts import build_prompt, stop_strings

    problems = load_problems(args.benchmark, data_dir=args.data_dir, limit=args.n)
    options = {"threads": args.threads} if args.threads else {}
    backend = load_backend(args.model, **options)
    style = backend.preferred_prompt
    stops = list(stop_strings(style)) or None
    size = -(-len(problems) // args.blocks)
    llm = backend._llm
    # untimed warm-up: llama.cpp's first completion pays one-off costs (buffers, first kernels)
    llm.create_completion(build_prompt(problems[0], "cot", style, chat=backend.chat_prompt), max_tokens=4,
                          temperature=0.0)
    totals = {"baseline": 0.0, "harness": 0.0, "baseline_tokens": 0}
    summary: dict = {}
    per_block: list[dict] = []  # each block's seconds per pass, to judge the noise

    def pure_generation(block: list) -> None:  # (a), in the order tusk's llama.cpp backend uses (sorted prompts)
        prompts = sorted(build_prompt(p, "cot", style, chat=backend.chat_prompt) for p in block)
        llm.reset()  # no prompt cached from the previous pass
        t0 = time.perf_counter()
        for prompt in prompts:
            out = llm.create_completion(prompt, max_tokens=args.max_tokens, temperature=0.0, stop=stops)
            totals["baseline_tokens"] += out["usage"]["completion_tokens"]
        totals["baseline"] += time.perf_counter() - t0

    def harness_pass(out_dir: str, end: int) -> None:  # (b), resuming the run with a larger limit
        config = EvalConfig(
            model=args.model, benchmarks=(args.benchmark,), out=out_dir, limit=end,
            data_dir=args.data_dir, max_tokens=args.max_tokens, chunk_size=size, backend_options=options,
        )
        llm.reset()
        t0 = time.perf_counter()
        summary.update(evaluate(config, backend=backend, progress=False))
        totals["harness"] += time.perf_counter() - t0

    with tempfile.TemporaryDirectory() as out_dir:
        for k, start in enumerate(range(0, len(problems), size)):
            block = problems[start : start + size]
            before = dict(totals)
            for run_a in (k % 2 == 0, k % 2 == 1):  # (a) (b), then (b) (a), ...: a drift in load hits both alike
                if run_a:
                    pure_generation(block)
                else:
                    harness_pass(out_dir, start + len(block))
            per_block.append({"problems": len(block), "first": "a" if k % 2 == 0 else "b",
                              "a_seconds": round(totals["baseline"] - before["baseline"], 3),
                              "b_seconds": round(totals["harness"] - before["harness"], 3)})
    baseline, harness, baseline_tokens = totals["baseline"], totals["harness"], totals["baseline_tokens"]
    tusk_tokens = summary["tokens"]["completion"]
    backend.close()

    result = {
        "model": args.model,
        "benchmark": args.benchmark,
        "problems": len(problems),
        "max_tokens": args.max_tokens,
        "blocks": args.blocks,
        "threads": args.threads,
        "baseline_seconds": baseline,
        "tusk_seconds": harness,
        "baseline_completion_tokens": baseline_tokens,
        "tusk_completion_tokens": tusk_tokens,
        "problems_per_second": len(problems) / harness,
        "tokens_per_second": tusk_tokens / harness,
        "overhead": harness / baseline - 1,
        "per_block": per_block,
        "accuracy": summary["benchmarks"][args.benchmark]["accuracy"],
    }
    table = Table(title=f"tusk eval harness overhead ({len(problems)} {args.benchmark} problems, {args.model})")
    for column in ("pass", "seconds", "gen tokens", "tokens/s", "problems/s"):
        table.add_column(column, justify="right")
    table.add_row("(a) pure generation", f"{baseline:.1f}", str(baseline_tokens), f"{baseline_tokens / baseline:.1f}",
                  f"{len(problems) / baseline:.3f}")
    table.add_row("(b) tusk eval", f"{harness:.1f}", str(tusk_tokens), f"{tusk_tokens / harness:.1f}",
                  f"{len(problems) / harness:.3f}")
    console = Console()
    console.print(table)
    console.print(f"harness overhead: {100 * result['overhead']:+.1f}%  accuracy {100 * result['accuracy']:.1f}%")
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    console.print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
