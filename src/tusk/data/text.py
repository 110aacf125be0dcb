"""Text normalisation and stable hashing shared by deduplication and decontamination.

Guarantees: the same text gives the same words and hashes in every process and on every machine (CRC32 based,
never Python's salted ``hash``), so dedup and decontamination results are reproducible.
"""

from __future__ import annotations

import re
import zlib

import numpy as np

_WORD = re.compile(r"\w+")
_SPACE = re.compile(r"\s+")
# exact-dedup tokens: words, and every symbol except prose punctuation and TeX math delimiters, so
# "x+5<3" and "x+5>3" or "2n + 1" and "2n - 1" keep different keys
_KEY_TOKEN = re.compile(r"\w+|[^\w\s.,;:?\"`$]")
_ASY = re.compile(r"\[asy\].*?(?:\[/asy\]|$)", re.IGNORECASE | re.DOTALL)
_MASK64 = np.uint64(0xFFFFFFFFFFFFFFFF)


def words(text: str) -> list[str]:
    """Lower-cased word tokens (letters, digits, underscore); punctuation and spacing ignored."""
    return _WORD.findall(text.lower())


def normalise(text: str) -> str:
    """Lower-case words joined by single spaces (punctuation, symbols and spacing ignored)."""
    return " ".join(words(text))


def exact_key(text: str) -> str:
    """The key for exact duplicate detection: lower-case words and math symbols (``+ - < > ( ) ^ / = ...``)
    joined by single spaces; case, spacing, prose punctuation (``. , ; : ?`` and quotes) and ``$`` ignored."""
    return " ".join(_KEY_TOKEN.findall(text.lower()))


def strip_asy(text: str) -> str:
    """``text`` without its ``[asy]...[/asy]`` drawing code (an unclosed block runs to the end)."""
    return _ASY.sub(" ", text) if "[asy]" in text.lower() else text


def answer_key(answer: str | None) -> str:
    """A gold answer compared for "is this the same problem": lower-case, spacing and ``$`` removed."""
    return re.sub(r"[\s$]+", "", str(answer or "")).lower()


class WordHasher:
    """Stable 64-bit ids for words (CRC32 of two salts), memoised per instance."""

    def __init__(self) -> None:
        self._ids: dict[str, int] = {}

    def __call__(self, tokens: list[str]) -> np.ndarray:
        ids = self._ids
        out = np.empty(len(tokens), dtype=np.uint64)
        for i, token in enumerate(tokens):
            value = ids.get(token)
            if value is None:
                raw = token.encode("utf-8")
                value = (zlib.crc32(raw) << 32) | zlib.crc32(raw, 0x9E3779B9)
                ids[token] = value
            out[i] = value
        return out


def mix64(x: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser over a uint64 array: spreads bits so shifted combinations do not collide."""
    with np.errstate(over="ignore"):
        x = x.astype(np.uint64, copy=True)
        x ^= x >> np.uint64(30)
        x *= np.uint64(0xBF58476D1CE4E5B9)
        x ^= x >> np.uint64(27)
        x *= np.uint64(0x94D049BB133111EB)
        x ^= x >> np.uint64(31)
    return x


def shingle_hashes(word_ids: np.ndarray, n: int) -> np.ndarray:
    """Hashes of the word n-grams of one text (one hash of all words if it is shorter than ``n``)."""
    if len(word_ids) == 0:
        return np.zeros(1, dtype=np.uint64)
    n = min(n, len(word_ids))
    count = len(word_ids) - n + 1
    acc = np.zeros(count, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for k in range(n):
            acc = mix64(acc * np.uint64(0x100000001B3) ^ word_ids[k : k + count])
    return acc
