"""Turn one micro-batch (example indices) into model inputs and next-token targets.

Targets are already shifted: ``targets[t]`` is the token that position ``t`` must predict, or -100.  They
are built per example before examples are joined, so the last token of one example never "predicts" the
first token of the next, and padding is masked by length (never by comparing ids with the pad id, which
may equal EOS: the trained EOS keeps its label).

- packed: one row holding all examples back to back, ``position_ids`` restarting at 0 for each example and
  no attention mask; transformers turns restarting position ids into per-example attention (flash-attention
  varlen, or a block-diagonal causal mask for sdpa / eager / flex in transformers 5).
- padded: one row per example, right-padded, with an attention mask.

``keep`` lists the sequence positions that have a target (for ``logits_to_keep``): the vocabulary
projection and the loss then run on trained positions only.
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


def collate(data: EncodedData, indices: tuple[int, ...], packing: bool, pad_id: int) -> MicroBatch:
    import torch

    if not indices:  # an empty slot: one token, nothing to learn, but it still joins the collectives
        one = torch.tensor([[pad_id]], dtype=torch.long)
        return MicroBatch(one, torch.full_like(one, -100), torch.zeros_like(one), None,
                          torch.tensor([0]), 0, 0)
    pieces = [data.ids[i] for i in indices]
    targets = [shifted_targets(data.ids[i], int(data.n_masked[i])) for i in indices]
    n_targets = int(sum(int((t != -100).sum()) for t in targets))
    tokens = int(sum(len(p) for p in pieces))
    if packing:
        ids = torch.from_numpy(np.concatenate(pieces).astype(np.int64))[None]
        tgt = torch.from_numpy(np.concatenate(targets))[None]
        pos = torch.from_numpy(np.concatenate([np.arange(len(p)) for p in pieces]))[None]
        keep = torch.nonzero(tgt[0] != -100).flatten()
        return MicroBatch(ids, tgt, pos, None, keep, n_targets, tokens)
    width = max(len(p) for p in pieces)
    ids = torch.full((len(pieces), width), pad_id, dtype=torch.long)
    tgt = torch.full((len(pieces), width), -100, dtype=torch.long)
    mask = torch.zeros((len(pieces), width), dtype=torch.long)
    for row, (piece, target) in enumerate(zip(pieces, targets)):
        ids[row, : len(piece)] = torch.from_numpy(piece.astype(np.int64))
        tgt[row, : len(piece)] = torch.from_numpy(target)
        mask[row, : len(piece)] = 1
    keep = torch.nonzero((tgt != -100).any(dim=0)).flatten()
    return MicroBatch(ids, tgt, None, mask, keep, n_targets, tokens)
