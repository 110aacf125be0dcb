from __future__ import annotations

import math

import pytest

from tusk.compare import POOLED, compare_records, mcnemar_p, wilson_interval
from tusk.errors import DataError


def outcomes(benchmark, flags, start=0):
    return [{"id": f"{benchmark}/{start + i}", "benchmark": benchmark, "correct": bool(f)} for i, f in enumerate(flags)]


def test_wilson_interval_matches_known_values_and_stays_in_range():
    assert wilson_interval(0, 10) == (0.0, pytest.approx(0.2775, abs=1e-4))
    low, high = wilson_interval(5, 10)
    assert (low, high) == (pytest.approx(0.2366, abs=1e-4), pytest.approx(0.7634, abs=1e-4))
    low, high = wilson_interval(10, 10)
    assert high == 1.0 and low == pytest.approx(0.7225, abs=1e-4)
    assert wilson_interval(0, 0) == (0.0, 1.0)
    narrow, wide = wilson_interval(500, 1000), wilson_interval(5, 10)
    assert narrow[1] - narrow[0] < wide[1] - wide[0]  # more problems, tighter interval


def test_mcnemar_exact_p_values():
    assert mcnemar_p(0, 0) == 1.0
    assert mcnemar_p(5, 0) == pytest.approx(2 / 32)  # all five discordant pairs one way
    assert mcnemar_p(0, 5) == mcnemar_p(5, 0)
    assert mcnemar_p(5, 5) == 1.0
    expected = 2 * sum(math.comb(12, i) for i in range(3)) / 2**12
    assert mcnemar_p(10, 2) == pytest.approx(expected)
    assert mcnemar_p(40, 10) < 0.001 < mcnemar_p(8, 4)


def test_paired_comparison_counts_gains_losses_and_unpaired_problems():
    base = outcomes("gsm8k", [1, 1, 0, 0, 0]) + outcomes("svamp", [1, 0])
    other = outcomes("gsm8k", [1, 0, 1, 1, 0, 1]) + outcomes("svamp", [1])  # gsm8k/5 only in other
    rows = {c.benchmark: c for c in compare_records(base, other)}
    gsm = rows["gsm8k"]
    assert (gsm.n, gsm.base_correct, gsm.other_correct, gsm.gained, gsm.lost) == (5, 2, 3, 2, 1)
    assert (gsm.base_only, gsm.other_only) == (0, 1)
    assert gsm.delta == pytest.approx(0.2)
    svamp = rows["svamp"]
    assert (svamp.n, svamp.gained, svamp.lost, svamp.base_only) == (1, 0, 0, 1)
    pooled = rows[POOLED]
    assert (pooled.n, pooled.gained, pooled.lost, pooled.base_only, pooled.other_only) == (6, 2, 1, 1, 1)
    assert pooled.p_value == pytest.approx(mcnemar_p(2, 1))


def test_comparison_refuses_duplicate_or_malformed_samples():
    base = outcomes("gsm8k", [1, 0])
    with pytest.raises(DataError, match="appears twice"):
        compare_records(base + base[:1], base, ("run-a", "run-b"))
    with pytest.raises(DataError, match="run-b: sample 'gsm8k/0'"):
        compare_records(base, [{"id": "gsm8k/0", "benchmark": "gsm8k"}], ("run-a", "run-b"))
