"""tusk merge: what makes a merge complete, and merging into a previous merge."""

from __future__ import annotations

import json

import pytest

from tusk.backends.scripted import ScriptedBackend
from tusk.errors import TuskError
from tusk.evaluate import EvalConfig, evaluate
from tusk.merge import merge_runs
from tusk.store import read_samples


@pytest.fixture
def backend(smoke_answering_backend):
    return smoke_answering_backend


def run(backend, out, **settings):
    return evaluate(EvalConfig(model="scripted", out=str(out), **settings), backend, progress=False)


def test_shards_that_ran_other_limits_are_not_a_complete_merge(tmp_path, backend, caplog):
    run(backend, tmp_path / "s0", limit=6, shard=(0, 2))
    run(backend, tmp_path / "s1", limit=2, shard=(1, 2))
    merged = merge_runs([tmp_path / "s0", tmp_path / "s1"], tmp_path / "m")
    assert merged["complete"] is False and "differ in --limit" in caplog.text
    run(backend, tmp_path / "s1_full", limit=6, shard=(1, 2))
    assert merge_runs([tmp_path / "s0", tmp_path / "s1_full"], tmp_path / "ok")["complete"] is True
    config = json.loads((tmp_path / "ok/config.json").read_text())
    assert config["limits"] == {"smoke": 6} and config["limit"] == 6


def test_shards_that_ran_other_benchmarks_or_data_are_not_a_complete_merge(tmp_path, backend, smoke, caplog,
                                                                            monkeypatch):
    folder = tmp_path / "data"
    (folder / "gsm8k").mkdir(parents=True)
    rows = [{"question": f"What is {k} plus {k}?", "answer": f"#### {2 * k}"} for k in range(1, 5)]
    (folder / "gsm8k/test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    gsm8k = ScriptedBackend(responder=lambda request, i: "The answer is 2.")
    # the same files through --data-dir, TUSK_DATA_DIR and a relative path: one run's problems
    run(gsm8k, tmp_path / "g0", benchmarks=("gsm8k",), shard=(0, 3), data_dir=str(folder))
    monkeypatch.setenv("TUSK_DATA_DIR", str(folder))
    run(gsm8k, tmp_path / "g1", benchmarks=("gsm8k",), shard=(1, 3))
    monkeypatch.delenv("TUSK_DATA_DIR")
    monkeypatch.chdir(tmp_path)
    run(gsm8k, tmp_path / "g2", benchmarks=("gsm8k",), shard=(2, 3), data_dir="data")
    assert merge_runs([tmp_path / f"g{i}" for i in range(3)], tmp_path / "gm")["complete"] is True, caplog.text
    # other contents: not one run's problems
    rows[0]["question"] = "What is 1 plus one?"
    (folder / "gsm8k/test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    run(gsm8k, tmp_path / "g2_other", benchmarks=("gsm8k",), shard=(2, 3), data_dir=str(folder))
    caplog.clear()
    assert merge_runs([tmp_path / "g0", tmp_path / "g1", tmp_path / "g2_other"], tmp_path / "gm2")["complete"] is False
    assert "differ in benchmark files" in caplog.text and "4 problems, sha256" in caplog.text
    run(backend, tmp_path / "s0", limit=4, shard=(0, 2))
    caplog.clear()
    (tmp_path / "s1_bench").mkdir()
    config = json.loads((tmp_path / "s0/config.json").read_text())
    other = {**config, "shard": [1, 2], "benchmarks": ["gsm8k"], "limits": {"gsm8k": 4}}
    (tmp_path / "s1_bench/config.json").write_text(json.dumps(other))
    (tmp_path / "s1_bench/summary.json").write_text(json.dumps({"complete": True}))
    assert merge_runs([tmp_path / "s0", tmp_path / "s1_bench"], tmp_path / "m2")["complete"] is False
    assert "differ in benchmarks" in caplog.text


def test_a_shard_merged_with_an_unsharded_run_is_checked(tmp_path, backend, caplog):
    run(backend, tmp_path / "s0", limit=4, shard=(0, 3))
    run(backend, tmp_path / "s1", limit=4, shard=(1, 3))
    run(backend, tmp_path / "full", limit=4)
    # an unsharded run holds every shard
    assert merge_runs([tmp_path / "s0", tmp_path / "full"], tmp_path / "m")["complete"] is True
    run(backend, tmp_path / "full2", limit=2)
    assert merge_runs([tmp_path / "s0", tmp_path / "full2"], tmp_path / "m2")["complete"] is False
    caplog.clear()
    merge_runs([tmp_path / "s0", tmp_path / "s1"], tmp_path / "m3")
    assert "shards 2/3 are not among the runs" in caplog.text


def test_merging_into_a_previous_merge_remembers_what_it_merged(tmp_path, backend, caplog):
    run(backend, tmp_path / "s0", limit=6, shard=(0, 2))
    run(backend, tmp_path / "s1", limit=6, shard=(1, 2))
    first = merge_runs([tmp_path / "s0"], tmp_path / "m")
    assert first["complete"] is False
    caplog.clear()
    second = merge_runs([tmp_path / "s1"], tmp_path / "m")
    assert second["complete"] is True and "partial" not in caplog.text
    config = json.loads((tmp_path / "m/config.json").read_text())
    assert config["merged_from"] == [str((tmp_path / d).resolve()) for d in ("s0", "s1")]
    assert sorted(r["id"] for r in read_samples(tmp_path / "m")) == sorted(
        r["id"] for d in ("s0", "s1") for r in read_samples(tmp_path / d))
    # a merge given as an input counts as the runs it was merged from
    assert merge_runs([tmp_path / "m"], tmp_path / "again")["complete"] is True


def test_an_ordinary_run_directory_is_not_a_merge_target(tmp_path, backend):
    run(backend, tmp_path / "s0", limit=4, shard=(0, 2))
    run(backend, tmp_path / "s1", limit=4, shard=(1, 2))
    before = (tmp_path / "s1/config.json").read_text()
    with pytest.raises(TuskError, match="s1 holds a run that is not a merge"):
        merge_runs([tmp_path / "s0"], tmp_path / "s1")
    assert (tmp_path / "s1/config.json").read_text() == before


def test_a_shard_without_recorded_digests_is_compared_by_its_data_folder(tmp_path, backend, caplog):
    run(backend, tmp_path / "s0", limit=4, shard=(0, 2), data_dir=str(tmp_path))
    run(backend, tmp_path / "s1", limit=4, shard=(1, 2), data_dir=str(tmp_path))
    config = json.loads((tmp_path / "s0/config.json").read_text())
    del config["problem_sets"]  # as an earlier version wrote it
    (tmp_path / "s0/config.json").write_text(json.dumps(config))
    assert merge_runs([tmp_path / "s0", tmp_path / "s1"], tmp_path / "m")["complete"] is True, caplog.text
    run(backend, tmp_path / "s1_elsewhere", limit=4, shard=(1, 2), data_dir=str(tmp_path / "s1"))
    assert merge_runs([tmp_path / "s0", tmp_path / "s1_elsewhere"], tmp_path / "m2")["complete"] is False
    assert "differ in benchmark files" in caplog.text
