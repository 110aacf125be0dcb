"""Fixtures for the training tests: tiny real models (random Llama / Qwen2 weights from a config, byte-level BPE
tokenizers trained on the fly with ``tokenizers``; no files from anywhere) and small Alpaca data."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")
sys.path.insert(0, str(Path(__file__).parent))

from tusk_train_tiny import alpaca_records, build_model_dir


@pytest.fixture(scope="session")
def tiny_llama(tmp_path_factory) -> Path:
    return build_model_dir(tmp_path_factory.mktemp("tiny-llama"), "llama", "byte", bos=True)


@pytest.fixture(scope="session")
def tiny_qwen(tmp_path_factory) -> Path:
    return build_model_dir(tmp_path_factory.mktemp("tiny-qwen"), "qwen2", "nosplit", bos=False)


@pytest.fixture()
def alpaca_file(tmp_path) -> Path:
    path = tmp_path / "train.json"
    path.write_text(json.dumps(alpaca_records() * 3, indent=1))
    return path


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny models run fastest on one thread; on a loaded 2-core machine extra threads only contend."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
