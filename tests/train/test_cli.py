"""``tusk train`` as users run it: a YAML config, overrides, a results table, one-line errors."""

from __future__ import annotations

import json

import pytest
from tusk_train_tiny import alpaca_records

from tusk.cli import main


@pytest.mark.slow
def test_tusk_train_runs_a_config_with_overrides(tmp_path, tiny_llama, capsys):
    data = tmp_path / "train.json"
    data.write_text(json.dumps(alpaca_records() * 2))
    config = tmp_path / "c.yaml"
    config.write_text(f"model: {tiny_llama}\ndata: {data}\nout: {tmp_path / 'run'}\nmax_steps: 2\n"
                      "batch_size: 4\nlearning_rate: 1.0e-3\n")
    assert main(["train", "--config", str(config), "--set", "method=lora", "--lora-dropout", "0",
                 "--no-progress"]) == 0
    shown = capsys.readouterr().out
    assert "optimizer steps" in shown and "last loss" in shown
    saved = (tmp_path / "run" / "config.yaml").read_text()
    assert "method: lora" in saved and "max_steps: 2" in saved
    assert (tmp_path / "run" / "final" / "config.json").is_file()


def test_tusk_train_errors_are_one_line(tmp_path, capsys):
    assert main(["train", "--set", "learning_rate=fast"]) == 2
    assert "learning_rate" in capsys.readouterr().err
    assert main(["train"]) == 2
    assert "no model" in capsys.readouterr().err
    assert main(["train", "--model", "x", "--data", str(tmp_path / "none.json"), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "tusk: error:" in err
