"""Flag training examples whose question overlaps an evaluation question (word n-gram overlap).

Each evaluation question is cut into lower-cased word n-grams (a question shorter than ``n`` words is one
n-gram).  A training text's overlap with an evaluation question is ``shared n-grams / min(n-grams of the two)``;
the training example is contaminated when its best overlap reaches ``threshold``.  Every match is reported
with the benchmark, the evaluation problem id and the overlap, so a reviewer can check it.

Guarantees: exact set arithmetic (no sampling), deterministic, linear in the number of training n-grams
(one dict lookup each).  Does not: detect paraphrases with different words, or numbers changed inside
otherwise identical text beyond what the n-gram overlap shows (lower ``n`` / ``threshold`` to be stricter).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from tusk.data.text import words
from tusk.types import Problem

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DecontamConfig:
    benchmarks: tuple[str, ...] = ()
    """evaluation sets to check against; empty = the paper's nine"""
    ngram: int = 8
    """words per n-gram"""
    threshold: float = 0.5
    """overlap (shared / smaller n-gram count) at or above which an example is contaminated"""


@dataclass(frozen=True)
class ContaminationMatch:
    index: int
    benchmark: str
    problem_id: str
    overlap: float
    shared: int


def ngrams(text: str, n: int) -> set[tuple[str, ...]]:
    tokens = words(text)
    if not tokens:
        return set()
    if len(tokens) < n:
        return {tuple(tokens)}
    return {tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)}


class NgramIndex:
    """n-gram -> evaluation problems containing it, over a fixed set of evaluation problems."""

    def __init__(self, problems: Sequence[Problem], n: int):
        self.n = n
        self.problems = list(problems)
        self.sizes: list[int] = []
        self.postings: dict[tuple[str, ...], list[int]] = {}
        for pid, problem in enumerate(self.problems):
            grams = ngrams(problem.question, n)
            self.sizes.append(len(grams))
            for gram in grams:
                self.postings.setdefault(gram, []).append(pid)

    def best_match(self, text: str) -> tuple[int, float, int] | None:
        """(problem index, overlap, shared n-grams) of the most overlapping evaluation problem, or None."""
        grams = ngrams(text, self.n)
        if not grams:
            return None
        hits: Counter[int] = Counter()
        postings = self.postings
        for gram in grams:
            found = postings.get(gram)
            if found:
                hits.update(found)
        if not hits:
            return None
        best, best_overlap, best_shared = -1, -1.0, 0
        for pid, shared in hits.items():
            overlap = shared / min(len(grams), self.sizes[pid])
            if overlap > best_overlap or (overlap == best_overlap and pid < best):
                best, best_overlap, best_shared = pid, overlap, shared
        return best, best_overlap, best_shared


def evaluation_problems(
    benchmarks: Iterable[str] = (), data_dir: str | Path | None = None
) -> list[Problem]:
    """The evaluation questions to check against (default: the paper's nine)."""
    from tusk.benchmarks import PAPER_BENCHMARKS, load_problems

    names = tuple(benchmarks) or PAPER_BENCHMARKS
    problems: list[Problem] = []
    for name in names:
        problems.extend(load_problems(name, data_dir=data_dir))
    return problems


def find_contamination(
    texts: Sequence[str],
    problems: Sequence[Problem],
    config: DecontamConfig = DecontamConfig(),
    progress: Callable[[int], None] | None = None,
) -> list[ContaminationMatch]:
    """Matches (one per contaminated text, its best evaluation problem) in input order."""
    index = NgramIndex(problems, config.ngram)
    matches = []
    for i, text in enumerate(texts):
        found = index.best_match(text)
        if found and found[1] >= config.threshold:
            problem = index.problems[found[0]]
            matches.append(ContaminationMatch(i, problem.benchmark, problem.id, round(found[1], 4), found[2]))
        if progress and (i + 1) % 1000 == 0:
            progress(1000)
    if progress:
        progress(len(texts) % 1000)
    log.info("decontamination: %d of %d texts overlap an evaluation question", len(matches), len(texts))
    return matches
