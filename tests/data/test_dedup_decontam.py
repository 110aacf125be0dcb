"""Deduplication and decontamination on hand-written cases and on the real evaluation sets."""

from __future__ import annotations

import random

from tusk.data.decontaminate import DecontamConfig, evaluation_problems, find_contamination, ngrams
from tusk.data.dedup import DedupConfig, deduplicate, near_duplicates
from tusk.data.sources import get_source
from tusk.types import Problem

Q = "Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May. How many clips?"


def test_exact_duplicates_ignore_case_punctuation_and_spacing():
    texts = [Q, Q.upper().replace(",", ""), "  " + Q + "  ", "Something else entirely about trains."]
    result = deduplicate(texts, ["a", "a", "b", "c"], DedupConfig(near_threshold=None))
    assert result.keep == (0, 3)
    reasons = {d.index: (d.reason, d.kept) for d in result.dropped}
    assert reasons == {1: ("exact-pair", 0), 2: ("exact", 0)}


def test_max_per_instruction_keeps_several_different_outputs():
    texts = [Q, Q, Q, Q]
    outputs = ["print(72)", "print(48 + 24)", "print(72)", "x = 72\nprint(x)"]
    result = deduplicate(texts, outputs, DedupConfig(max_per_instruction=2, near_threshold=None))
    assert result.keep == (0, 1)
    assert result.counts() == {"exact-pair": 1, "exact": 1, "near": 0}


def test_near_duplicates_found_and_distinct_questions_kept():
    variant = Q.replace("How many clips?", "How many clips did she sell?")
    other = "A train leaves at 3 pm going 60 km per hour; when does it arrive 180 km away?"
    result = deduplicate([Q, other, variant], config=DedupConfig(near_threshold=0.8))
    assert result.keep == (0, 1)
    (drop,) = result.dropped
    assert drop.index == 2 and drop.kept == 0 and drop.reason == "near" and 0.8 <= drop.similarity < 1


def test_near_duplicate_search_is_deterministic_and_finds_planted_pairs():
    rng = random.Random(3)
    vocab = [f"w{i}" for i in range(5000)]
    base = [" ".join(rng.choice(vocab) for _ in range(40)) for _ in range(2000)]
    planted = []
    for i in range(0, 2000, 50):  # change one word near the end: Jaccard about 0.9
        tokens = base[i].split()
        tokens[-2] = "changed"
        planted.append(" ".join(tokens))
    texts = base + planted
    config = DedupConfig(near_threshold=0.85)
    found = near_duplicates(texts, config)
    assert found == near_duplicates(texts, config)
    expected = {2000 + k: i for k, i in enumerate(range(0, 2000, 50))}
    assert {j: found[j][0] for j in expected if j in found} == {j: i for j, i in expected.items() if j in found}
    assert len([j for j in expected if j in found]) >= 0.95 * len(expected)
    assert all(j in expected for j in found)  # random texts are not near-duplicates of each other


def _p(pid: str, question: str, benchmark: str = "gsm8k") -> Problem:
    return Problem(id=pid, benchmark=benchmark, question=question, answer="1")


def test_overlap_threshold_and_report():
    problems = [_p("gsm8k/1", Q), _p("svamp/9", "Jack has 5 apples and eats 2 of them. How many are left?", "svamp")]
    texts = [
        Q + " Let's write a program.",  # the test question plus the PoT trigger
        "Natalia sold clips to 48 of her friends in April. Then something quite different happened to every one of them on the next day at school.",
        "Jack has 5 apples and eats 2 of them. How many are left?",
        "A completely unrelated question about the area of a circle with radius 3.",
    ]
    matches = find_contamination(texts, problems, DecontamConfig(ngram=5, threshold=0.5))
    assert [(m.index, m.problem_id) for m in matches] == [(0, "gsm8k/1"), (2, "svamp/9")]
    assert matches[0].overlap == 1.0 and matches[1].benchmark == "svamp"
    assert ngrams("a b", 5) == {("a", "b")} and ngrams("", 5) == set()


def test_real_evaluation_sets_catch_their_own_questions(shared_data_dir):
    problems = evaluation_problems(data_dir=shared_data_dir)
    assert {p.benchmark for p in problems} == {
        "gsm8k", "math", "aqua", "numglue", "svamp", "deepmind", "simuleq", "sat", "mmlu_math"
    }
    numglue = [i.problem.question for i in get_source("numglue").load(data_dir=shared_data_dir)]
    gsm8k_train = [i.problem.question for i in get_source("gsm8k").load(data_dir=shared_data_dir)][:2000]
    matches = find_contamination(numglue + gsm8k_train, problems)
    flagged = {m.index for m in matches}
    assert set(range(len(numglue))) <= flagged  # the NumGLUE eval set is entirely contaminated
    assert len(flagged - set(range(len(numglue)))) < 20  # GSM8K train barely overlaps GSM8K test


def test_exact_key_keeps_math_symbols():
    texts = ["Solve $x+5<3$.", "Solve $x+5>3$.", "Compute $(-1)^5$.", "Compute $1^5$.",
             "Find $2n + 1$ when $n=2$.", "Find $2n - 1$ when $n=2$.", "Solve  $x+5<3$ ."]
    result = deduplicate(texts, ["a"] * len(texts), DedupConfig(near_threshold=None))
    assert result.keep == (0, 1, 2, 3, 4, 5)
    assert [(d.index, d.kept, d.reason) for d in result.dropped] == [(6, 0, "exact-pair")]


def test_different_gold_answers_are_never_duplicates():
    texts = [Q, Q, Q, Q]
    result = deduplicate(texts, ["a", "a", "a", "a"], DedupConfig(near_threshold=None), answers=["72", "70", "", " 72"])
    assert result.keep == (0, 1)
    assert {(d.index, d.kept) for d in result.dropped} == {(2, 0), (3, 0)}
    # near duplicates: one number changed, different answers -> both kept; same (or missing) answer -> dropped
    sibling = Q.replace("48", "50")
    config = DedupConfig(near_threshold=0.6)
    assert deduplicate([Q, sibling], config=config, answers=["72", "75"]).keep == (0, 1)
    assert deduplicate([Q, sibling], config=config, answers=["72", ""]).keep == (0,)
    assert deduplicate([Q, sibling], config=config).keep == (0,)
    # a chain through a question without a gold never joins two different golds
    third = Q.replace("48", "52")
    golds = ["72", "", "78"]
    result = deduplicate([Q, sibling, third], config=DedupConfig(near_threshold=0.5), answers=golds)
    assert len(result.keep) == 2 and 0 in result.keep
    assert all({golds[d.index], golds[d.kept]} != {"72", "78"} for d in result.dropped)


def test_near_dedup_ignores_asymptote_drawing_code():
    asy = ("[asy] size(150); draw((0,0)--(10,0)--(10,10)--(0,10)--cycle); label(\"$A$\",(0,0),SW); "
           "label(\"$B$\",(10,0),SE); label(\"$C$\",(10,10),NE); label(\"$D$\",(0,10),NW); "
           "draw((0,0)--(10,10)); draw((10,0)--(0,10)); dot((5,5)); [/asy]")
    first = f"In square $ABCD$ shown, what is the perimeter? {asy}"
    second = f"In square $ABCD$ shown, what is the area of triangle $ABC$? {asy}"
    assert deduplicate([first, second], config=DedupConfig(near_threshold=0.9)).keep == (0, 1)
    other_drawing = first.replace("size(150)", "size(200)").replace("dot((5,5));", "")
    assert near_duplicates([first, other_drawing], DedupConfig(near_threshold=0.9)) == {1: (0, 1.0)}


def test_short_evaluation_question_found_inside_a_longer_training_text():
    problems = [_p("math/48", "Simplify $(9-4i)-(-3-4i)$.", "math"), _p("dm/1", "Calculate 5 + 3.", "deepmind")]
    texts = [
        "Simplify $(9-4i)-(-3-4i)$. Show your steps.",                 # suffix
        "Question: Simplify $(9-4i) - (-3-4i)$. Let's write a program.",  # prefix, other spacing
        "Simplify $(9+4i)-(3-4i)$. Show your steps.",                  # same words, other symbols
        "Calculate 5 + 3. Let's write a Python program.",
        "Calculate 5 + 37 apples and pears together.",                  # a window, but not the whole question
    ]
    matches = find_contamination(texts, problems, DecontamConfig(ngram=8, threshold=0.5))
    assert [(m.index, m.problem_id, m.overlap) for m in matches] == [(0, "math/48", 1.0), (1, "math/48", 1.0),
                                                                      (3, "dm/1", 1.0)]


ASY_GRID = ("[asy] size(150); real ticklen=3; real tickspace=2; real ticklength=0.1cm; real axisarrowsize=0.14cm; "
            "pen axispen=black+1.3bp; real vectorarrowsize=0.2cm; real tickdown=-0.5; real tickdownlength=-0.15inch; "
            "real tickdownbase=0.3; real wholetickdown=tickdown; void rr_cartesian_axes(real xleft, real xright, "
            "real ybottom, real ytop, real xstep=1, real ystep=1, bool useticks=false) { import graph; } [/asy]")


def test_drawing_code_and_answer_format_sentences_are_not_evidence():
    problems = [
        _p("math/a", f"The red parabola shown is the graph of the equation $x = ay^2 + by + c$. Find $a+b+c$. {ASY_GRID}",
           "math"),
        _p("math/b", "Find the equation of the plane containing the points $(0,-1,-1),$ $(-4,4,4),$ and $(4,5,1).$  "
           "Enter your answer in the form \\[Ax + By + Cz + D = 0,\\]where $A,$ $B,$ $C,$ $D$ are integers such "
           "that $A > 0$ and $\\gcd(|A|,|B|,|C|,|D|) = 1.$", "math"),
    ]
    texts = [
        (f"The graphs of two functions, $p(x)$ and $q(x),$ are shown here on one set of axes: {ASY_GRID} "
        "What is the sum of the nine values of $q(p(x))$ evaluated at each of these points?"),
        ("Find the equation of the plane passing through the point $(0,7,-7)$ and containing the line "
        "\\[\\frac{x + 1}{-3} = \\frac{y - 3}{2} = \\frac{z + 2}{1}.\\]Enter your answer in the form "
        "\\[Ax + By + Cz + D = 0,\\]where $A,$ $B,$ $C,$ $D$ are integers such that $A > 0$ and "
        "$\\gcd(|A|,|B|,|C|,|D|) = 1.$"),
        problems[0].question,  # verbatim copies are still caught
        problems[1].question + " Let's write a program.",
    ]
    matches = find_contamination(texts, problems, DecontamConfig(ngram=8, threshold=0.5))
    assert [(m.index, m.problem_id) for m in matches] == [(2, "math/a"), (3, "math/b")]
