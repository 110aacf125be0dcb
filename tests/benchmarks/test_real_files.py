"""Every benchmark against the real upstream files: counts, ids, golds, choices."""

from __future__ import annotations

import re

import pytest

from tusk.benchmarks import BENCHMARKS, PAPER_BENCHMARKS, load_problems
from tusk.benchmarks.mmlu_math import load_raw_csv
from tusk.prompts import render_choices, split_choice

PAPER_COUNTS = {
    "gsm8k": 1319, "math": 5000, "aqua": 254, "numglue": 1042, "svamp": 1000, "deepmind": 1000,
    "simuleq": 514, "sat": 220, "mmlu_math": 974, "theoremqa": 800, "math500": 500,
}

_CACHE: dict[str, list] = {}


def problems(name, data_dir):
    if name not in _CACHE:
        _CACHE[name] = load_problems(name, data_dir)
    return _CACHE[name]


def by_id(name, data_dir):
    return {p.id: p for p in problems(name, data_dir)}


@pytest.mark.parametrize("name", list(PAPER_COUNTS))
def test_record_count_is_the_papers(name, shared_data_dir):
    assert len(problems(name, shared_data_dir)) == PAPER_COUNTS[name] == BENCHMARKS[name].expected_count


@pytest.mark.parametrize("name", list(PAPER_COUNTS))
def test_ids_unique_prefixed_and_stable(name, shared_data_dir):
    first = problems(name, shared_data_dir)
    ids = [p.id for p in first]
    assert len(set(ids)) == len(ids)
    assert all(p.id.startswith(f"{name}/") and p.benchmark == name for p in first)
    again = load_problems(name, shared_data_dir)  # a fresh read gives the same ids in the same order
    assert [p.id for p in again] == ids
    assert [p.answer for p in again] == [p.answer for p in first]


@pytest.mark.parametrize("name", list(PAPER_COUNTS))
def test_golds_and_questions_are_non_empty_strings(name, shared_data_dir):
    for p in problems(name, shared_data_dir):
        assert isinstance(p.answer, str) and p.answer.strip() == p.answer != "", p.id
        assert isinstance(p.question, str) and p.question.strip(), p.id
        assert "Answer Choices" not in p.question or not p.choices, p.id


@pytest.mark.parametrize("name", list(PAPER_COUNTS))
def test_choices_render_and_gold_letter_is_among_them(name, shared_data_dir):
    for p in problems(name, shared_data_dir):
        if not p.choices:
            continue
        rendered = render_choices(p.choices)
        letters = [split_choice(c)[0] for c in p.choices]
        assert rendered.startswith("\nAnswer Choices: (A) ")
        assert letters == list("ABCDE"[: len(letters)]), p.id
        assert p.answer in letters, p.id


def test_multiple_choice_counts(shared_data_dir):
    mc = {n: sum(p.is_multiple_choice for p in problems(n, shared_data_dir)) for n in PAPER_COUNTS}
    assert mc == {"gsm8k": 0, "math": 0, "aqua": 254, "numglue": 162, "svamp": 0, "deepmind": 0,
                  "simuleq": 0, "sat": 220, "mmlu_math": 974, "theoremqa": 0, "math500": 0}


def test_paper_order():
    assert PAPER_BENCHMARKS == ("gsm8k", "math", "aqua", "numglue", "svamp", "deepmind", "simuleq", "sat",
                                "mmlu_math")


def test_gsm8k(shared_data_dir):
    ps = by_id("gsm8k", shared_data_dir)
    assert ps["gsm8k/0"].answer == "18" and ps["gsm8k/0"].question.startswith("Janet’s ducks lay 16 eggs")
    assert ps["gsm8k/611"].answer == "1450000"  # upstream "#### 1,450,000"
    assert "####" not in ps["gsm8k/0"].meta["rationale"] and "16 - 3 - 4" in ps["gsm8k/0"].meta["rationale"]
    assert all(re.fullmatch(r"-?\d+", p.answer) for p in ps.values())


def test_math(shared_data_dir):
    ps = by_id("math", shared_data_dir)
    assert ps["math/test/algebra/1.json"].answer == "2"
    assert ps["math/test/algebra/2.json"].answer == "\\frac{1}{2}"
    last = ps["math/test/precalculus/24348.json"]
    assert last.answer == "1, -3" and last.meta == {**last.meta, "level": 5, "type": "Precalculus"}
    assert "\\boxed{1, -3}" in last.meta["solution"]
    assert all(p.answer.count("{") == p.answer.count("}") for p in ps.values())
    assert {p.meta["level"] for p in ps.values()} == {1, 2, 3, 4, 5}


def test_math500_is_a_subset_of_math_with_its_own_golds(shared_data_dir):
    math = by_id("math", shared_data_dir)
    subset = problems("math500", shared_data_dir)
    assert subset[0].id == "math500/test/precalculus/807.json"
    assert subset[0].answer == "\\left( 3, \\frac{\\pi}{2} \\right)"
    for p in subset:
        original = math["math/" + p.id.removeprefix("math500/")]
        assert original.question == p.question


def test_aqua(shared_data_dir):
    ps = by_id("aqua", shared_data_dir)
    first = ps["aqua/0"]
    assert first.answer == "A" and first.choices[0] == "A)5(√3 + 1)" and len(first.choices) == 5
    assert ps["aqua/1"].answer == "E" and ps["aqua/1"].choices[4] == "E)$78.20"
    assert "x = 78.20" in ps["aqua/1"].meta["rationale"]


def test_numglue(shared_data_dir):
    ps = by_id("numglue", shared_data_dir)
    assert ps["numglue/0"].answer == "1536" and ps["numglue/0"].meta["type"] == "Type_2"
    web = ps["numglue/2"]
    assert web.answer == "B" and web.choices == ("A)web", "B)tree")
    assert web.question.endswith("offers more resistance?")
    assert ps["numglue/215"].answer == "August" and not ps["numglue/215"].choices
    assert ps["numglue/1041"].answer == "7.89"
    letters = [p for p in ps.values() if p.answer in ("A", "B")]
    assert len(letters) == 162 and all(p.choices for p in letters)


def test_svamp(shared_data_dir):
    ps = by_id("svamp", shared_data_dir)
    first = ps["svamp/chal-1"]
    assert first.answer == "51"  # upstream 51.0
    assert first.question == ("Each pack of dvds costs 76 dollars. If there is a discount of 25 dollars on "
                              "each pack How much do you have to pay to buy each pack?")
    assert first.meta["equation"] == "( 76.0 - 25.0 )"
    assert all(not p.answer.endswith(".0") for p in ps.values())


def test_deepmind_keeps_upstream_strings(shared_data_dir):
    ps = by_id("deepmind", shared_data_dir)
    assert ps["deepmind/0"].answer == "2"
    assert ps["deepmind/9"].answer == "1363.0"
    assert ps["deepmind/182"].answer == "[2, 3]"
    assert ps["deepmind/90"].answer == "-20*x"
    assert ps["deepmind/292"].answer == "12 3 0"


def test_simuleq(shared_data_dir):
    ps = by_id("simuleq", shared_data_dir)
    assert ps["simuleq/0"].answer == "15" and "novelists and poets" in ps["simuleq/0"].question
    assert ps["simuleq/1"].answer == "137"
    assert all(re.fullmatch(r"-?\d+(\.\d+)?", p.answer) for p in ps.values())


def test_sat(shared_data_dir):
    ps = by_id("sat", shared_data_dir)
    first = ps["sat/0"]
    assert first.answer == "D" and first.choices == ("A)2", "B)4", "C)9", "D)10")
    assert first.question == "If $\\frac{x-1}{3}=k$ and $k=3$, what is the value of $x$ ?"
    assert ps["sat/1"].choices[0] == "A)$-1+12 i$" and ps["sat/1"].answer == "A"
    assert all(len(p.choices) == 4 for p in ps.values())


def test_mmlu_math(shared_data_dir):
    ps = problems("mmlu_math", shared_data_dir)
    assert ps[0].question == "What is the value of p in 24 = 2p?"
    assert ps[0].choices == ("A)p = 4", "B)p = 8", "C)p = 12", "D)p = 24") and ps[0].answer == "C"
    subjects = {}
    for p in ps:
        subjects[p.meta["subject"]] = subjects.get(p.meta["subject"], 0) + 1
    assert subjects == {"elementary_mathematics": 378, "high_school_mathematics": 270,
                        "college_mathematics": 100, "abstract_algebra": 100, "formal_logic": 126}


def test_mmlu_raw_csv_matches_the_json(shared_data_dir):
    raw = load_raw_csv(shared_data_dir, "test")
    assert raw == problems("mmlu_math", shared_data_dir)
    assert len(load_raw_csv(shared_data_dir, "dev")) == 25
    assert len(load_raw_csv(shared_data_dir, "val")) == 11 + 11 + 41 + 14 + 29


def test_theoremqa(shared_data_dir):
    ps = by_id("theoremqa", shared_data_dir)
    lah = ps["theoremqa/jianyu_xu/Lah_number_6.json"]
    assert lah.answer == "11760" and lah.meta["answer_type"] == "integer" and lah.meta["field"] == "Math"
    assert ps["theoremqa/maxku/graphtheory6-shortestpath.json"].answer == "[0, 5]"
    assert ps["theoremqa/elainewan/math_algebra_3.json"].answer == "False"
    assert ps["theoremqa/xinyi/fisher_information_4.json"].answer == "(c)"
    assert ps["theoremqa/tonyxia/atom1.json"].answer == "0.00004"  # upstream 4e-05
    assert sum(1 for p in ps.values() if p.meta["picture"]) == 53
