"""tusk's packaged smoke set: loads with no data folder and no network, and is well-formed."""

from __future__ import annotations

import json
import re
from importlib import resources

import pytest

from tusk.benchmarks import load_problems
from tusk.benchmarks.smoke import read_smoke
from tusk.errors import DataError
from tusk.prompts import render_choices, split_choice


def test_smoke_loads_offline_without_a_data_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("TUSK_DATA_DIR", str(tmp_path / "nothing-here"))
    monkeypatch.setenv("TUSK_OFFLINE", "1")
    monkeypatch.setenv("TUSK_DATA_URL", "http://127.0.0.1:9/unreachable")
    problems = load_problems("smoke")
    assert len(problems) == 35
    assert len({p.id for p in problems}) == 35
    assert all(p.id.startswith("smoke/") and p.benchmark == "smoke" for p in problems)


def test_smoke_is_varied_and_well_formed():
    problems = load_problems("smoke")
    mc = [p for p in problems if p.choices]
    assert len(mc) == 8
    for p in mc:
        assert render_choices(p.choices).startswith("\nAnswer Choices: (A) ")
        assert p.answer in [split_choice(c)[0] for c in p.choices]
    free = [p for p in problems if not p.choices]
    assert sum("\\" in p.answer for p in free) >= 3  # some LaTeX golds
    assert all(re.fullmatch(r"-?\d+(\.\d+)?", p.answer) or "\\" in p.answer for p in free)
    topics = {p.meta["topic"] for p in problems}
    assert {"arithmetic", "fractions", "percentages", "algebra", "multiple_choice"} <= topics


def test_smoke_file_is_package_data():
    text = resources.files("tusk").joinpath("resources/smoke.jsonl").read_text(encoding="utf-8")
    assert len([json.loads(line) for line in text.splitlines() if line.strip()]) == 35


def test_smoke_reader_rejects_duplicates_and_bad_golds(tmp_path):
    path = tmp_path / "s.jsonl"
    path.write_text('{"id": "a", "question": "q", "answer": "1"}\n{"id": "a", "question": "q", "answer": "2"}\n')
    with pytest.raises(DataError, match="s.jsonl line 2: duplicate id 'a'"):
        read_smoke([(path, "s.jsonl")])
    path.write_text('{"id": "a", "question": "q", "answer": "E", "choices": ["A)1", "B)2"]}\n')
    with pytest.raises(DataError, match="s.jsonl line 1: answer 'E' is not one of the choices"):
        read_smoke([(path, "s.jsonl")])
