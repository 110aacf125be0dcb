"""The evaluation hook: it scores the final model even with ``export: none``, an interrupt during an evaluation
leaves no temporary model copy behind, and missing benchmark data is an error before training."""

from __future__ import annotations

import json

import pytest
from tusk_train_tiny import alpaca_records

from tusk.errors import TuskError
from tusk.train.checkpoint import list_checkpoints
from tusk.train.config import TrainConfig
from tusk.train.eval_hook import make_eval_hook
from tusk.train.loop import train
from tusk.train.runlog import read_log


def _config(tmp_path, model, **changes):
    data = tmp_path / "train.json"
    data.write_text(json.dumps(alpaca_records()))
    values = {"model": str(model), "data": str(data), "out": str(tmp_path / "run"), "batch_size": 4,
              "max_steps": 4, "learning_rate": 1e-3, "method": "lora", "lora_dropout": 0.0, "export": "none"}
    values.update(changes)
    return TrainConfig(**values)


def test_export_none_still_evaluates_the_final_model(tmp_path, tiny_llama):
    seen = []

    def hook(model_dir, step):
        assert (model_dir / "config.json").is_file()
        seen.append(step)
        return {"accuracy": {"x": 0.5}}

    train(_config(tmp_path, tiny_llama, save_steps=2), eval_hook=hook, progress=False)
    assert seen == [2, 4]
    events = [r for r in read_log(tmp_path / "run/log.jsonl") if r.get("event") == "eval"]
    assert [(e["step"], e["model"]) for e in events] == [
        (2, str(tmp_path / "run/checkpoints/step-000002")), (4, str(tmp_path / "run/checkpoints/step-000004"))]
    assert sorted(p.name for p in (tmp_path / "run/checkpoints").iterdir()) == ["step-000002", "step-000004"]


def test_an_interrupt_during_an_evaluation_leaves_no_model_copy(tmp_path, tiny_llama):
    def hook(model_dir, step):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(_config(tmp_path, tiny_llama, save_steps=2), eval_hook=hook, progress=False)
    assert sorted(p.name for p in (tmp_path / "run/checkpoints").iterdir()) == ["step-000002"]
    stale = tmp_path / "run/checkpoints/eval-model-000002"  # as an older version left it
    stale.mkdir()
    (stale / "model.safetensors").write_text("x")
    train(_config(tmp_path, tiny_llama, save_steps=2), eval_hook=lambda m, s: {}, progress=False)
    assert not stale.exists()
    assert [p.name for p in list_checkpoints(tmp_path / "run")] == ["step-000002", "step-000004"]


def test_missing_benchmark_data_is_an_error_before_training(tmp_path, monkeypatch):
    monkeypatch.setenv("TUSK_OFFLINE", "1")
    monkeypatch.delenv("TUSK_DATA_DIR", raising=False)
    monkeypatch.setenv("TUSK_CACHE_DIR", str(tmp_path / "cache"))
    config = TrainConfig(eval_benchmarks="gsm8k", eval_data_dir=str(tmp_path / "empty"), out=str(tmp_path / "r"))
    with pytest.raises(TuskError, match="eval_benchmarks: gsm8k: .*eval_data_dir"):
        make_eval_hook(config)
    found = tmp_path / "data"
    for file in __import__("tusk.benchmarks", fromlist=["get_benchmark"]).get_benchmark("gsm8k").files:
        (found / file.relpath).parent.mkdir(parents=True, exist_ok=True)
        (found / file.relpath).write_text("{}\n")
    assert make_eval_hook(TrainConfig(eval_benchmarks="gsm8k", eval_data_dir=str(found))) is not None
