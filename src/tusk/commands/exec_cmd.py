"""``tusk exec``: run JSONL programs in the sandbox, stream JSONL results in input order.

In: one ``{"id", "code"}`` object per line (blank lines are skipped; other keys are ignored).  Out: one
``{"id", "status", "stdout", "stderr", "seconds"}`` per input line, same order, written as each result is
ready, as ASCII JSON.  A reader that goes away (``| head``) ends the run quietly, with status 0.
A malformed line (not JSON, not an object, no ``id``, ``code`` not a string) stops the run: every
line before it still gets its result, then the command exits with status 2 and a message naming the
file and line.  Progress and a status table go to stderr when it is a terminal.
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
from collections.abc import Iterator
from typing import IO, Any

HELP = "run programs (JSONL {id, code}) in the sandbox; JSONL results in the same order"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", nargs="?", default="-", help="JSONL input file, or - for stdin (default)")
    p.add_argument("--timeout", type=float, default=5.0, help="wall-clock seconds per program (default 5)")
    p.add_argument(
        "--memory",
        type=int,
        default=1024,
        help="MiB a program may allocate above the warm worker's size (default 1024)",
    )
    p.add_argument("--workers", type=int, default=None, help="programs run at once (default: CPU count)")
    p.add_argument(
        "--max-output",
        type=int,
        default=1 << 20,
        help="bytes of stdout+stderr kept per program; more ends it as output_limit (default 1 MiB)",
    )


def _programs(stream: IO[str], name: str, ids: collections.deque, problems: list[str]) -> Iterator[str]:
    for lineno, line in enumerate(stream, 1):
        if not line.strip():
            continue
        where = f"{name}, line {lineno}"
        try:
            record: Any = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(f"{where}: not valid JSON ({exc.msg})")
            return
        if not isinstance(record, dict) or "id" not in record:
            problems.append(f'{where}: expected an object with "id" and "code"')
            return
        if not isinstance(record.get("code"), str):
            problems.append(f'{where}: "code" must be a string (id {record["id"]!r})')
            return
        ids.append(record["id"])
        yield record["code"]


def run(args: argparse.Namespace) -> int:
    from tusk.errors import DataError, TuskError
    from tusk.execution import ProgramPool, SandboxLimits
    from tusk.progress import ProgressBar

    try:
        limits = SandboxLimits(timeout=args.timeout, memory_mb=args.memory, max_output=args.max_output)
    except ValueError as exc:
        message = str(exc)
        for field, option in (
            ("timeout", "--timeout"),
            ("memory_mb", "--memory"),
            ("max_output", "--max-output"),
        ):
            message = message.replace(f"SandboxLimits.{field}", option)
        raise TuskError(message) from exc
    if args.workers is not None and args.workers < 1:
        raise TuskError("--workers must be at least 1")
    name = "<stdin>" if args.file == "-" else args.file
    try:
        stream = sys.stdin if args.file == "-" else open(args.file, encoding="utf-8")  # noqa: SIM115
    except OSError as exc:
        raise DataError(f"cannot read {name}: {exc.strerror}") from exc
    ids: collections.deque = collections.deque()
    problems: list[str] = []
    counts: collections.Counter[str] = collections.Counter()
    out = sys.stdout
    reader_gone = False
    try:
        bar = ProgressBar("programs", None, unit="prog", transient=True)
        with ProgramPool(workers=args.workers, limits=limits) as pool, bar:
            for result in pool.map(_programs(stream, name, ids, problems)):
                record = {
                    "id": ids.popleft(),
                    "status": result.status,
                    "stdout": result.stdout,
                    "stderr": result.stderr,
                    "seconds": result.seconds,
                }
                try:  # ASCII: any id or output, lone surrogates included, can be written
                    out.write(json.dumps(record, ensure_ascii=True) + "\n")
                    out.flush()
                except BrokenPipeError:  # e.g. | head: stop, and stop the programs still running
                    reader_gone = True
                    break
                counts[result.status] += 1
                bar.advance()
    except UnicodeDecodeError as exc:
        raise DataError(f"{name}: not UTF-8 text ({exc.reason})") from exc
    finally:
        if stream is not sys.stdin:
            stream.close()
    if reader_gone:
        _silence_stdout()
        return 0
    _print_table(counts)
    if problems:
        raise DataError(problems[0])
    return 0


def _silence_stdout() -> None:
    """Point stdout at /dev/null so that the interpreter's final flush does not fail a second time."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


def _print_table(counts: collections.Counter[str]) -> None:
    if not sys.stderr.isatty() or not counts:
        return
    from rich.table import Table

    from tusk.commands import result_console

    table = Table(title="tusk exec")
    table.add_column("status")
    table.add_column("programs", justify="right")
    for status, n in counts.most_common():
        table.add_row(status, str(n))
    result_console(stderr=True).print(table)
