"""Small helpers shared by the benchmark scripts (benchmarks/ is on sys.path when a benchmark runs as a script).

- :func:`evenly_spaced`: indices of ``n`` items spread evenly over a whole list (a baseline's subset);
- :func:`positive_int`, :func:`non_negative_int`, :func:`positive_float`, :func:`existing_dir`: argparse
  ``type=`` checks, so a bad option is one ``error:`` line before any work starts;
- :func:`run_main`: runs a script's ``main`` and turns a :class:`tusk.errors.TuskError` into one
  ``error:`` line and exit status 2 instead of a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path


def evenly_spaced(length: int, n: int) -> list[int]:
    """``min(n, length)`` distinct indices into a list of ``length`` items, spread evenly over all of it.

    Index ``i`` is the middle of the ``i``-th of ``n`` equal stretches, so the first and the last stretch
    are represented alike (a tail of the list gets its share).
    """
    if n >= length:
        return list(range(length))
    return [int((i + 0.5) * length / n) for i in range(n)]


def pick(items: Sequence, n: int) -> list:
    """The items at :func:`evenly_spaced` indices."""
    return [items[i] for i in evenly_spaced(len(items), n)]


def _int_at_least(text: str, minimum: int, rule: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"must be {rule}, got {value}")
    return value


def positive_int(text: str) -> int:
    return _int_at_least(text, 1, "at least 1")


def non_negative_int(text: str) -> int:
    return _int_at_least(text, 0, "0 or more")


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, got {text}")
    return value


def existing_dir(text: str) -> str:
    if not Path(text).is_dir():
        raise argparse.ArgumentTypeError(f"no such folder: {text}")
    return text


def run_main(main: Callable[..., int | None], argv: list[str] | None = None) -> int:
    """``main(argv)``'s exit status; a TuskError becomes ``<script>: error: <message>`` on stderr and status 2."""
    from tusk.errors import TuskError

    try:
        return int(main(argv) or 0)
    except TuskError as exc:
        message = " ".join(str(exc).split()) or type(exc).__name__
        print(f"{Path(sys.argv[0]).name}: error: {message}", file=sys.stderr)
        return 2
