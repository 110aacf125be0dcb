"""CLI subcommands: each module parses arguments and calls one library function."""

from __future__ import annotations

from typing import Any

#: Width of tables written to a file or a pipe, where rich would otherwise cut them at 80 columns.
PIPE_WIDTH = 200


def result_console(stderr: bool = False) -> Any:
    """A rich Console for result tables: the terminal's width on a terminal, and wide enough that a table written
    to a file or a pipe keeps every column whole."""
    from rich.console import Console

    out = Console(stderr=stderr)
    if not out.is_terminal:
        out = Console(stderr=stderr, width=PIPE_WIDTH)
    return out
