"""``tusk data build --config FILE --out DIR``, ``tusk data check DIR`` and ``tusk data stats DIR``: thin
wrappers over :mod:`tusk.data`."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

HELP = "build MathInstruct-style hybrid CoT/PoT training data, or describe a built dataset"


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    b = sub.add_parser("build", help="sources -> synthesise -> verify -> dedup -> decontaminate -> train.json",
                       description="Build train.json and manifest.json from a YAML config (see configs/data/). "
                       "Rerunning with the same --out resumes from its caches.")
    b.add_argument("--config", required=True, help="YAML build config")
    b.add_argument("--out", required=True, help="output folder (train.json, manifest.json, reports, caches)")
    b.add_argument("--data-dir", help="folder with the source and benchmark files (else TUSK_DATA_DIR, cache)")
    b.add_argument("--no-progress", action="store_true", help="no progress bars")
    c = sub.add_parser("check", help="recompute a build's counts and hashes (inputs, evaluation files, review "
                       "files, exports, config) and compare them with its manifest")
    c.add_argument("dir", help="a folder written by tusk data build")
    c.add_argument("--skip-inputs", action="store_true", help="do not re-hash the input files")
    s = sub.add_parser("stats", help="mixture table, length distributions and PNG plots of a built dataset")
    s.add_argument("dir", help="a folder written by tusk data build (or a train.json)")
    s.add_argument("--tokenizer", help="count tokens with a built-in model's vocabulary (e.g. qwen2.5-coder-0.5b), "
                   "a .gguf file, or a Hugging Face tokenizer available offline (default: count words)")
    s.add_argument("--plots", help="where to write PNG plots (default DIR/plots)")
    s.add_argument("--json", action="store_true", help="print the statistics as JSON instead of a table")


def run(args: argparse.Namespace) -> int:
    if args.data_command == "build":
        return _build(args)
    if args.data_command == "check":
        return _check(args)
    return _stats(args)


def _check(args: argparse.Namespace) -> int:
    from tusk.data.manifest import check_build

    notes: list[str] = []
    problems = check_build(args.dir, check_inputs=not args.skip_inputs, notes=notes)
    for problem in problems:
        print(f"{args.dir}: {problem}")
    for note in notes:
        print(f"{args.dir}: not checked: {note}")
    if not problems:
        print(f"{args.dir}: manifest matches train.json and its inputs"
              + (f" (except {len(notes)} record(s) it lacks, listed above)" if notes else ""))
    return 1 if problems else 0


def _build(args: argparse.Namespace) -> int:
    from rich.table import Table

    from tusk.commands import result_console
    from tusk.data.build import build_dataset
    from tusk.data.config import load_config

    config = load_config(args.config)
    result = build_dataset(config, args.out, data_dir=args.data_dir, show_progress=not args.no_progress)
    table = Table(title=f"{result.records} records -> {Path(args.out) / 'train.json'}")
    table.add_column("component", no_wrap=True)
    for column in ("problems", "cand.", "verified", "unverif.", "pass", "dedup", "contam.", "chosen"):
        table.add_column(column, justify="right")
    for name, s in result.manifest["components"].items():
        rate = s["verification"]["pass_rate"]
        table.add_row(name, str(s["problems"]), str(s["candidates"]), str(s["verified"]), str(s.get("unverified", 0)),
                      "-" if rate is None else f"{rate:.1%}", str(s["dedup_dropped"]), str(s["contaminated"]),
                      str(s["selected"]))
    result_console().print(table)
    return 0


def _stats(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from rich.table import Table

    from tusk.commands import result_console
    from tusk.data.stats import dataset_stats, plot_lengths, read_dataset, token_counter

    folder = Path(args.dir)
    records = read_dataset(folder)
    count, unit = token_counter(args.tokenizer)
    stats, lengths = dataset_stats(records, count)
    plots_dir = Path(args.plots) if args.plots else (folder if folder.is_dir() else folder.parent) / "plots"
    plots = plot_lengths(lengths, unit, plots_dir)
    if args.json:
        print(json.dumps({"unit": unit, "records": len(records), "groups": [asdict(s) for s in stats],
                          "plots": [str(p) for p in plots]}, indent=1))
        return 0
    table = Table(title=f"{len(records)} records; lengths in {unit}")
    table.add_column("source/mode", no_wrap=True)
    for column in ("records", "share", "instr. mean", "instr. p90", "out mean", "out p50", "out p90", "out p99",
                   "out max"):
        table.add_column(column, justify="right")
    for s in stats:
        table.add_row(s.name, str(s.records), f"{s.share:.1%}", f"{s.instruction.mean:.0f}",
                      f"{s.instruction.p90:.0f}", f"{s.output.mean:.0f}", f"{s.output.p50:.0f}",
                      f"{s.output.p90:.0f}", f"{s.output.p99:.0f}", str(s.output.max))
    console = result_console()
    console.print(table)
    console.print("plots: " + ", ".join(str(p) for p in plots))
    return 0
