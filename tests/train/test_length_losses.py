"""Examples that max_length truncates or drops are warned about with counts and shares before the first step;
past ``max_dropped_share`` dropped, training refuses to start."""

from __future__ import annotations

import json

import pytest
from tusk_train_tiny import alpaca_records

from tusk.errors import TuskError
from tusk.train.config import TrainConfig, load_config
from tusk.train.loop import train
from tusk.train.runlog import read_log


def _config(tmp_path, model, **changes):
    data = tmp_path / "train.json"
    data.write_text(json.dumps(alpaca_records() * 3))
    values = {"model": str(model), "data": str(data), "out": str(tmp_path / "run"), "batch_size": 4,
              "max_steps": 1, "learning_rate": 1e-3, "save_steps": -1, "export": "none", "max_length": 40}
    values.update(changes)
    return TrainConfig(**values)


def test_many_dropped_examples_stop_the_run_before_the_first_step(tmp_path, tiny_llama):
    with pytest.raises(TuskError, match=r"max_length 40: 18 of 21 examples \(85.7%\) dropped.*max_dropped_share"):
        train(_config(tmp_path, tiny_llama), progress=False)
    assert not [r for r in read_log(tmp_path / "run/log.jsonl") if "loss" in r]


def test_allowed_drops_and_truncation_are_warned_about(tmp_path, tiny_llama, caplog):
    with caplog.at_level("WARNING", logger="tusk.train.loop"):
        train(_config(tmp_path, tiny_llama, max_dropped_share=1.0), progress=False)
    assert "18 of 21 examples (85.7%) dropped" in caplog.text and "21 (100.0%) truncated" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING", logger="tusk.train.loop"):
        train(_config(tmp_path, tiny_llama, max_length=512, out=str(tmp_path / "whole")), progress=False)
    assert "dropped" not in caplog.text
    with pytest.raises(TuskError, match=r"max_dropped_share: must be in \[0, 1\]"):
        load_config(None, {"max_dropped_share": "1.5"})
