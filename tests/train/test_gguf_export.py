"""GGUF export: llama.cpp loads the file and computes the same logits and tokens as transformers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from tusk_train_tiny import build_model_dir, sharpen_model_dir

from tusk import gguf_export
from tusk.errors import TuskError

llama_cpp = pytest.importorskip("llama_cpp")

TEXTS = ["Below is an instruction that describes a task.\n\n### Response:$x = 2$ The answer is 42.",
         "12 + 30 = 42. The answer is 42.\n```python\nprint(100 % 7)\n```"]


def _sharpened(path, arch):
    """A tiny random model with weights scaled up so attention is far from uniform (a wrong rotary layout
    then changes the logits a lot)."""
    build_model_dir(path, arch, "byte", bos=arch == "llama")
    return sharpen_model_dir(path, 8)


def _llama_logits(path, ids):
    llm = llama_cpp.Llama(model_path=str(path), n_ctx=256, logits_all=True, verbose=False, n_threads=1)
    try:
        llm.eval(ids)
        return np.array(llm.scores[: len(ids)]), llm
    finally:
        pass


@pytest.mark.slow
@pytest.mark.parametrize("arch", ["llama", "qwen2"])
def test_llama_cpp_reproduces_transformers(tmp_path, arch):
    from transformers import AutoTokenizer

    model = _sharpened(tmp_path / "m", arch)
    tokenizer = AutoTokenizer.from_pretrained(tmp_path / "m")
    target = gguf_export.export_gguf(tmp_path / "m", tmp_path / "m.gguf", "f32")
    for text in TEXTS:
        ids = tokenizer(text)["input_ids"]
        with torch.no_grad():
            expected = model(torch.tensor([ids])).logits[0].numpy()
        got, llm = _llama_logits(target, ids)
        try:
            assert llm.tokenize(text.encode(), add_bos=arch == "llama", special=False) == ids
        finally:
            llm.close()
        assert np.abs(got - expected).max() < 2e-3 * np.abs(expected).max()
        assert (got.argmax(1) == expected.argmax(1)).mean() > 0.9  # near-ties may flip


@pytest.mark.slow
def test_without_the_rotary_permutation_llama_cpp_disagrees(tmp_path, monkeypatch):
    """The control for the test above: skipping the query/key permutation breaks the logits."""
    from transformers import AutoTokenizer

    model = _sharpened(tmp_path / "m", "llama")
    ids = AutoTokenizer.from_pretrained(tmp_path / "m")(TEXTS[0])["input_ids"]
    monkeypatch.setattr(gguf_export, "_permute", lambda weight, heads: weight)
    target = gguf_export.export_gguf(tmp_path / "m", tmp_path / "m.gguf", "f32")
    with torch.no_grad():
        expected = model(torch.tensor([ids])).logits[0].numpy()
    got, llm = _llama_logits(target, ids)
    llm.close()
    assert np.abs(got - expected).max() > 0.1 * np.abs(expected).max()


def test_unsupported_models_are_refused_by_name(tmp_path):
    (tmp_path / "config.json").write_text('{"architectures": ["GPT2LMHeadModel"]}')
    with pytest.raises(TuskError, match="GPT2LMHeadModel"):
        gguf_export.export_gguf(tmp_path, tmp_path / "x.gguf")
    assert not (tmp_path / "x.gguf").exists()


@pytest.mark.slow
def test_train_accepts_a_gguf_file_and_converts_it_once(tmp_path):
    """``tusk train`` on a .gguf: transformers dequantises it into a cached HF folder (quantizer marks
    cleared), which a second run reuses."""
    import json

    from tusk_train_tiny import alpaca_records

    from tusk.train.config import TrainConfig
    from tusk.train.loading import resolve_model_dir
    from tusk.train.loop import train

    build_model_dir(tmp_path / "m", "llama", "byte", bos=True)
    gguf_file = gguf_export.export_gguf(tmp_path / "m", tmp_path / "tiny.gguf", "f32")
    data = tmp_path / "train.json"
    data.write_text(json.dumps(alpaca_records()))
    config = TrainConfig(model=str(gguf_file), data=str(data), out=str(tmp_path / "run"), batch_size=4,
                         max_steps=2, learning_rate=1e-3, export="merged")
    result = train(config, progress=False)
    assert len(result.losses) == 2
    converted = resolve_model_dir(str(gguf_file))
    assert (tmp_path / "run" / "config.yaml").is_file() and "tiny" in converted
    first = (Path(converted) / "config.json").stat().st_mtime_ns
    assert resolve_model_dir(str(gguf_file)) == converted
    assert (Path(converted) / "config.json").stat().st_mtime_ns == first
    assert "quantization_config" not in json.loads((Path(converted) / "config.json").read_text())


@pytest.mark.slow
def test_dequantized_gguf_writes_the_f32_weights_once_and_keeps_f32_files(tmp_path, monkeypatch):
    """The llamacpp backend's ``dequantize`` file: an f16 GGUF comes back as a cached f32 GGUF holding the
    same values (and the tokenizer's chat template); an f32 GGUF is used as it is."""
    import gguf
    from transformers import AutoTokenizer

    from tusk.gguf_convert import dequantized_gguf

    monkeypatch.setenv("TUSK_CACHE_DIR", str(tmp_path / "cache"))
    build_model_dir(tmp_path / "m", "llama", "byte", bos=True)
    tokenizer = AutoTokenizer.from_pretrained(tmp_path / "m")
    tokenizer.chat_template = "{% for m in messages %}<{{ m['role'] }}>{{ m['content'] }}{% endfor %}"
    tokenizer.save_pretrained(tmp_path / "m")
    f32 = gguf_export.export_gguf(tmp_path / "m", tmp_path / "m32.gguf", "f32")
    assert dequantized_gguf(f32) == f32
    f16 = gguf_export.export_gguf(tmp_path / "m", tmp_path / "m16.gguf", "f16")
    out = dequantized_gguf(f16)
    assert out != f16 and (tmp_path / "cache") in out.parents
    written = out.stat().st_mtime_ns
    assert dequantized_gguf(f16) == out and out.stat().st_mtime_ns == written

    source = {t.name: t for t in gguf.GGUFReader(str(f16)).tensors}
    result = gguf.GGUFReader(str(out))
    assert {t.tensor_type for t in result.tensors} == {gguf.GGMLQuantizationType.F32}
    assert {t.name for t in result.tensors} == set(source)
    halves = [t for t in result.tensors if source[t.name].tensor_type == gguf.GGMLQuantizationType.F16]
    assert halves
    for tensor in halves:
        np.testing.assert_array_equal(np.asarray(tensor.data), np.asarray(source[tensor.name].data, np.float32))
    template = result.fields["tokenizer.chat_template"]
    assert bytes(template.parts[template.data[0]]).decode() == tokenizer.chat_template
