"""The ``tusk`` command: thin subcommands over library functions.

Each subcommand lives in ``tusk.commands.<name>`` and exposes ``HELP``, ``add_arguments(parser)`` and
``run(args) -> int``.  Command modules import nothing heavy at module level, so ``tusk --help`` is fast.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import signal
import sys
import threading

from tusk import __version__
from tusk.errors import TuskError

# name -> module under tusk.commands (module names avoid clashing with library packages)
COMMANDS: dict[str, str] = {
    "eval": "eval_cmd",
    "exec": "exec_cmd",
    "grade": "grade_cmd",
    "report": "report_cmd",
    "ls": "ls_cmd",
    "data": "data_cmd",
    "train": "train_cmd",
    "merge": "merge_cmd",
}


def _available_commands() -> dict[str, object]:
    modules = {}
    for name, module in COMMANDS.items():
        try:
            modules[name] = importlib.import_module(f"tusk.commands.{module}")
        except ModuleNotFoundError as exc:  # a command whose module is not written yet
            if exc.name != f"tusk.commands.{module}":
                raise
    return modules


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tusk",
        description="Hybrid CoT/PoT math: build instruction data, fine-tune, evaluate.",
    )
    parser.add_argument("--version", action="version", version=f"tusk {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module in _available_commands().items():
        p = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


class Terminated(KeyboardInterrupt):
    """SIGTERM (``timeout``, Slurm, ``docker stop``), raised where the program is so that cleanup runs:
    an evaluation writes its partial summary, a training run closes its log."""


def _terminate(signum: int, frame: object) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a second SIGTERM ends the process at once
    raise Terminated


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    on_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminate) if on_main_thread else None
    try:
        return int(args._run(args) or 0)
    except TuskError as exc:
        print(f"tusk: error: {exc}", file=sys.stderr)
        return 2
    except Terminated:
        print("tusk: terminated", file=sys.stderr)
        return 128 + signal.SIGTERM
    except KeyboardInterrupt:
        print("tusk: interrupted", file=sys.stderr)
        return 130
    finally:
        if on_main_thread:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
