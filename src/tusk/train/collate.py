"""Turn one micro-batch (example indices) into model inputs and next-token targets.

Targets are already shifted: ``targets[t]`` is the token that position ``t`` must predict, or -100.  They
are built per example before examples are joined, so the last token of one example never "predicts" the
first token of the next, and padding is masked by length (never by comparing ids with the pad id, which
may equal EOS: the trained EOS keeps its label).

- packed: rows of at most ``row_tokens`` tokens (first-fit decreasing; one row when None) holding examples
  back to back, ``position_ids`` restarting at 0 for each example and no attention mask; transformers turns restarting position ids into per-example attention (flash-attention
  varlen, or a block-diagonal causal mask for sdpa / eager / flex in transformers 5).
- padded: one row per example, right-padded, with an attention mask.

``keep`` is a boolean (rows, width) mask of the positions that have a target (for ``logits_to_keep``): the
vocabulary projection and the loss then run on trained positions only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from tusk.train.masking import EncodedData


@dataclass(frozen=True)
class MicroBatch:
    input_ids: Any
    targets: Any
    position_ids: Any | None
    attention_mask: Any | None
    keep: Any
    target_tokens: int
    tokens: int


def shifted_targets(ids: np.ndarray, n_masked: int) -> np.ndarray:
    targets = np.full(len(ids), -100, dtype=np.int64)
    targets[n_masked - 1 : -1] = ids[n_masked:]
    return targets


def pack_rows(lengths: list[int], capacity: int | None) -> list[list[int]]:
    """First-fit decreasing: positions (into ``lengths``) grouped into rows of at most ``capacity`` tokens."""
    if capacity is None:
        return [list(range(len(lengths)))]
    rows: list[list[int]] = []
    room: list[int] = []
    for i in sorted(range(len(lengths)), key=lambda k: (-lengths[k], k)):
        for r, free in enumerate(room):
            if lengths[i] <= free:
                rows[r].append(i)
                room[r] -= lengths[i]
                break
        else:
            rows.append([i])
            room.append(capacity - lengths[i])
    return [sorted(row) for row in rows]


def collate(data: EncodedData, indices: tuple[int, ...], packing: bool, pad_id: int,
            row_tokens: int | None = None) -> MicroBatch:
    """Model inputs for the examples ``indices``; with packing, rows hold at most ``row_tokens`` tokens
    (None: one row), so attention cost stays bounded by the row length."""
    import torch

    if not indices:  # an empty slot: one token, nothing to learn, but it still joins the collectives
        one = torch.tensor([[pad_id]], dtype=torch.long)
        return MicroBatch(one, torch.full_like(one, -100), torch.zeros_like(one), None,
                          torch.zeros_like(one, dtype=torch.bool), 0, 0)
    pieces = [data.ids[i] for i in indices]
    targets = [shifted_targets(data.ids[i], int(data.n_masked[i])) for i in indices]
    n_targets = int(sum(int((t != -100).sum()) for t in targets))
    tokens = int(sum(len(p) for p in pieces))
    if packing:
        rows = pack_rows([len(p) for p in pieces], row_tokens)
        width = max(sum(len(pieces[i]) for i in row) for row in rows)
        ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
        tgt = torch.full((len(rows), width), -100, dtype=torch.long)
        pos = torch.zeros((len(rows), width), dtype=torch.long)
        for r, row in enumerate(rows):
            at = 0
            for i in row:
                n = len(pieces[i])
                ids[r, at : at + n] = torch.from_numpy(pieces[i].astype(np.int64))
                tgt[r, at : at + n] = torch.from_numpy(targets[i])
                pos[r, at : at + n] = torch.arange(n)
                at += n
            pos[r, at:] = torch.arange(width - at)  # the padded tail is a sequence of its own, never trained
        return MicroBatch(ids, tgt, pos, None, tgt != -100, n_targets, tokens)
    width = max(len(p) for p in pieces)
    ids = torch.full((len(pieces), width), pad_id, dtype=torch.long)
    tgt = torch.full((len(pieces), width), -100, dtype=torch.long)
    mask = torch.zeros((len(pieces), width), dtype=torch.long)
    for row, (piece, target) in enumerate(zip(pieces, targets)):
        ids[row, : len(piece)] = torch.from_numpy(piece.astype(np.int64))
        tgt[row, : len(piece)] = torch.from_numpy(target)
        mask[row, : len(piece)] = 1
    return MicroBatch(ids, tgt, None, mask, tgt != -100, n_targets, tokens)
