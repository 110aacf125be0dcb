"""Remove exact and near-duplicate training examples.

Exact: instructions are compared after :func:`tusk.data.text.exact_key` (case, spacing, prose punctuation and
``$`` ignored; words and math symbols such as ``+ - < > ( ) ^ / =`` kept, so ``x+5<3`` and ``x+5>3`` differ).
An example whose instruction *and* output repeat an earlier one is always dropped; beyond
``max_per_instruction`` examples per instruction (several verified programs for one question) the rest are
dropped too.  Near: MinHash signatures over word shingles (``[asy]...[/asy]`` drawing code left out), banded
LSH for candidates, then the true Jaccard similarity decides (>= ``near_threshold``); a near-duplicate
instruction is dropped with all its examples, the earliest one in input order survives.  The builder
deduplicates each mode separately, so a question's CoT and PoT versions are never duplicates of each other.

Gold answers: when given, two examples whose gold answers differ (both non-empty, compared by
:func:`tusk.data.text.answer_key`) are never duplicates, exact or near (a problem and its sibling with one
number changed are both kept); an example without a gold can be a duplicate of one with a gold.

Guarantees: deterministic (stable hashes, input order decides who survives); every drop names the example
kept in its place and the reason.  Does not: compare outputs for near-duplication, or catch paraphrases
with different wording (MinHash sees shared words only).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tusk.data.text import (
    WordHasher,
    answer_key,
    exact_key,
    mix64,
    normalise,
    shingle_hashes,
    strip_asy,
    words,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DedupConfig:
    exact: bool = True
    """drop repeated (instruction, output) pairs and instructions beyond max_per_instruction"""
    max_per_instruction: int = 1
    """how many examples (e.g. different verified programs) one instruction may keep"""
    near_threshold: float | None = 0.9
    """Jaccard similarity of word shingles at or above which instructions are near-duplicates; None: off"""
    shingle: int = 3
    """words per shingle"""
    bands: int = 16
    rows: int = 4
    """LSH: bands x rows MinHash values (more bands find lower similarities, at more comparisons)"""


@dataclass(frozen=True)
class DedupDrop:
    index: int
    kept: int
    reason: str  # "exact-pair" | "exact" | "near"
    similarity: float = 1.0


@dataclass(frozen=True)
class DedupResult:
    keep: tuple[int, ...]
    dropped: tuple[DedupDrop, ...]

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {"exact-pair": 0, "exact": 0, "near": 0}
        for drop in self.dropped:
            out[drop.reason] += 1
        return out


def deduplicate(
    instructions: Sequence[str],
    outputs: Sequence[str] | None = None,
    config: DedupConfig = DedupConfig(),
    answers: Sequence[str | None] | None = None,
) -> DedupResult:
    """Which examples to keep (indices in input order) and why the others go.

    ``answers``: the gold answer of each example ("" or None: none); examples with different golds are
    never duplicates of each other."""
    outputs = outputs if outputs is not None else [""] * len(instructions)
    golds = [answer_key(a) for a in answers] if answers is not None else [""] * len(instructions)
    dropped: list[DedupDrop] = []
    # exact key -> [representative index, gold of the group ("" until a member has one)] per gold
    groups: dict[str, list[list]] = {}
    per_group: dict[int, int] = {}
    pairs: dict[tuple[int, str], int] = {}
    group: list[int] = []  # representative (first index) of each kept example's instruction group
    survivors: list[int] = []
    for index, text in enumerate(instructions):
        gold = golds[index]
        entries = groups.setdefault(exact_key(text), [])
        entry = next((e for e in entries if not gold or not e[1] or e[1] == gold), None)
        if entry is None:
            entry = [index, gold]
            entries.append(entry)
        elif gold and not entry[1]:
            entry[1] = gold
        rep = entry[0]
        if config.exact:
            pair = (rep, normalise(outputs[index]))
            if pair in pairs:
                dropped.append(DedupDrop(index, pairs[pair], "exact-pair"))
                continue
            if per_group.get(rep, 0) >= config.max_per_instruction:
                dropped.append(DedupDrop(index, rep, "exact"))
                continue
            pairs[pair] = index
        per_group[rep] = per_group.get(rep, 0) + 1
        survivors.append(index)
        group.append(rep)
    if config.near_threshold is not None and survivors:
        reps = sorted(set(group))
        rep_gold: dict[int, str] = {}
        for index, rep in zip(survivors, group):
            if golds[index] and not rep_gold.get(rep):
                rep_gold[rep] = golds[index]
        near = near_duplicates([instructions[i] for i in reps], config, [rep_gold.get(i, "") for i in reps])
        victim = {reps[j]: (reps[k], sim) for j, (k, sim) in near.items()}
        kept = []
        for index, rep in zip(survivors, group):
            if rep in victim:
                dropped.append(DedupDrop(index, victim[rep][0], "near", victim[rep][1]))
            else:
                kept.append(index)
        survivors = kept
    dropped.sort(key=lambda d: d.index)
    return DedupResult(tuple(survivors), tuple(dropped))


class Shingles:
    """Word-shingle hashes of many texts in one flat array: text ``i`` owns ``flat[offsets[i]:offsets[i+1]]``.

    A text shorter than the shingle size has one shingle (all its words; the empty text one fixed hash).
    ``[asy]...[/asy]`` drawing code is left out (unless the text is nothing else).
    """

    def __init__(self, texts: Sequence[str], n: int):
        vocab: dict[str, int] = {}
        flat: list[int] = []
        lengths = np.empty(len(texts), dtype=np.int64)
        for i, text in enumerate(texts):
            tokens = words(strip_asy(text)) or words(text)
            lengths[i] = len(tokens)
            flat.extend([vocab.setdefault(t, len(vocab)) for t in tokens])
        word_hashes = WordHasher()(list(vocab))
        ids = word_hashes[np.asarray(flat, dtype=np.int64)] if flat else np.zeros(0, dtype=np.uint64)
        total = len(ids)
        acc = np.zeros(total, dtype=np.uint64)
        with np.errstate(over="ignore"):
            for k in range(n):
                acc[: total - k] = mix64(acc[: total - k] * np.uint64(0x100000001B3) ^ ids[k:])
        doc = np.repeat(np.arange(len(texts), dtype=np.int64), lengths)
        starts = np.concatenate(([0], np.cumsum(lengths)[:-1])).astype(np.int64)
        pos = np.arange(total, dtype=np.int64) - starts[doc] if total else np.zeros(0, dtype=np.int64)
        valid = pos <= lengths[doc] - n
        hashes, owners = acc[valid], doc[valid]
        short = np.flatnonzero(lengths < n)
        if len(short):
            extra = np.array(
                [shingle_hashes(ids[starts[i] : starts[i] + lengths[i]], n)[0] for i in short], dtype=np.uint64
            )
            order = np.argsort(np.concatenate((owners, short)), kind="stable")
            hashes = np.concatenate((hashes, extra))[order]
            owners = np.concatenate((owners, short))[order]
        counts = np.bincount(owners, minlength=len(texts))
        self.flat = hashes
        self.offsets = np.concatenate(([0], np.cumsum(counts))).astype(np.int64)

    def of(self, i: int) -> np.ndarray:
        return self.flat[self.offsets[i] : self.offsets[i + 1]]


def minhash_signatures(shingles: Shingles, num_perm: int, chunk: int = 1 << 17) -> np.ndarray:
    """MinHash signatures ``[texts, num_perm]`` (uint64) of every text's shingle set."""
    rng = np.random.default_rng(0x5EED)
    a = rng.integers(1, 2**63, size=num_perm, dtype=np.uint64) | np.uint64(1)
    b = rng.integers(0, 2**63, size=num_perm, dtype=np.uint64)
    n_texts = len(shingles.offsets) - 1
    signatures = np.empty((n_texts, num_perm), dtype=np.uint64)
    first = 0
    while first < n_texts:
        # as many whole texts as fit in about `chunk` shingles (at least one)
        last = int(np.searchsorted(shingles.offsets, shingles.offsets[first] + chunk, side="right")) - 1
        last = min(max(last, first + 1), n_texts)
        lo, hi = shingles.offsets[first], shingles.offsets[last]
        with np.errstate(over="ignore"):  # x -> a*x + b mod 2**64 (a odd) is a bijection of the mixed hashes
            permuted = shingles.flat[lo:hi, None] * a[None, :] + b[None, :]
        signatures[first:last] = np.minimum.reduceat(permuted, shingles.offsets[first:last] - lo, axis=0)
        first = last
    return signatures


def near_duplicates(
    texts: Sequence[str], config: DedupConfig, answers: Sequence[str] | None = None
) -> dict[int, tuple[int, float]]:
    """For each text that nearly duplicates an earlier one: index -> (earliest kept index, similarity).

    ``answers`` (already :func:`~tusk.data.text.answer_key` form, "" for none): texts whose answers differ are
    never joined, directly or through a chain (each group holds at most one distinct answer)."""
    n = len(texts)
    if n < 2:
        return {}
    shingles = Shingles(texts, config.shingle)
    signatures = minhash_signatures(shingles, config.bands * config.rows)
    parent = list(range(n))
    group_answer = list(answers) if answers is not None else [""] * n  # per root

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    sets: dict[int, set[int]] = {}

    def jaccard(i: int, j: int) -> float:
        si = sets.get(i)
        if si is None:
            si = sets[i] = set(shingles.of(i).tolist())
        sj = sets.get(j)
        if sj is None:
            sj = sets[j] = set(shingles.of(j).tolist())
        return len(si & sj) / len(si | sj)

    similarity: dict[int, float] = {}
    compared: set[tuple[int, int]] = set()
    for band in range(config.bands):
        cols = signatures[:, band * config.rows : (band + 1) * config.rows]
        key = np.zeros(n, dtype=np.uint64)
        with np.errstate(over="ignore"):
            for c in range(cols.shape[1]):
                key = mix64(key ^ cols[:, c])
        order = np.argsort(key, kind="stable")
        sorted_keys = key[order]
        run_starts = np.concatenate(([0], np.flatnonzero(np.diff(sorted_keys)) + 1))
        run_ends = np.append(run_starts[1:], n)
        for lo, hi in zip(run_starts[run_ends - run_starts > 1].tolist(), run_ends[run_ends - run_starts > 1].tolist()):
            run = np.sort(order[lo:hi])
            anchor = int(run[0])
            prev = anchor
            for member in run[1:].tolist():
                for other in {anchor, prev}:
                    pair = (other, member)
                    if pair in compared:
                        continue
                    compared.add(pair)
                    sim = jaccard(other, member)
                    if sim >= config.near_threshold:
                        ra, rb = find(other), find(member)
                        if ra != rb:
                            a, b = group_answer[ra], group_answer[rb]
                            if a and b and a != b:
                                continue  # different gold answers: different problems
                            parent[max(ra, rb)] = min(ra, rb)
                            group_answer[min(ra, rb)] = a or b
                        similarity[member] = max(similarity.get(member, 0.0), sim)
                prev = member
    out = {}
    for i in range(n):
        root = find(i)
        if root != i:
            out[i] = (root, round(similarity.get(i, 1.0), 4))
    log.debug("near-duplicates: %d of %d texts (%d comparisons)", len(out), n, len(compared))
    return out
