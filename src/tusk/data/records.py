"""What the data builder passes between its stages.

A :class:`SourceItem` is one upstream record read by a source loader: the gradable
:class:`~tusk.types.Problem` (question, gold answer, choices; ``benchmark`` names the evaluation set whose
grading rules fit it) and, when the upstream file has one, the human-written rationale as a
:class:`~tusk.types.TrainingExample`.  A :class:`Candidate` is a training example on its way through the
pipeline, tied to the problem it answers and to the mixture component it belongs to.
"""

from __future__ import annotations

from dataclasses import dataclass

from tusk.types import Mode, Problem, TrainingExample


@dataclass(frozen=True)
class SourceItem:
    """One upstream record: a problem to grade against, and the human rationale if there is one."""

    problem: Problem
    example: TrainingExample | None = None


@dataclass(frozen=True)
class Candidate:
    """A training example with the problem it answers, its component, and how it was made.

    ``component`` is ``"<source>/<mode>"`` (or the name given in the build config); ``origin`` is
    ``"human"`` for upstream rationales and ``"synthetic"`` for teacher outputs; ``key`` is unique within a
    build and stable across reruns.
    """

    key: str
    component: str
    origin: str
    problem: Problem
    example: TrainingExample

    @property
    def mode(self) -> Mode:
        return self.example.mode
