"""``tusk report``: paper-style tables for one or more runs, and an optional HTML report."""

from __future__ import annotations

import argparse

HELP = "show runs as a paper-style table (in-domain / out-of-domain averages); --html writes a report"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("runs", nargs="+", metavar="RUN_DIR", help="run directories written by tusk eval")
    p.add_argument("--html", metavar="FILE", help="also write a self-contained HTML report")
    p.add_argument("--details", action="store_true", help="per-benchmark counts for each run")


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from tusk.report import load_summary, render_details, render_table, write_html

    summaries = [(run_dir, load_summary(run_dir)) for run_dir in args.runs]
    console = Console()
    if args.details:
        for _, summary in summaries:
            console.print(render_details(summary))
    console.print(render_table(summaries))
    if args.html:
        console.print(f"wrote {write_html(args.runs, args.html)}")
    return 0
