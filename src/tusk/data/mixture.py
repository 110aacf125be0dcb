"""Choose how many examples each component contributes, and which ones (seeded, reproducible).

A component's size is its ``cap`` (or all it has).  With ``mixture.total`` set, the total is shared out in
proportion to the components' weights, each limited by what the component has (after its cap); a share a
component cannot fill goes to the others, in proportion to their weights, until the total is met or every
component is used up (then a warning is logged: the build holds fewer records than asked).  Fractions are
settled by the largest remainder (ties: config order), so the sizes always add up to the total when it can be
reached.  Chosen examples keep their input order within a component; with ``shuffle`` the final list is
shuffled with the build seed.
"""

from __future__ import annotations

import logging
import math
import random
from collections.abc import Mapping, Sequence
from typing import TypeVar

T = TypeVar("T")

log = logging.getLogger(__name__)


def component_sizes(
    available: Mapping[str, int], caps: Mapping[str, int | None], weights: Mapping[str, float], total: int | None
) -> dict[str, int]:
    """Examples per component (in ``available``'s order); they sum to ``total`` unless too few are available."""
    limits = {name: n if caps.get(name) is None else min(n, int(caps[name])) for name, n in available.items()}
    if total is None:
        return limits
    sizes = dict.fromkeys(limits, 0)
    remaining = total
    open_ = [name for name, limit in limits.items() if limit > 0]
    while remaining > 0 and open_:
        weight_sum = sum(weights.get(name, 1.0) for name in open_)
        quota = {name: remaining * weights.get(name, 1.0) / weight_sum for name in open_}
        full = [name for name in open_ if quota[name] >= limits[name]]
        if full:  # these take all they have; the rest of the total is shared again among the others
            for name in full:
                sizes[name] = limits[name]
                remaining -= limits[name]
            open_ = [name for name in open_ if name not in full]
            continue
        floors = {name: math.floor(quota[name]) for name in open_}
        by_remainder = sorted(open_, key=lambda name: -(quota[name] - floors[name]))  # stable: config order
        for name in by_remainder[: remaining - sum(floors.values())]:
            floors[name] += 1  # quota < limit, so floor + 1 <= limit
        sizes.update(floors)
        remaining = 0
    if remaining > 0:
        log.warning("mixture.total %d cannot be reached: the components have only %d examples", total,
                    sum(sizes.values()))
    return sizes


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
