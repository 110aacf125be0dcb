"""The :class:`Benchmark` object: one evaluation set, the data files it reads, and how to read them.

A benchmark is one object (never a string compared in several places): its name, its domain in the paper's
split, the record count the paper reports, the pinned files it reads (:class:`tusk.datasets.DataFile`) and a
reader that turns those files into :class:`~tusk.types.Problem` values.  ``load`` finds the files through
:func:`tusk.datasets.resolve_file` (data folder, cache, pinned download) and calls the reader.

Guarantees: problems come back in upstream order with ids ``<benchmark>/<upstream id or 0-based index>``;
a count that differs from ``expected_count`` is logged as a warning (the user may point at another copy).
Does not: cache parsed problems, shuffle, or filter.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tusk.datasets import DATA_FILES, DataFile, resolve_file
from tusk.types import Domain, Problem

log = logging.getLogger(__name__)

Reader = Callable[[Sequence[tuple[Path, str]]], list[Problem]]
"""Turns ``(local path, relpath)`` pairs, one per file of the benchmark, into problems."""


@dataclass(frozen=True)
class Benchmark:
    """One evaluation set; ``load`` returns its problems.  ``tusk ls benchmarks`` lists these fields."""

    name: str
    domain: Domain
    """The paper's split: "in" / "out" of domain, "extra" (TheoremQA, MATH-500) or "smoke"."""
    description: str
    expected_count: int
    """The paper's record count (what the upstream files hold)."""
    answer_type: str
    """Informational: "number" | "latex" | "choice" | "expression" | "mixed"."""
    files: tuple[DataFile, ...]
    reader: Reader = field(repr=False, compare=False)
    """How the files become problems (given ``(local path, relpath)`` pairs in ``files`` order)."""

    def load(self, data_dir: str | Path | None = None) -> list[Problem]:
        """Every problem of the benchmark, in upstream order (files found as :func:`resolve_file` does)."""
        paths = [(resolve_file(f.relpath, data_dir), f.relpath) for f in self.files]
        problems = self.reader(paths)
        if len(problems) != self.expected_count:
            log.warning("%s: read %d problems, the paper's set has %d", self.name, len(problems),
                        self.expected_count)
        return problems


def pinned(*relpaths: str) -> tuple[DataFile, ...]:
    """The pinned :class:`DataFile` entries for ``relpaths`` (a typo fails at import, in tests)."""
    return tuple(DATA_FILES[r] for r in relpaths)
