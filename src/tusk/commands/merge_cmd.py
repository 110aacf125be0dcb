"""``tusk merge``: combine the run directories of shards (``tusk eval --shard i/n``) into one run."""

from __future__ import annotations

import argparse

HELP = "merge shard run directories into one run directory (samples + summary)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("runs", nargs="+", metavar="RUN_DIR", help="shard run directories")
    p.add_argument("--out", required=True, help="merged run directory (new or a previous merge)")


def run(args: argparse.Namespace) -> int:
    from tusk.commands import result_console
    from tusk.merge import merge_runs
    from tusk.report import render_table

    summary = merge_runs(args.runs, args.out)
    result_console().print(render_table([(args.out, summary)]))
    return 0
