"""Answer extraction and grading.

Two graders share one interface (:class:`Grader`):

- ``strict`` (default, :mod:`tusk.grading.strict`): benchmark- and mode-aware extraction, exact
  equivalence (numbers, LaTeX, tuples, intervals, sets, matrices, equations, booleans, multiple choice),
  symbolic checks in a killable process under a hard time limit;
- ``mammoth`` (:mod:`tusk.grading.mammoth`): the rules of the paper's evaluation code, for numbers that
  are comparable with the paper (lenient where that code was lenient, blind where it was blind).

Every :class:`~tusk.types.Grade` records the extracted prediction, the normalised forms compared, the rule
that decided and whether a check timed out.  A grader's ``version`` changes whenever verdicts can change;
``tusk eval`` records name and version in every summary.

Importing this package is cheap: graders are built on first :func:`get_grader` call, and sympy lives only
in the checker process.
"""

from __future__ import annotations

import importlib
import threading
from typing import Protocol, runtime_checkable

from tusk.errors import TuskError
from tusk.types import Grade, Mode, Problem

GRADERS: dict[str, str] = {
    "strict": "tusk.grading.strict:StrictGrader",
    "mammoth": "tusk.grading.mammoth:MammothGrader",
}
"""Grader name -> ``module:Class`` (imported when first asked for)."""

DEFAULT_GRADER = "strict"


@runtime_checkable
class Grader(Protocol):
    name: str
    version: str

    def extract(self, response: str, problem: Problem, mode: Mode) -> str | None:
        """The answer in a response (cot: the model's text; pot: the program's stdout); None if none."""

    def judge(self, prediction: str | None, problem: Problem) -> Grade:
        """Compare an extracted answer with the problem's gold answer."""

    def grade(self, response: str, problem: Problem, mode: Mode) -> Grade:
        """``judge(extract(response))``."""

    def equivalent(self, a: str, b: str, problem: Problem) -> bool:
        """Whether two extracted answers are the same answer (majority voting groups by this)."""


_INSTANCES: dict[str, Grader] = {}
_LOCK = threading.Lock()


def get_grader(name: str = DEFAULT_GRADER) -> Grader:
    """The grader called ``name`` (one shared instance per name); unknown names raise TuskError."""
    key = (name or DEFAULT_GRADER).strip().lower()
    if key not in GRADERS:
        raise TuskError(f"unknown grader {name!r}; choose one of {', '.join(GRADERS)}")
    with _LOCK:
        if key not in _INSTANCES:
            module_name, cls_name = GRADERS[key].split(":")
            _INSTANCES[key] = getattr(importlib.import_module(module_name), cls_name)()
        return _INSTANCES[key]


__all__ = ["DEFAULT_GRADER", "GRADERS", "Grader", "get_grader"]
