"""``tusk report``: paper-style tables for one or more runs, and an optional HTML report."""

from __future__ import annotations

import argparse

HELP = "show runs as a paper-style table (in-domain / out-of-domain averages); --html writes a report"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("runs", nargs="+", metavar="RUN_DIR", help="run directories written by tusk eval")
    p.add_argument("--html", metavar="FILE", help="also write a self-contained HTML report")
    p.add_argument("--details", action="store_true",
                   help="per-benchmark counts for each run, with a 95%% (Wilson) interval for each accuracy")
    p.add_argument("--compare", action="store_true",
                   help="compare each run with the first, paired by problem: accuracy change, problems gained "
                        "and lost, exact McNemar p-value")
    p.add_argument("--paper", metavar="MODELS", nargs="?", const="all",
                   help="add the paper's MAmmoTH results (hybrid decoding) as reference rows, over the runs' "
                        "benchmarks: all (the default), or a comma list such as 7b,coder-7b")


def run(args: argparse.Namespace) -> int:
    from tusk.commands import result_console
    from tusk.errors import TuskError
    from tusk.report import load_summary, render_comparison, render_details, render_table
    from tusk.report_html import write_html

    if args.compare and len(args.runs) < 2:
        raise TuskError("--compare needs at least two run directories (each is compared with the first)")
    summaries = [(run_dir, load_summary(run_dir)) for run_dir in args.runs]
    references = []
    note = ""
    if args.paper:
        from tusk.paper_results import PAPER_COLUMNS, paper_models, paper_summaries

        benchmarks = [b for _, summary in summaries for b in summary["benchmarks"]]
        references = paper_summaries(paper_models(args.paper), benchmarks)
        covered = {frozenset(b for b in summary["benchmarks"] if b in PAPER_COLUMNS) for _, summary in summaries}
        if len(covered) > 1:
            note = ("note: the runs cover different paper benchmarks; the paper rows average over all of them "
                    "(compare each run's own columns)")
    console = result_console()
    if args.details:
        for _, summary in summaries:
            console.print(render_details(summary))
    console.print(render_table([*summaries, *references]))
    if note:
        console.print(note)
    if args.compare:
        from tusk.compare import compare_runs

        for run_dir in args.runs[1:]:
            console.print(render_comparison(args.runs[0], run_dir, compare_runs(args.runs[0], run_dir)))
    if args.html:
        path = write_html(args.runs, args.html, references=references, compare=args.compare)
        console.print(f"wrote {path}")
    return 0
