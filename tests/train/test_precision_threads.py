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
