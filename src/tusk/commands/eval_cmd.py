"""``tusk eval``: evaluate a model on benchmarks; writes RUN_DIR/summary.json and samples.jsonl."""

from __future__ import annotations

import argparse

from tusk.errors import TuskError

HELP = "evaluate a model on math benchmarks (CoT, PoT or hybrid decoding); reruns resume"


def _shard(value: str) -> tuple[int, int]:
    try:
        i, n = (int(x) for x in value.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--shard expects i/n such as 0/4, got {value!r}") from None
    return i, n


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default="", help="model spec: built-in name, PATH.gguf, hf:DIR, openai:MODEL@URL, "
                   "vllm:ID (default: the embedded qwen2.5-coder-0.5b)")
    p.add_argument("--benchmarks", default="smoke", help="comma-separated names (tusk ls benchmarks); 'paper' "
                   "stands for the nine of the paper (anywhere in the list); repeats count once; default: smoke")
    p.add_argument("--mode", choices=("cot", "pot", "hybrid"), default="cot", help="decoding mode (default cot)")
    p.add_argument("--out", default="runs/latest", help="run directory (default: runs/latest); rerunning with it resumes; "
                   "settings that change results must match")
    p.add_argument("--limit", type=int, help="only the first N problems of each benchmark")
    p.add_argument("--shard", type=_shard, help="i/n: only every n-th problem from the i-th (merge with tusk merge)")
    p.add_argument("--data-dir", help="folder with the benchmark files (else TUSK_DATA_DIR, cache, download)")
    p.add_argument("--prompt", choices=("auto", "alpaca", "chat"), default="auto",
                   help="alpaca (paper), chat (model's chat template) or auto (what suits the model)")
    p.add_argument("--max-tokens", type=int, default=1024, help="maximum new tokens per generation")
    p.add_argument("--temperature", type=float, default=0.0, help="0 = greedy (default)")
    p.add_argument("--top-p", type=float, default=1.0)
    p.add_argument("--samples", type=int, default=1, help="samples per problem; >1 = self-consistency vote")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--grader", choices=("strict", "mammoth"), default="strict")
    p.add_argument("--timeout", type=float, default=5.0, help="seconds per program in the sandbox")
    p.add_argument("--workers", type=int, help="sandbox worker processes")
    p.add_argument("--chunk-size", type=int, help="problems sent to the backend at once (default: what the backend "
                   "prefers: hf twice its batch size, openai 4x its concurrency, vllm 1024, llamacpp 16)")
    p.add_argument("--cache", metavar="DIR|FILE.sqlite", help="reuse finished generations stored in DIR (its "
                   "generations.sqlite) or FILE.sqlite, keyed by model, prompt and sampling: regrade or change "
                   "decoding without regenerating")
    p.add_argument("--threads", type=int, help="CPU threads for local backends (llamacpp, hf); default: all cores")
    p.add_argument("--backend-option", action="append", default=[], metavar="KEY=VALUE",
                   help="an option for the backend's constructor (repeatable), e.g. n_ctx=8192, batch_size=16")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def _backend_options(args: argparse.Namespace) -> dict:
    import yaml

    options = {}
    for item in args.backend_option:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise TuskError(f"--backend-option expects KEY=VALUE, got {item!r}")
        options[key.strip()] = yaml.safe_load(value)  # numbers, booleans and strings as written
    if args.threads is not None:
        if args.threads < 1:
            raise TuskError(f"--threads must be at least 1, got {args.threads}")
        options["threads"] = args.threads
    return options


def _say_where_the_partial_run_is(out: str) -> None:
    """After an interrupt: where the partial summary is, how many problems it holds, and how to resume."""
    import sys
    from pathlib import Path

    path = Path(out) / "summary.json"
    try:
        from tusk.report import load_summary

        summary = load_summary(out) if path.exists() else None
    except TuskError:
        summary = None
    if not summary or not summary["benchmarks"]:
        print(f"tusk: no problem was stored in {out} yet; rerun the same command to start again", file=sys.stderr)
        return
    counts = {name: entry.get("n", 0) for name, entry in summary["benchmarks"].items()}
    each = ", ".join(f"{name} {n}" for name, n in counts.items())
    print(f"tusk: partial summary in {path}: {sum(counts.values())} problems stored ({each}); rerun the same "
          "command to resume (stored problems are not redone)", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    from tusk.commands import result_console
    from tusk.evaluate import EvalConfig, evaluate
    from tusk.report import render_details, render_table

    names = tuple(n.strip() for n in args.benchmarks.split(",") if n.strip())  # 'paper' is expanded by evaluate
    if not names:
        raise TuskError("--benchmarks is empty")
    config = EvalConfig(
        model=args.model, benchmarks=names, mode=args.mode, out=args.out, limit=args.limit, shard=args.shard,
        data_dir=args.data_dir, prompt=args.prompt, max_tokens=args.max_tokens, temperature=args.temperature,
        top_p=args.top_p, samples=args.samples, seed=args.seed, grader=args.grader, timeout=args.timeout,
        workers=args.workers, chunk_size=args.chunk_size, backend_options=_backend_options(args),
    )
    # settings are checked before the model is loaded and the cache opened
    try:
        summary = evaluate(config, progress=not args.no_progress, cache=args.cache or None)
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM: evaluate wrote a partial summary of what was stored
        _say_where_the_partial_run_is(args.out)
        raise
    console = result_console()
    console.print(render_details(summary))
    console.print(render_table([(summary["model"], summary)]))
    console.print(f"results in {args.out}/summary.json and {args.out}/samples.jsonl")
    return 0

