from __future__ import annotations

import json

import pytest

from tusk.errors import DataError, TuskError
from tusk.store import RunStore, read_samples
from tusk.types import SampleRecord


def record(i: int, correct: bool = True) -> SampleRecord:
    return SampleRecord(
        id=f"b/{i}", benchmark="b", prompt="p", generations=("g",), prediction="1", gold="1",
        correct=correct, mode="cot",
    )


def test_samples_are_appended_and_a_reopened_store_knows_them(tmp_path):
    with RunStore(tmp_path, {"model": "m"}, ("model",)) as store:
        store.append(record(0))
        store.append(record(1, False))
    with RunStore(tmp_path, {"model": "m"}, ("model",)) as store:
        assert store.done_ids == {"b/0", "b/1"}
        with pytest.raises(TuskError, match="already stored"):
            store.append(record(0))
    rows = list(read_samples(tmp_path))
    assert [r["id"] for r in rows] == ["b/0", "b/1"] and rows[1]["correct"] is False


def test_a_torn_last_line_is_cut_before_new_samples(tmp_path):
    with RunStore(tmp_path, {"model": "m"}) as store:
        store.append(record(0))
    with open(tmp_path / "samples.jsonl", "a") as fh:
        fh.write('{"id": "b/1", "bench')  # killed mid-write
    with RunStore(tmp_path, {"model": "m"}) as store:
        assert store.done_ids == {"b/0"}
        store.append(record(1))
    lines = (tmp_path / "samples.jsonl").read_text().splitlines()
    assert [json.loads(line)["id"] for line in lines] == ["b/0", "b/1"]


def test_corruption_in_the_middle_is_an_error_naming_the_line(tmp_path):
    (tmp_path / "samples.jsonl").write_text('{"id": "b/0"}\nnot json\n{"id": "b/2"}\n')
    with pytest.raises(DataError, match="line 2"):
        RunStore(tmp_path, {"model": "m"})


def test_a_config_that_is_not_an_object_is_named(tmp_path):
    (tmp_path / "config.json").write_text("[1, 2]")
    with pytest.raises(DataError, match="config.json: not a run configuration"):
        RunStore(tmp_path, {"model": "m"}, ("model",))


def test_a_run_with_other_settings_is_refused(tmp_path):
    with RunStore(tmp_path, {"model": "m", "mode": "cot", "benchmarks": ["a"]}, ("model", "mode")) as store:
        store.append(record(0))
    with pytest.raises(TuskError, match="mode: 'cot' -> 'pot'"):
        RunStore(tmp_path, {"model": "m", "mode": "pot"}, ("model", "mode"))
    # adding benchmarks to a run is allowed and accumulates in the config
    store = RunStore(tmp_path, {"model": "m", "mode": "cot", "benchmarks": ["b"]}, ("model", "mode"))
    store.close()
    assert json.loads((tmp_path / "config.json").read_text())["benchmarks"] == ["a", "b"]


def test_a_run_without_samples_takes_new_settings_and_old_configs_lack_new_keys(tmp_path):
    RunStore(tmp_path, {"model": "m", "mode": "cot"}, ("model", "mode")).close()  # crashed before a sample
    with RunStore(tmp_path, {"model": "m2", "mode": "pot"}, ("model", "mode")) as store:
        store.append(record(0))
    assert json.loads((tmp_path / "config.json").read_text())["model"] == "m2"
    # a key the saved run predates is not compared; one it has is
    with RunStore(tmp_path, {"model": "m2", "mode": "pot", "timeout": 9}, ("model", "mode", "timeout")):
        pass
    with pytest.raises(TuskError, match="timeout: 9 -> 1"):
        RunStore(tmp_path, {"model": "m2", "mode": "pot", "timeout": 1}, ("model", "mode", "timeout"))


def test_one_process_at_a_time_writes_a_run_directory(tmp_path):
    with RunStore(tmp_path, {"model": "m"}) as store:
        store.append(record(0))
        with pytest.raises(TuskError, match="in use by another tusk process"):
            RunStore(tmp_path, {"model": "m"})
    with RunStore(tmp_path, {"model": "m"}) as store:  # released on close
        assert store.done_ids == {"b/0"}


def test_an_open_run_has_no_summary_so_a_stale_one_never_outlives_new_samples(tmp_path):
    with RunStore(tmp_path, {"model": "m"}) as store:
        store.append(record(0))
        store.write_summary({"n": 1})
    assert (tmp_path / "summary.json").exists()
    with RunStore(tmp_path, {"model": "m"}) as store:
        assert not (tmp_path / "summary.json").exists()
        store.append(record(1))


def line(i: int, **changes) -> str:
    return json.dumps({"id": f"b/{i}", "benchmark": "b", "correct": True, **changes}) + "\n"


def test_reading_samples_skips_a_torn_end_but_refuses_corruption_before_more_records(tmp_path):
    (tmp_path / "samples.jsonl").write_text(line(0) + line(1) + '{"id": "b/2", "be')
    assert [r["id"] for r in read_samples(tmp_path)] == ["b/0", "b/1"]
    (tmp_path / "samples.jsonl").write_text(line(0) + "[1, 2]\n" + line(2))
    with pytest.raises(DataError, match="samples.jsonl line 2: corrupt"):
        list(read_samples(tmp_path))


def test_a_complete_bad_last_line_is_corruption_not_a_torn_write(tmp_path):
    # tusk writes the newline last, so a line that has one was written whole: it cannot be skipped silently
    (tmp_path / "samples.jsonl").write_text(line(0) + '{"id": "b/1", "benchm\n')
    with pytest.raises(DataError, match="samples.jsonl line 2: corrupt"):
        list(read_samples(tmp_path))
    with pytest.raises(DataError, match="samples.jsonl line 2: corrupt"):
        RunStore(tmp_path, {"model": "m"})
    assert (tmp_path / "samples.jsonl").read_text().count("\n") == 2  # nothing was cut


def test_a_problem_stored_twice_is_an_error_naming_both_lines(tmp_path):
    (tmp_path / "samples.jsonl").write_text(line(0) + line(1) + line(0, correct=False))
    with pytest.raises(DataError, match="samples.jsonl line 3: sample 'b/0' is already stored on line 1"):
        list(read_samples(tmp_path))
    with pytest.raises(DataError, match="line 3: sample 'b/0' is already stored on line 1"):
        RunStore(tmp_path, {"model": "m"})


def test_a_record_without_what_a_summary_counts_names_file_and_line(tmp_path):
    (tmp_path / "samples.jsonl").write_text(line(0) + line(1, correct="yes"))
    with pytest.raises(DataError, match="samples.jsonl line 2: sample 'b/1': missing or invalid 'correct'"):
        list(read_samples(tmp_path))


def test_generations_of_unfinished_problems_are_kept_until_the_problem_is_stored(tmp_path):
    from tusk.types import Generation

    generation = Generation("b/0", ("print(1)", "x"), prompt_tokens=3, completion_tokens=7, seconds=1.5,
                            finish_reasons=("stop", "length"))
    with RunStore(tmp_path, {"model": "m"}) as store:
        store.keep_generation("b/0", "prompt 0", generation)
        store.keep_generation("b/1", "prompt 1", generation)
    with open(tmp_path / "pending.jsonl", "a") as fh:
        fh.write('{"id": "b/2", "pro')  # torn: that generation is made again
    with RunStore(tmp_path, {"model": "m"}) as store:
        assert store.kept_generation("b/0", "prompt 0") == generation
        assert store.kept_generation("b/0", "another prompt") is None
        assert store.kept_generation("b/2", "prompt 2") is None
        store.append(record(0))
        store.append(record(1))
    assert not (tmp_path / "pending.jsonl").exists()  # nothing is left waiting
    with RunStore(tmp_path, {"model": "m"}) as store:
        assert store.kept_generation("b/0", "prompt 0") is None


def test_kept_generations_made_with_other_settings_are_dropped(tmp_path):
    from tusk.types import Generation

    with RunStore(tmp_path, {"model": "m"}, ("model",)) as store:
        store.keep_generation("b/0", "p", Generation("b/0", ("t",)))
    with RunStore(tmp_path, {"model": "m2"}, ("model",)) as store:  # no sample yet: starts over
        assert store.kept_generation("b/0", "p") is None


def test_resumed_benchmarks_keep_their_own_limits(tmp_path):
    def open_run(benchmarks, limit):
        return RunStore(tmp_path, {"model": "m", "benchmarks": benchmarks, "limit": limit,
                                   "limits": dict.fromkeys(benchmarks, limit)}, ("model",))

    open_run(["gsm8k"], 8).close()
    open_run(["svamp"], 2).close()
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved["limits"] == {"gsm8k": 8, "svamp": 2} and "limit" not in saved
    open_run(["gsm8k", "svamp"], 4).close()  # a smaller limit does not shrink what the run selected
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved["limits"] == {"gsm8k": 8, "svamp": 4}
    open_run(["svamp"], None).close()
    assert json.loads((tmp_path / "config.json").read_text())["limits"] == {"gsm8k": 8, "svamp": None}


def test_a_config_saved_with_one_limit_is_read_per_benchmark(tmp_path):
    from tusk.store import config_limits

    (tmp_path / "config.json").write_text(json.dumps({"model": "m", "benchmarks": ["gsm8k"], "limit": 5}))
    RunStore(tmp_path, {"model": "m", "benchmarks": ["svamp"], "limit": 3, "limits": {"svamp": 3}}).close()
    saved = json.loads((tmp_path / "config.json").read_text())
    assert config_limits(saved) == {"gsm8k": 5, "svamp": 3}
    assert config_limits({"benchmarks": ["a", "b"], "limit": None}) == {"a": None, "b": None}
