"""Choose how many examples each component contributes, and which ones (seeded, reproducible).

A component's size is its ``cap`` (or all it has); with ``mixture.total`` set, sizes are proportional to the
components' weights, each limited by what the component has.  Chosen examples keep their input order within a
component; with ``shuffle`` the final list is shuffled with the build seed.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import TypeVar

T = TypeVar("T")


def component_sizes(
    available: Mapping[str, int], caps: Mapping[str, int | None], weights: Mapping[str, float], total: int | None
) -> dict[str, int]:
    sizes = {name: n if caps.get(name) is None else min(n, int(caps[name])) for name, n in available.items()}
    if total is None:
        return sizes
    weight_sum = sum(weights.get(name, 1.0) for name in available) or 1.0
    return {
        name: min(sizes[name], round(total * weights.get(name, 1.0) / weight_sum)) for name in available
    }


def choose(items: Sequence[T], size: int, seed: int, salt: str) -> list[T]:
    """``size`` items (all when it is not smaller), sampled with a seed per component, in input order."""
    if size >= len(items):
        return list(items)
    rng = random.Random(f"{seed}/{salt}")
    picked = sorted(rng.sample(range(len(items)), size))
    return [items[i] for i in picked]


def shuffled(items: Sequence[T], seed: int) -> list[T]:
    out = list(items)
    random.Random(seed).shuffle(out)
    return out
