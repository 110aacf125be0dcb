"""Export problems that can be known before training stop the run before its first step; a failure of the
final export itself still leaves the run's plot, end event and summary, then reports the error."""

from __future__ import annotations

import json
import shutil

import pytest
from tusk_train_tiny import alpaca_records

from tusk.cli import main
from tusk.errors import TuskError
from tusk.train.config import TrainConfig
from tusk.train.loop import train
from tusk.train.runlog import read_log


def _config(tmp_path, model, **changes):
    data = tmp_path / "train.json"
    data.write_text(json.dumps(alpaca_records()))
    values = {"model": str(model), "data": str(data), "out": str(tmp_path / "run"), "batch_size": 4,
              "max_steps": 2, "learning_rate": 1e-3, "save_steps": -1, "export": "merged", "export_gguf": "f16"}
    values.update(changes)
    return TrainConfig(**values)


def test_gguf_export_of_an_unsupported_architecture_fails_before_the_first_step(tmp_path, tiny_llama):
    other = tmp_path / "mistral"
    shutil.copytree(tiny_llama, other)
    config = json.loads((other / "config.json").read_text())
    config.update({"model_type": "mistral", "architectures": ["MistralForCausalLM"]})
    (other / "config.json").write_text(json.dumps(config))
    with pytest.raises(TuskError, match="export_gguf: GGUF export supports LlamaForCausalLM.*MistralForCausalLM"):
        train(_config(tmp_path, other), progress=False)
    assert not [r for r in read_log(tmp_path / "run" / "log.jsonl") if "loss" in r]


def test_a_failed_final_export_still_writes_the_plot_end_event_and_summary(tmp_path, tiny_llama, monkeypatch,
                                                                         capsys):
    import tusk.gguf_export

    def broken(*args, **kwargs):
        raise TuskError("disk full")

    monkeypatch.setattr(tusk.gguf_export, "export_gguf", broken)
    config = tmp_path / "c.yaml"
    values = {k: str(v) for k, v in vars(_config(tmp_path, tiny_llama)).items()}
    config.write_text("".join(f"{k}: '{v}'\n" for k, v in values.items() if v != ""))
    assert main(["train", "--config", str(config), "--no-progress"]) == 2
    captured = capsys.readouterr()
    assert "optimizer steps" in captured.out and "last loss" in captured.out  # the summary table
    assert "training finished (2 steps) but the export failed: disk full" in captured.err
    run = tmp_path / "run"
    assert (run / "loss.png").is_file() and (run / "final" / "config.json").is_file()
    events = [r for r in read_log(run / "log.jsonl") if "event" in r]
    assert {"event": "export", "step": 2, "error": "disk full"} in events
    assert events[-1]["event"] == "end" and events[-1]["error"] == "disk full"
