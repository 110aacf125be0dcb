"""Flag training examples whose question overlaps an evaluation question (word n-gram overlap).

Both sides are compared as lower-cased words (:func:`decontam_words`) without ``[asy]...[/asy]`` drawing code
and without the answer-format instructions that start with, e.g., "Express your answer", "Enter all the
solutions", "Give your answer", "Your answer should" (from such a sentence to the end of the text): shared
drawing code or "Enter your answer in the form (ρ,θ,φ) ..." alone says nothing about the problem.  Each
evaluation question is cut into word n-grams; a training text's overlap with an evaluation question is
``shared n-grams / min(n-grams of the two)``, and the training example is contaminated when its best overlap
reaches ``threshold``.

An evaluation question shorter than ``n`` words (e.g. "Simplify $(9-4i)-(-3-4i)$.") is one gram of all its
words; it is also looked for as a window of that many words anywhere inside longer training texts, so a copy
with a prefix or suffix ("... Let's write a program.") is caught (overlap 1).  Such a window counts only when
the question's whole text, compared without case, spaces and ``$``, also appears in the training text: words
alone drop symbols, and "Simplify $(9+4i)-(3-4i)$" is a different question.

Every match is reported with the benchmark, the evaluation problem id and the overlap, so a reviewer can check
it.  Guarantees: exact set arithmetic (no sampling), deterministic, linear in the number of training n-grams
(one dict lookup each).  Does not: detect paraphrases with different words, or numbers changed inside
otherwise identical text beyond what the n-gram overlap shows (lower ``n`` / ``threshold`` to be stricter).
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from tusk.data.text import strip_asy, words
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


_BOILERPLATE = re.compile(
    r"(?:^|(?<=[.?!:$])\s+|\n)(?:Express your answer|Enter |Give your answer|Write your answer|Round your answer|"
    r"Your answer (?:should|will|must)|Note: When entering).*\Z",
    re.DOTALL,
)
_SQUASH = re.compile(r"[\s$]+")


def decontam_text(text: str) -> str:
    """``text`` without ``[asy]`` code and trailing answer-format instructions (itself when nothing is left)."""
    stripped = _BOILERPLATE.sub("", strip_asy(text))
    return stripped if words(stripped) else text


def decontam_words(text: str) -> list[str]:
    """The words decontamination compares: see :func:`decontam_text`."""
    return words(decontam_text(text))


def squashed(text: str) -> str:
    """Lower-case text without spaces and ``$``: the form a short evaluation question must appear in."""
    return _SQUASH.sub("", text.lower())


LONG = 8
"""n-grams both stripped texts need for the stripped comparison; shorter ones are compared as written"""


def _grams(tokens: list[str], n: int) -> set[tuple[str, ...]]:
    if not tokens:
        return set()
    if len(tokens) < n:
        return {tuple(tokens)}
    return {tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)}


def ngrams(text: str, n: int) -> set[tuple[str, ...]]:
    """The n-grams of ``text`` without drawing code and answer-format instructions."""
    return _grams(decontam_words(text), n)


class NgramIndex:
    """n-gram -> evaluation problems containing it, over a fixed set of evaluation problems.

    Two indexes: of the stripped texts (:func:`decontam_words`) and of the texts as written.  A pair whose
    stripped texts both have at least :data:`LONG` n-grams is compared stripped; otherwise (a question that is
    little more than its drawing) as written, drawing code included.  Evaluation questions shorter than ``n``
    words are also indexed by their first word and length, to find them as windows inside longer texts."""

    def __init__(self, problems: Sequence[Problem], n: int):
        self.n = n
        self.problems = list(problems)
        self.sizes: list[int] = []
        self.raw_sizes: list[int] = []
        self.postings: dict[tuple[str, ...], list[int]] = {}
        self.raw_postings: dict[tuple[str, ...], list[int]] = {}
        # first word -> length -> whole short question -> problems
        self.short: dict[str, dict[int, dict[tuple[str, ...], list[int]]]] = {}
        self.short_text: dict[int, str] = {}
        for pid, problem in enumerate(self.problems):
            tokens = decontam_words(problem.question)
            grams = _grams(tokens, n)
            raw = _grams(words(problem.question), n)
            self.sizes.append(len(grams))
            self.raw_sizes.append(len(raw))
            for gram in grams:
                self.postings.setdefault(gram, []).append(pid)
            for gram in raw:
                self.raw_postings.setdefault(gram, []).append(pid)
            if 0 < len(tokens) < n:
                by_length = self.short.setdefault(tokens[0], {})
                by_length.setdefault(len(tokens), {}).setdefault(tuple(tokens), []).append(pid)
                self.short_text[pid] = squashed(decontam_text(problem.question))

    def short_matches(self, tokens: list[str], text: str) -> list[int]:
        """Short evaluation questions found whole inside a training text longer than them."""
        found: list[int] = []
        squashed_text = None
        short = self.short
        for i, token in enumerate(tokens):
            by_length = short.get(token)
            if by_length is None:
                continue
            for length, questions in by_length.items():
                if i + length > len(tokens) or length == len(tokens):
                    continue
                pids = questions.get(tuple(tokens[i : i + length]))
                if pids:
                    if squashed_text is None:
                        squashed_text = squashed(text)
                    found.extend(p for p in pids if self.short_text[p] in squashed_text)
        return found

    def best_match(self, text: str) -> tuple[int, float, int] | None:
        """(problem index, overlap, shared n-grams) of the most overlapping evaluation problem, or None."""
        tokens = decontam_words(text)
        grams = _grams(tokens, self.n)
        if not grams:
            return None
        hits: Counter[int] = Counter()
        for gram in grams:
            found = self.postings.get(gram)
            if found:
                hits.update(found)
        raw_hits: Counter[int] = Counter()
        raw_tokens = words(text)
        raw = grams if raw_tokens == tokens else _grams(raw_tokens, self.n)
        for gram in raw:
            found = self.raw_postings.get(gram)
            if found:
                raw_hits.update(found)
        long_text = len(grams) >= LONG
        best, best_overlap, best_shared = -1, -1.0, 0
        for pid in hits.keys() | raw_hits.keys():
            if long_text and self.sizes[pid] >= LONG:
                shared, overlap = hits[pid], hits[pid] / min(len(grams), self.sizes[pid])
            else:
                shared, overlap = raw_hits[pid], raw_hits[pid] / min(len(raw), self.raw_sizes[pid])
            if overlap > best_overlap or (overlap == best_overlap and pid < best):
                best, best_overlap, best_shared = pid, overlap, shared
        if best_overlap < 1.0 and self.short:
            for pid in self.short_matches(tokens, text):
                if 1.0 > best_overlap or (best_overlap == 1.0 and pid < best):
                    best, best_overlap, best_shared = pid, 1.0, 1
        if best < 0 or best_shared == 0:
            return None
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


def evaluation_files(benchmarks: Iterable[str] = (), data_dir: str | Path | None = None) -> list[dict]:
    """The files behind :func:`evaluation_problems`: benchmark, absolute path, bytes and sha256 of each."""
    from tusk.benchmarks import PAPER_BENCHMARKS, get_benchmark
    from tusk.cache import sha256_file
    from tusk.datasets import resolve_file

    out = []
    for name in tuple(benchmarks) or PAPER_BENCHMARKS:
        for data_file in get_benchmark(name).files:
            path = Path(resolve_file(data_file.relpath, data_dir)).resolve()
            out.append({"benchmark": name, "path": str(path), "bytes": path.stat().st_size,
                        "sha256": sha256_file(path)})
    return out


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
