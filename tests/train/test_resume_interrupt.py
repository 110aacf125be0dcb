"""Resume identity (settings that change the result must match the checkpoint) and interrupt safety (Ctrl-C /
SIGTERM checkpoints the last whole step, and the rerun reproduces the uninterrupted loss curve)."""

from __future__ import annotations

import json
import os
import shutil
import signal

import pytest
import torch
import yaml
from tusk_train_tiny import alpaca_records

from tusk.errors import TuskError
from tusk.train import loop
from tusk.train.checkpoint import list_checkpoints, read_state
from tusk.train.config import TrainConfig
from tusk.train.loop import train
from tusk.train.resume import check_resume, deferred_interrupts
from tusk.train.runlog import read_log


def _config(tmp_path, model_dir, name, **changes):
    data = tmp_path / "train.json"
    if not data.exists():
        data.write_text(json.dumps(alpaca_records() * 3))
    values = {"model": str(model_dir), "data": str(data), "out": str(tmp_path / name), "batch_size": 4,
              "grad_accum": 2, "max_steps": 4, "learning_rate": 3e-3, "method": "lora", "lora_dropout": 0.0,
              "export": "none", "save_steps": 2}
    values.update(changes)
    return TrainConfig(**values)


def test_check_resume_names_each_changed_key_old_and_new(tmp_path):
    state = {"plan": {"seed": 1, "total_steps": 8}, "settings": {"learning_rate": 0.003, "lr_scheduler": "cosine"}}
    check_resume(tmp_path, state, {"seed": 1, "total_steps": 8}, {"learning_rate": 0.003, "lr_scheduler": "cosine"})
    with pytest.raises(TuskError) as err:
        check_resume(tmp_path, state, {"seed": 1, "total_steps": 8}, {"learning_rate": 0.5, "lr_scheduler": "linear"})
    assert "learning_rate: 0.003 -> 0.5" in str(err.value) and "lr_scheduler: 'cosine' -> 'linear'" in str(err.value)
    assert "\n" not in str(err.value)
    # a checkpoint written before a key existed is not compared on it
    check_resume(tmp_path, {"plan": {"seed": 1}}, {"seed": 1, "data_digest": "x"}, {"learning_rate": 9.0})
    with pytest.raises(TuskError, match=r"data plan changed \(total_steps: 8 -> 12\).*cannot be extended"):
        check_resume(tmp_path / "checkpoints" / "step-000008", state, {"seed": 1, "total_steps": 12},
                     state["settings"])


@pytest.mark.slow
def test_resuming_with_other_optimisation_settings_is_refused_and_harmless_ones_may_change(tmp_path, tiny_qwen):
    train(_config(tmp_path, tiny_qwen, "run"), progress=False)
    shutil.rmtree(tmp_path / "run/checkpoints/step-000004")
    recorded = (tmp_path / "run/config.yaml").read_text()
    for change, shown in [({"learning_rate": 0.5}, "learning_rate: 0.003 -> 0.5"),
                          ({"weight_decay": 0.1}, "weight_decay: 0.0 -> 0.1"),
                          ({"lora_r": 4}, "lora_r: 16 -> 4"),
                          ({"max_grad_norm": 0.0}, "max_grad_norm: 1.0 -> 0.0"),
                          ({"method": "full"}, "method: 'lora' -> 'full'")]:
        with pytest.raises(TuskError, match="training settings changed") as err:
            train(_config(tmp_path, tiny_qwen, "run", **change), progress=False)
        assert shown in str(err.value)
    with pytest.raises(TuskError, match=r"total_steps: 4 -> 6\).*cannot be extended"):
        train(_config(tmp_path, tiny_qwen, "run", max_steps=6), progress=False)
    assert (tmp_path / "run/config.yaml").read_text() == recorded  # a refused resume records nothing
    resumed = train(_config(tmp_path, tiny_qwen, "run", logging_steps=2, save_steps=1, grad_accum=1),
                    progress=False)
    assert resumed.resumed_from == 2
    assert yaml.safe_load((tmp_path / "run/config.yaml").read_text())["logging_steps"] == 2


def _interrupt_at(monkeypatch, call: int, sig=signal.SIGINT):
    """Send ``sig`` to this process during the ``call``-th micro-batch forward pass (a real signal)."""
    real, calls = loop._summed_loss, []

    def summed(*args, **kwargs):
        calls.append(1)
        if len(calls) == call:
            os.kill(os.getpid(), sig)
        return real(*args, **kwargs)

    monkeypatch.setattr(loop, "_summed_loss", summed)


def test_ctrl_c_checkpoints_the_last_whole_step_and_the_rerun_continues_exactly(tmp_path, tiny_qwen, monkeypatch):
    # dropout on, so the resumed run matches only if the RNG state of the step boundary was saved
    settings = {"max_steps": 6, "save_steps": 0, "lora_dropout": 0.1}
    straight = train(_config(tmp_path, tiny_qwen, "straight", **settings), progress=False)
    _interrupt_at(monkeypatch, call=8)  # step 4's second micro-batch (grad_accum 2)
    with pytest.raises(KeyboardInterrupt):
        train(_config(tmp_path, tiny_qwen, "cut", **settings), progress=False)
    monkeypatch.undo()
    assert [p.name for p in list_checkpoints(tmp_path / "cut")] == ["step-000003"]
    assert read_state(tmp_path / "cut/checkpoints/step-000003")["interrupted"] is True
    events = [r for r in read_log(tmp_path / "cut/log.jsonl") if r.get("event") == "checkpoint"]
    assert events == [{"event": "checkpoint", "step": 3, "path": str(tmp_path / "cut/checkpoints/step-000003"),
                       "reason": "interrupt"}]
    resumed = train(_config(tmp_path, tiny_qwen, "cut", **settings), progress=False)
    assert resumed.resumed_from == 3
    assert resumed.losses == pytest.approx(straight.losses, rel=1e-6)
    a = torch.load(tmp_path / "straight/checkpoints/step-000006/trainable.pt")
    b = torch.load(tmp_path / "cut/checkpoints/step-000006/trainable.pt")
    assert a.keys() == b.keys() and all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)


def test_sigterm_through_the_cli_handler_also_checkpoints(tmp_path, tiny_qwen, monkeypatch):
    from tusk.cli import Terminated, _terminate

    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        _interrupt_at(monkeypatch, call=3, sig=signal.SIGTERM)  # step 2, first micro-batch
        with pytest.raises(Terminated):
            train(_config(tmp_path, tiny_qwen, "cut", save_steps=0), progress=False)
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert [p.name for p in list_checkpoints(tmp_path / "cut")] == ["step-000001"]
    _interrupt_at(monkeypatch, call=3)
    with pytest.raises(KeyboardInterrupt):  # save_steps -1: no checkpoints, not even on an interrupt
        train(_config(tmp_path, tiny_qwen, "never", save_steps=-1), progress=False)
    assert list_checkpoints(tmp_path / "never") == []


def test_an_interrupt_inside_a_deferred_block_arrives_when_it_ends():
    reached = []
    with pytest.raises(KeyboardInterrupt), deferred_interrupts():
        os.kill(os.getpid(), signal.SIGINT)
        reached.append("after the signal")
    assert reached == ["after the signal"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler

    seen = []
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: seen.append(signum))
    try:
        with deferred_interrupts():
            os.kill(os.getpid(), signal.SIGTERM)
            assert seen == []
        assert seen == [signal.SIGTERM]  # the handler installed before gets it
        with deferred_interrupts(deliver=False):
            os.kill(os.getpid(), signal.SIGINT)
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_a_multi_process_run_saves_nothing_on_interrupt_and_names_the_resume_point(tmp_path, caplog):
    """No collective save is tried (the other ranks may not have been interrupted): the accelerator stand-in
    has no save methods, so any attempt would fail."""
    from types import SimpleNamespace

    (tmp_path / "checkpoints/step-000004").mkdir(parents=True)
    (tmp_path / "checkpoints/step-000004/state.json").write_text("{}")
    accelerator = SimpleNamespace(num_processes=2, is_main_process=True)
    with caplog.at_level("WARNING", logger="tusk.train.loop"):
        loop._save_on_interrupt(accelerator, None, None, None, tmp_path, None, TrainConfig(), finished=6, saved=4,
                                rng=None, identity={})
    assert "not saving in a multi-process run" in caplog.text and "step-000004" in caplog.text
    assert [p.name for p in list_checkpoints(tmp_path)] == ["step-000004"]
