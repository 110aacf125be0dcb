"""Mixture sizes meet ``mixture.total`` when they can, and teacher-written records carry their data source."""

from __future__ import annotations

import json
import logging
import random

from tusk.backends.scripted import ScriptedBackend
from tusk.data.build import build_dataset
from tusk.data.config import parse_config
from tusk.data.manifest import check_build
from tusk.data.mixture import component_sizes
from tusk.data.sources import get_source


def test_shortfall_goes_to_components_that_have_more():
    assert component_sizes({"a": 100, "b": 2, "c": 100}, {}, {}, 10) == {"a": 4, "b": 2, "c": 4}
    # caps limit like a small component does; weights share what is left
    assert component_sizes({"a": 100, "b": 100, "c": 100}, {"b": 1}, {"a": 3.0, "c": 1.0}, 21) == {
        "a": 15, "b": 1, "c": 5}
    # largest remainder: 10 over three equal weights is 4 + 3 + 3 (ties in config order), not 3 + 3 + 3
    assert component_sizes({"a": 50, "b": 50, "c": 50}, {}, {}, 10) == {"a": 4, "b": 3, "c": 3}
    assert component_sizes({"a": 50, "b": 50, "c": 50}, {}, {}, 2) == {"a": 1, "b": 1, "c": 0}


def test_sizes_always_add_up_when_the_total_can_be_reached():
    rng = random.Random(0)
    for _ in range(500):
        names = [f"c{i}" for i in range(rng.randint(1, 5))]
        available = {n: rng.randint(0, 40) for n in names}
        caps = {n: rng.choice([None, rng.randint(0, 30)]) for n in names}
        weights = {n: rng.choice([1.0, 0.5, 2.0, 7.3]) for n in names}
        total = rng.randint(1, 120)
        sizes = component_sizes(available, caps, weights, total)
        limits = {n: available[n] if caps[n] is None else min(available[n], caps[n]) for n in names}
        assert all(0 <= sizes[n] <= limits[n] for n in names)
        assert sum(sizes.values()) == min(total, sum(limits.values()))


def test_unreachable_total_is_logged(caplog):
    with caplog.at_level(logging.WARNING, logger="tusk.data.mixture"):
        assert component_sizes({"a": 3, "b": 2}, {}, {}, 10) == {"a": 3, "b": 2}
    assert "mixture.total 10 cannot be reached: the components have only 5 examples" in caplog.text


def test_build_meets_the_total_and_teacher_records_carry_the_source(tmp_path, shared_data_dir):
    golds = {i.problem.question: i.problem.answer for i in list(get_source("gsm8k").load(data_dir=shared_data_dir))[:6]}

    def respond(request, sample):
        gold = next(a for q, a in golds.items() if q in request.prompt)
        return f"Add them up. The answer is {gold}"

    own = tmp_path / "own.jsonl"
    own.write_text("".join(json.dumps({"question": f"What is {n} plus {n}?", "answer": str(2 * n),
                                       "output": f"{n}+{n}={2 * n}. The answer is {2 * n}"}) + "\n" for n in (3, 4)))
    config = parse_config({
        "components": [
            {"source": "math", "mode": "cot", "limit": 20},
            {"source": "jsonl", "mode": "cot", "name": "own", "files": [str(own)]},
            {"source": "gsm8k", "mode": "cot", "name": "teacher-cot", "limit": 6,
             "synthesise": {"teacher": "scripted-test", "prompt": "alpaca"}},
        ],
        "decontaminate": False,
        "mixture": {"total": 10},
    })
    out = tmp_path / "b"
    build_dataset(config, out, data_dir=shared_data_dir,
                  backend_factory=lambda spec: ScriptedBackend(responder=respond))
    records = json.loads((out / "train.json").read_text())
    manifest = json.loads((out / "manifest.json").read_text())
    assert len(records) == 10
    assert manifest["mixture"] == {"total": 10, "reached": 10, "shuffle": True}
    assert manifest["counts"]["by_component"] == {"math/cot": 4, "own": 2, "teacher-cot": 4}
    teacher = [r for r in records if r["instruction"].split("\n")[0] in {q.split("\n")[0] for q in golds}]
    assert len(teacher) == 4 and {r["source"] for r in teacher} == {"gsm8k"}
    assert "teacher-cot" not in manifest["counts"]["by_source"]
    assert check_build(out) == []
