"""Fixtures for the GPU tests: they run on a CUDA device, and are skipped without one.

``TUSK_GPU_TESTS_ON_CPU=1`` runs the same tests on the CPU (in fp32, FSDP left out), to check the tests
themselves on a machine without a GPU before spending GPU time on them.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")
sys.path.insert(0, str(Path(__file__).parents[1] / "train"))

from tusk_train_tiny import build_model_dir, sharpen_model_dir


@pytest.fixture(scope="session")
def device() -> str:
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if os.environ.get("TUSK_GPU_TESTS_ON_CPU"):
        return "cpu"
    pytest.skip("needs a CUDA device (TUSK_GPU_TESTS_ON_CPU=1 runs these tests on the CPU)")


@pytest.fixture(scope="session")
def tiny_llama(tmp_path_factory) -> Path:
    return build_model_dir(tmp_path_factory.mktemp("tiny-llama"), "llama", "byte", bos=True)


@pytest.fixture(scope="session")
def sharp_llama(tmp_path_factory) -> Path:
    """A tiny random Llama with weights scaled up: peaked next-token distributions, so greedy decoding does
    not hinge on near-ties and can be compared exactly across batch shapes."""
    path = build_model_dir(tmp_path_factory.mktemp("sharp-llama"), "llama", "byte", bos=True)
    sharpen_model_dir(path, 6)
    return path
