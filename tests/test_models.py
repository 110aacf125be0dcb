from __future__ import annotations

import pytest

from tusk import models
from tusk.backends import parse_model_spec
from tusk.errors import TuskError


def test_model_specs_parse_to_backends():
    assert parse_model_spec("qwen2.5-coder-0.5b").backend == "llamacpp"
    assert parse_model_spec("hf:./ckpt").target == "./ckpt"
    assert parse_model_spec("openai:m@http://127.0.0.1:8000/v1").target == "m@http://127.0.0.1:8000/v1"
    assert parse_model_spec("/tmp/x.gguf").backend == "llamacpp"
    with pytest.raises(TuskError, match="no model"):
        parse_model_spec("hf:")
    with pytest.raises(TuskError, match="unknown model"):
        parse_model_spec("gpt-17")


def test_single_file_model_is_found_in_its_package_and_verified():
    path = models.resolve_model_path("smollm2-135m")
    assert path.name == "SmolLM2-135M-Instruct.Q4_1.gguf" and path.stat().st_size == 98_362_432


def test_missing_package_names_the_pip_command(monkeypatch):
    broken = models.BuiltinModel(
        name="ghost", description="", filename="g.gguf", sha256="0" * 64, size=1,
        parts=(("tusk-no-such-package", "1.0", "x/g.gguf"),), prompt_style="alpaca", licence="",
    )
    monkeypatch.setitem(models.BUILTIN_MODELS, "ghost", broken)
    with pytest.raises(TuskError, match="pip install tusk-no-such-package==1.0"):
        models.resolve_model_path("ghost")


@pytest.mark.slow
def test_split_model_is_assembled_once_and_a_corrupted_copy_is_refused():
    path = models.resolve_model_path("gemma3-270m")  # 4 parts -> one file in the (test) cache
    assert path.stat().st_size == models.BUILTIN_MODELS["gemma3-270m"].size
    mtime = path.stat().st_mtime_ns
    assert models.resolve_model_path("gemma3-270m") == path and path.stat().st_mtime_ns == mtime  # not redone
    with open(path, "r+b") as fh:  # flip one byte, keep the size
        fh.seek(1000)
        byte = fh.read(1)
        fh.seek(1000)
        fh.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(TuskError, match="does not match the pinned"):
        models.resolve_model_path("gemma3-270m")
    path.unlink()
