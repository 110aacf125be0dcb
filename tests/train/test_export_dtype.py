"""A merged export records the dtype its weights are saved in, and a model with tied embeddings saves the
shared matrix once (as transformers itself does)."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors import safe_open
from tusk_train_tiny import alpaca_records, build_model_dir

from tusk.train.config import TrainConfig
from tusk.train.loop import train


@pytest.fixture(autouse=True)
def _fresh_accelerate_state():
    """accelerate keeps one mixed-precision setting per process: each run here starts from none."""
    from accelerate.state import AcceleratorState

    AcceleratorState._reset_state(reset_partial_state=True)
    yield
    AcceleratorState._reset_state(reset_partial_state=True)


@pytest.fixture(scope="module")
def tied_qwen(tmp_path_factory):
    return build_model_dir(tmp_path_factory.mktemp("tied-qwen"), "qwen2", "nosplit", bos=False, tied=True)


def _run(tmp_path, model, **changes):
    data = tmp_path / "train.json"
    data.write_text(json.dumps(alpaca_records()))
    values = {"model": str(model), "data": str(data), "out": str(tmp_path / "run"), "batch_size": 4,
              "max_steps": 1, "learning_rate": 1e-3, "save_steps": -1, "export": "merged"}
    values.update(changes)
    return train(TrainConfig(**values), progress=False)


@pytest.mark.parametrize("method", ["full", "lora"])
def test_a_bf16_export_says_bfloat16_and_saves_tied_weights_once(tmp_path, tied_qwen, method):
    from transformers import AutoModelForCausalLM

    result = _run(tmp_path, tied_qwen, precision="bf16", method=method)
    config = json.loads((result.export / "config.json").read_text())
    assert config["dtype"] == "bfloat16"
    with safe_open(str(result.export / "model.safetensors"), "pt") as f:
        keys = list(f.keys())
        assert {f.get_tensor(k).dtype for k in keys} == {torch.bfloat16}
    assert "lm_head.weight" not in keys and "model.embed_tokens.weight" in keys
    model = AutoModelForCausalLM.from_pretrained(result.export)
    assert model.lm_head.weight.dtype == torch.bfloat16
    assert torch.equal(model.lm_head.weight, model.model.embed_tokens.weight)


def test_an_fp32_export_of_an_untied_model_keeps_every_weight(tmp_path, tiny_qwen):
    result = _run(tmp_path, tiny_qwen, precision="fp32")
    assert json.loads((result.export / "config.json").read_text())["dtype"] == "float32"
    with safe_open(str(result.export / "model.safetensors"), "pt") as f:
        assert "lm_head.weight" in f.keys()  # noqa: SIM118 - a safetensors file is not a mapping
