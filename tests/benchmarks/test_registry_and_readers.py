"""The registry's API, and the small formats shared by the readers."""

from __future__ import annotations

import pytest

from tusk.benchmarks import BENCHMARKS, PAPER_BENCHMARKS, Benchmark, get_benchmark, load_problems
from tusk.benchmarks.readers import format_gold, last_boxed, split_answer_choices
from tusk.errors import DataError, TuskError


def test_registry_order_and_domains():
    assert list(BENCHMARKS) == [*PAPER_BENCHMARKS, "theoremqa", "math500", "smoke"]
    domains = {name: b.domain for name, b in BENCHMARKS.items()}
    assert [domains[n] for n in PAPER_BENCHMARKS] == ["in"] * 4 + ["out"] * 5
    assert domains["theoremqa"] == domains["math500"] == "extra" and domains["smoke"] == "smoke"
    for name, bench in BENCHMARKS.items():
        assert isinstance(bench, Benchmark) and bench.name == name and bench.description
        assert bench.answer_type in ("number", "latex", "choice", "expression", "mixed")
        assert all(f.sha256 and f.relpath for f in bench.files)
    assert BENCHMARKS["smoke"].files == ()


def test_get_benchmark_unknown_lists_known_names():
    assert get_benchmark("MMLU-Math") is BENCHMARKS["mmlu_math"]
    with pytest.raises(TuskError) as info:
        get_benchmark("gsm9k")
    assert "unknown benchmark 'gsm9k'" in str(info.value)
    assert all(name in str(info.value) for name in BENCHMARKS)


def test_load_problems_limit():
    assert [p.id for p in load_problems("smoke", limit=2)] == ["smoke/apples", "smoke/egg-boxes"]
    assert load_problems("smoke", limit=0) == []
    with pytest.raises(TuskError):
        load_problems("smoke", limit=-1)


@pytest.mark.parametrize("value, gold", [
    (3, "3"), (51.0, "51"), (-2.75, "-2.75"), (4e-05, "0.00004"), (True, "True"), (False, "False"),
    ([0, 5], "[0, 5]"), ([2.0, 1.32], "[2, 1.32]"), (" 1363.0 ", "1363.0"), ("[2, 3]", "[2, 3]"),
    (1e20, "100000000000000000000"),
])
def test_format_gold(value, gold):
    assert format_gold(value) == gold


@pytest.mark.parametrize("text, boxed", [
    ("so $\\boxed{\\frac{1}{2}}$.", "\\frac{1}{2}"),
    ("\\boxed{1} then \\boxed{\\{1, 2\\}}", "\\{1, 2\\}"),
    ("answer $\\boxed 2$.", "2"),
    ("\\fbox{x+1}", "x+1"),
    ("\\boxed{unclosed", None),
    ("no box", None),
    ("\\boxed{}", ""),
])
def test_last_boxed(text, boxed):
    assert last_boxed(text) == boxed


def test_split_answer_choices():
    stem, choices = split_answer_choices("Pick one? \nAnswer Choices: (A) f(x) (B) $-1$ (C) none.", "f line 1")
    assert stem == "Pick one?" and choices == ("A)f(x)", "B)$-1$", "C)none.")
    assert split_answer_choices("  plain  ", "w") == ("plain", ())
    with pytest.raises(DataError, match="f line 9: cannot read the answer choices"):
        split_answer_choices("Q\nAnswer Choices: A or B", "f line 9")
