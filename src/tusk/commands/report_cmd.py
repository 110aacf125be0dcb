"""``tusk report``: paper-style tables for one or more runs, and an optional HTML report."""

from __future__ import annotations

import argparse

HELP = "show runs as a paper-style table (in-domain / out-of-domain averages); --html writes a report"


def _count(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expects a whole number, got {value!r}") from None
    if number < 0:
        raise argparse.ArgumentTypeError(f"expects 0 or more, got {value}")
    return number


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("runs", nargs="*", metavar="RUN_DIR", help="run directories written by tusk eval")
    p.add_argument("--html", metavar="FILE", help="also write a self-contained HTML report")
    p.add_argument("--examples", metavar="N", type=_count, default=5,
                   help="wrong answers shown per benchmark and run in the HTML report (default 5)")
    p.add_argument("--details", action="store_true",
                   help="per-benchmark counts for each run, with a 95%% (Wilson) interval for each accuracy")
    p.add_argument("--compare", action="store_true",
                   help="compare each run with the first, paired by problem: accuracy change, problems gained "
                        "and lost, exact McNemar p-value")
    p.add_argument("--paper", metavar="MODELS", nargs="?", const="all",
                   help="add the paper's MAmmoTH results (hybrid decoding) as reference rows, over the runs' "
                        "benchmarks: all (the default), or a comma list such as 7b,coder-7b; put it after the run "
                        "directories or give it a value")


def _names_models(spec: str) -> bool:
    from tusk.errors import TuskError
    from tusk.paper_results import paper_models

    try:
        paper_models(spec)
    except TuskError:
        return False
    return True


def _check_runs(args: argparse.Namespace) -> None:
    """A run directory taken as the value of ``--paper`` (``tusk report --paper runs/x``) is a clear error."""
    from pathlib import Path

    from tusk.errors import TuskError

    if args.paper and Path(args.paper).is_dir() and not _names_models(args.paper):
        raise TuskError(f"--paper took the run directory {args.paper!r} as its list of models: put --paper after "
                        "the run directories, or give it a value (--paper all)")
    if not args.runs:
        raise TuskError("give at least one run directory (RUN_DIR)")


def run(args: argparse.Namespace) -> int:
    from rich.text import Text

    from tusk.commands import result_console
    from tusk.errors import TuskError
    from tusk.report import coverage_notes, load_summary, render_comparison, render_details, render_table
    from tusk.report_html import write_html

    _check_runs(args)
    if args.compare and len(args.runs) < 2:
        raise TuskError("--compare needs at least two run directories (each is compared with the first)")
    summaries = [(run_dir, load_summary(run_dir)) for run_dir in args.runs]
    references = []
    if args.paper:
        from tusk.paper_results import paper_models, paper_summaries

        benchmarks = [b for _, summary in summaries for b in summary["benchmarks"]]
        references = paper_summaries(paper_models(args.paper), benchmarks)
    comparisons = []
    if args.compare:  # before anything is printed: a run that cannot be compared is an error
        from tusk.compare import compare_runs

        comparisons = [(run_dir, compare_runs(args.runs[0], run_dir)) for run_dir in args.runs[1:]]
    console = result_console()
    if args.details:
        for run_dir, summary in summaries:
            console.print(render_details(summary, run_dir))
    console.print(render_table([*summaries, *references]))
    for note in coverage_notes(summaries, references):
        console.print(Text(note))
    for run_dir, comparison in comparisons:
        console.print(render_comparison(args.runs[0], run_dir, comparison))
    if args.html:
        path = write_html(args.runs, args.html, examples=args.examples, references=references, compare=args.compare)
        console.print(Text(f"wrote {path}"))
    return 0
