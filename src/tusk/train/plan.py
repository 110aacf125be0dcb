"""Which examples go into which micro-batch on which device at every optimizer step.

The plan is a pure function of (example lengths, seed, batch size, world size, accumulation, packing), so
every process computes the same plan without talking to the others, and a resumed run continues with the
same data order.  Each epoch visits the examples in a seeded permutation; each optimizer step takes the
next ``batch_size`` of them (the last step of an epoch may be smaller) and spreads them over
``world_size * grad_accum`` slots; slot ``micro * world_size + rank`` is micro-batch ``micro`` of ``rank``.

- packing: slots are filled longest-first onto the slot with the fewest tokens (balanced compute).
- padding: examples are sorted by length and cut into contiguous groups (length-grouped, little padding).

Guarantees: every example of the step lands in exactly one slot; ``target_tokens`` is the step's global
count of trained tokens, the denominator of the per-token loss on every device and micro-batch.
Does not: touch tensors (see :mod:`tusk.train.collate`).
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class StepPlan:
    step: int
    epoch: int
    slots: tuple[tuple[int, ...], ...]
    target_tokens: int
    tokens: int

    def micro_batches(self, rank: int, world_size: int) -> list[tuple[int, ...]]:
        """The example indices of each micro-batch of ``rank``, in order."""
        return [self.slots[i] for i in range(rank, len(self.slots), world_size)]


@dataclass(frozen=True)
class DataPlan:
    lengths: np.ndarray
    targets: np.ndarray
    batch_size: int
    world_size: int = 1
    grad_accum: int = 1
    packing: bool = True
    seed: int = 42

    @property
    def steps_per_epoch(self) -> int:
        return math.ceil(len(self.lengths) / self.batch_size)

    def total_steps(self, epochs: float, max_steps: int = 0) -> int:
        if max_steps > 0:
            return max_steps
        return max(1, math.ceil(epochs * self.steps_per_epoch))

    def order(self, epoch: int) -> np.ndarray:
        rng = np.random.default_rng([self.seed, epoch])
        return rng.permutation(len(self.lengths))

    def step(self, step: int) -> StepPlan:
        epoch, within = divmod(step, self.steps_per_epoch)
        chosen = self.order(epoch)[within * self.batch_size : (within + 1) * self.batch_size]
        n_slots = self.world_size * self.grad_accum
        if self.packing:
            slots = _balance(chosen, self.lengths, n_slots)
        else:
            slots = _group_by_length(chosen, self.lengths, n_slots)
        return StepPlan(
            step=step,
            epoch=epoch,
            slots=slots,
            target_tokens=int(self.targets[chosen].sum()),
            tokens=int(self.lengths[chosen].sum()),
        )


def _balance(chosen: np.ndarray, lengths: np.ndarray, n_slots: int) -> tuple[tuple[int, ...], ...]:
    """Longest-processing-time-first: each example onto the slot with the fewest tokens so far."""
    heap = [(0, slot) for slot in range(n_slots)]
    members: list[list[int]] = [[] for _ in range(n_slots)]
    for index in sorted(chosen.tolist(), key=lambda i: (-int(lengths[i]), i)):
        load, slot = heapq.heappop(heap)
        members[slot].append(index)
        heapq.heappush(heap, (load + int(lengths[index]), slot))
    return tuple(tuple(sorted(m)) for m in members)


def _group_by_length(chosen: np.ndarray, lengths: np.ndarray, n_slots: int) -> tuple[tuple[int, ...], ...]:
    """Sort by length and cut into ``n_slots`` contiguous groups whose sizes differ by at most one."""
    ordered = sorted(chosen.tolist(), key=lambda i: (int(lengths[i]), i))
    base, extra = divmod(len(ordered), n_slots)
    slots, start = [], 0
    for slot in range(n_slots):
        size = base + (1 if slot < extra else 0)
        slots.append(tuple(ordered[start : start + size]))
        start += size
    return tuple(slots)
