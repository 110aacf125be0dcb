"""``precision: auto`` and ``threads``: what the loop picks and sets, and that the documentation says so."""

from __future__ import annotations

import pytest

from tusk.train.config import TrainConfig, field_docs, load_config
from tusk.train.loop import _precision


@pytest.mark.parametrize("bf16,expected", [(True, "bf16"), (False, "fp16")])
def test_auto_precision_on_a_gpu_is_bf16_else_fp16_with_loss_scaling(monkeypatch, bf16, expected):
    import torch

    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: bf16)
    assert _precision(TrainConfig(), cuda=True) == expected
    assert _precision(TrainConfig(), cuda=False) == "fp32"
    assert _precision(TrainConfig(precision="fp32"), cuda=True) == "fp32"
    doc = field_docs()["precision"]  # the help of --precision: what auto does on each kind of device
    assert "fp16 with loss scaling" in doc and "fp32 on a CPU" in doc


def test_threads_is_checked_and_documented():
    assert load_config(None, {"threads": "1"}).threads == 1
    assert TrainConfig().threads == 0  # unset: torch's default
    with pytest.raises(Exception, match="threads: must be at least 0, got -1"):
        load_config(None, {"threads": "-1"})
    assert "1 thread per core" in field_docs()["threads"]


@pytest.mark.slow
def test_threads_holds_torch_threads_for_the_run_and_restores_them(tmp_path, tiny_llama, alpaca_file):
    import json

    import torch

    from tusk.train.loop import train

    assert torch.get_num_threads() == 1  # conftest's setting
    seen = []
    config = TrainConfig(model=str(tiny_llama), data=str(alpaca_file), out=str(tmp_path / "run"), batch_size=4,
                         max_steps=1, save_steps=-1, threads=2)
    train(config, eval_hook=lambda model_dir, step: seen.append(torch.get_num_threads()) or {}, progress=False)
    assert seen == [2] and torch.get_num_threads() == 1
    start = json.loads((tmp_path / "run" / "log.jsonl").read_text().splitlines()[0])
    assert start["event"] == "start" and start["threads"] == 2


@pytest.mark.slow
def test_no_progress_silences_transformers_and_datasets_bars_for_the_whole_run(tmp_path, tiny_llama, alpaca_file,
                                                                                capfd):
    from transformers.utils import logging as hf_logging

    from tusk.train.loop import train

    datasets = pytest.importorskip("datasets")
    from datasets.utils import logging as ds_logging

    seen = []

    def hook(model_dir, step):
        seen.append((hf_logging.is_progress_bar_enabled(), ds_logging.is_progress_bar_enabled()))
        return {}

    capfd.readouterr()
    config = TrainConfig(model=str(tiny_llama), data=str(alpaca_file), out=str(tmp_path / "run"), batch_size=4,
                         max_steps=1, save_steps=-1)
    train(config, eval_hook=hook, progress=False)
    err = capfd.readouterr().err
    assert "Writing model shards" not in err and "Loading weights" not in err and "%|" not in err
    assert seen == [(False, False)]
    assert hf_logging.is_progress_bar_enabled() and ds_logging.is_progress_bar_enabled()  # restored
    assert datasets is not None
