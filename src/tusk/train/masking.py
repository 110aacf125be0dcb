"""Tokenise training examples and mark which tokens are trained (the response) and which are not (the prompt).

The text of one example is ``alpaca_prompt(instruction, input) + output``, tokenised once as a whole; the
end-of-sequence token is appended by id and trained.  The prompt is masked by *character offsets* of that
single tokenisation: a token is a target when any of its characters belong to the response (its end offset
is past the prompt, or it starts at or after the prompt's end).  A token that straddles the boundary (BPE
merged the prompt's last characters with the response's first ones) is therefore trained, so no response
character is ever silently dropped from the loss; such merges are counted in the stats.

Guarantees: the mask is a prefix (``n_masked`` leading tokens); every kept example has at least one target
token; truncation to ``max_length`` is counted (EOS lost) and examples whose response is cut off entirely
are dropped and counted; padding never enters here, so ``pad == eos`` cannot hide the EOS label.
Does not: batch, pad or pack (see :mod:`tusk.train.plan` and :mod:`tusk.train.collate`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tusk.errors import TuskError
from tusk.prompts import alpaca_prompt
from tusk.types import TrainingExample

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EncodingStats:
    examples: int
    kept: int
    truncated: int
    dropped: int
    boundary_merges: int
    tokens: int
    target_tokens: int

    def summary(self) -> str:
        return (
            f"{self.kept}/{self.examples} examples, {self.tokens} tokens ({self.target_tokens} trained); "
            f"{self.truncated} truncated, {self.dropped} dropped (response cut off), "
            f"{self.boundary_merges} prompt/response boundary merges"
        )


@dataclass(frozen=True)
class EncodedData:
    """Token ids per kept example (int32 arrays) and how many leading tokens of each are masked."""

    ids: tuple[np.ndarray, ...]
    n_masked: np.ndarray
    source_index: np.ndarray
    stats: EncodingStats

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def lengths(self) -> np.ndarray:
        return np.fromiter((len(a) for a in self.ids), dtype=np.int64, count=len(self.ids))

    def target_tokens(self, index: int) -> int:
        """Tokens whose *next-token prediction* is trained: positions n_masked-1 .. len-2."""
        return len(self.ids[index]) - int(self.n_masked[index])


def training_text(example: TrainingExample) -> tuple[str, str]:
    """``(prompt, full_text)``: the evaluation prompt and the prompt followed by the response."""
    prompt = alpaca_prompt(example.instruction, example.input)
    return prompt, prompt + example.output


def first_target_token(offsets: Sequence[tuple[int, int]], prompt_chars: int) -> int:
    """Index of the first token holding a response character (``len(offsets)`` if there is none)."""
    for index, (start, end) in enumerate(offsets):
        if end > prompt_chars or (start >= prompt_chars and end >= prompt_chars and end > 0):
            return index
    return len(offsets)


def encode_examples(
    tokenizer: Any,
    examples: Sequence[TrainingExample],
    max_length: int,
    batch: int = 1024,
) -> EncodedData:
    """Tokenise and mask ``examples`` with a fast (offset-reporting) HF tokenizer."""
    if not getattr(tokenizer, "is_fast", False):
        raise TuskError("training needs a fast tokenizer (one that reports character offsets)")
    eos = tokenizer.eos_token_id
    if eos is None:
        raise TuskError("the tokenizer has no EOS token; training would never learn to stop")
    ids_out: list[np.ndarray] = []
    masked: list[int] = []
    kept_from: list[int] = []
    truncated = dropped = merges = tokens = targets = 0
    for start in range(0, len(examples), batch):
        chunk = examples[start : start + batch]
        pairs = [training_text(example) for example in chunk]
        encoded = tokenizer(
            [full for _, full in pairs],
            add_special_tokens=True,
            return_offsets_mapping=True,
            return_attention_mask=False,
        )
        for offset, (prompt, _), ids, offsets in zip(
            range(start, start + len(chunk)), pairs, encoded["input_ids"], encoded["offset_mapping"]
        ):
            ids = list(ids)
            offsets = list(offsets)
            # a tokenizer configured to add EOS itself reports it with an empty span at the end
            if not (ids and ids[-1] == eos and offsets[-1][0] == offsets[-1][1]):
                ids.append(eos)
                offsets.append((len(prompt) + 1, len(prompt) + 1))  # after all text: a target
            n_masked = first_target_token(offsets, len(prompt))
            if n_masked == 0:
                n_masked = 1  # the first token has no prediction before it; nothing to train on it
            if n_masked < len(offsets) and offsets[n_masked][0] < len(prompt):
                merges += 1
            if len(ids) > max_length:
                truncated += 1
                ids = ids[:max_length]
            if n_masked >= len(ids):
                dropped += 1
                continue
            ids_out.append(np.asarray(ids, dtype=np.int32))
            masked.append(n_masked)
            kept_from.append(offset)
            tokens += len(ids)
            targets += len(ids) - n_masked
    stats = EncodingStats(
        examples=len(examples),
        kept=len(ids_out),
        truncated=truncated,
        dropped=dropped,
        boundary_merges=merges,
        tokens=tokens,
        target_tokens=targets,
    )
    log.info("tokenised: %s", stats.summary())
    if not ids_out:
        raise TuskError(f"no trainable examples left after tokenisation: {stats.summary()}; every response is "
                        f"cut off by max_length {max_length}: raise max_length")
    return EncodedData(
        ids=tuple(ids_out),
        n_masked=np.asarray(masked, dtype=np.int64),
        source_index=np.asarray(kept_from, dtype=np.int64),
        stats=stats,
    )


def labels_for(ids: np.ndarray, n_masked: int) -> np.ndarray:
    """Unshifted labels (HF convention): -100 for the masked prompt, the token id elsewhere."""
    labels = ids.astype(np.int64).copy()
    labels[:n_masked] = -100
    return labels
