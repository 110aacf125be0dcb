"""Starting over (``resume: never``) in a run directory that holds an earlier run: the earlier run's files are
moved aside, so its checkpoints never mix with the new run's (rotation, ``resume: auto``), the checkpoint an
interrupt reports exists, and the hint it prints really resumes."""

from __future__ import annotations

import pytest
from test_resume_interrupt import _config, _interrupt_at

from tusk.train.checkpoint import list_checkpoints, prune_checkpoints
from tusk.train.loop import train
from tusk.train.runlog import read_log


def test_starting_over_moves_the_old_run_aside_and_the_interrupt_hint_resumes(tmp_path, tiny_qwen, monkeypatch,
                                                                              caplog):
    out = tmp_path / "run"
    train(_config(tmp_path, tiny_qwen, "run", max_steps=4, save_steps=1), progress=False)
    assert [p.name for p in list_checkpoints(out)] == ["step-000003", "step-000004"]
    _interrupt_at(monkeypatch, call=5)  # step 3's first micro-batch (grad_accum 2): steps 1 and 2 finished
    with caplog.at_level("WARNING", logger="tusk.train"), pytest.raises(KeyboardInterrupt):
        train(_config(tmp_path, tiny_qwen, "run", max_steps=6, save_steps=0, resume="never"), progress=False)
    monkeypatch.undo()
    assert [p.name for p in list_checkpoints(out)] == ["step-000002"]  # reported as saved, and there
    (previous,) = (out / "previous").iterdir()
    assert [p.name for p in list_checkpoints(previous)] == ["step-000003", "step-000004"]
    assert "moved to" in caplog.text and str(previous) in caplog.text
    assert f"--resume {out / 'checkpoints' / 'step-000002'}" in caplog.text
    assert "rerun the same command" not in caplog.text  # the same command (--resume never) would start over
    assert [r["step"] for r in read_log(out / "log.jsonl") if "loss" in r] == [1, 2]  # only the new run's
    resumed = train(_config(tmp_path, tiny_qwen, "run", max_steps=6, save_steps=0,
                            resume=str(out / "checkpoints" / "step-000002")), progress=False)
    assert resumed.resumed_from == 2
    assert list((out / "previous").iterdir()) == [previous]  # resuming moves nothing


def test_rotation_never_removes_the_checkpoint_just_written(tmp_path):
    for step in (9, 10, 5):
        path = tmp_path / "checkpoints" / f"step-{step:06d}"
        path.mkdir(parents=True)
        (path / "state.json").write_text("{}")
    prune_checkpoints(tmp_path, 2, keep_path=tmp_path / "checkpoints" / "step-000005")
    assert [p.name for p in list_checkpoints(tmp_path)] == ["step-000005", "step-000010"]
