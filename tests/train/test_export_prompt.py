"""An exported model answers the Alpaca prompt it was trained on: no base chat template travels with it.

The base model here has a chat template (like most instruct checkpoints); after a tiny training run the
export (full fine-tune, merged LoRA, LoRA adapter, GGUF) must carry none, so ``tusk eval`` picks the Alpaca
prompt by default, the same prompt the training and its evaluation hook used.
"""

from __future__ import annotations

import json
import shutil

import pytest
from tusk_train_tiny import alpaca_records

from tusk.backends.hf import HFBackend
from tusk.train.config import TrainConfig
from tusk.train.loop import train

TEMPLATE = ("{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}\n{% endfor %}"
            "{% if add_generation_prompt %}<|assistant|>{% endif %}")
MESSAGES = [{"role": "user", "content": "What is 2 + 2?"}]


@pytest.fixture(scope="module")
def chat_base(tmp_path_factory, tiny_llama):
    """The tiny Llama with a chat template, as an instruct base model would have."""
    from transformers import AutoTokenizer

    path = tmp_path_factory.mktemp("chat-base") / "m"
    shutil.copytree(tiny_llama, path)
    tokenizer = AutoTokenizer.from_pretrained(path)
    tokenizer.chat_template = TEMPLATE
    tokenizer.save_pretrained(path)
    backend = HFBackend(str(path), device="cpu", dtype="float32")
    assert backend.preferred_prompt == "chat" and backend.chat_prompt(MESSAGES)  # the control: it has one
    return path


def _has_template(folder) -> bool:
    config = folder / "tokenizer_config.json"
    in_config = config.is_file() and "chat_template" in json.loads(config.read_text())
    return in_config or (folder / "chat_template.jinja").exists() or (folder / "additional_chat_templates").exists()


@pytest.mark.slow
@pytest.mark.parametrize("method,export", [("full", "merged"), ("lora", "merged"), ("lora", "adapter")])
def test_the_export_carries_no_chat_template(tmp_path, chat_base, method, export):
    data = tmp_path / "train.json"
    data.write_text(json.dumps(alpaca_records()))
    config = TrainConfig(model=str(chat_base), data=str(data), out=str(tmp_path / "run"), method=method,
                         export=export, batch_size=4, max_steps=1, learning_rate=1e-3, save_steps=-1,
                         export_gguf="f32" if (method, export) == ("full", "merged") else "")
    result = train(config, progress=False)
    assert result.export is not None and not _has_template(result.export)
    backend = HFBackend(str(result.export), device="cpu", dtype="float32")
    assert backend.preferred_prompt == "alpaca"
    assert backend.chat_prompt(MESSAGES) is None
    if config.export_gguf:
        pytest.importorskip("llama_cpp")
        from tusk.backends.llamacpp import LlamaCppBackend

        gguf = LlamaCppBackend(str(tmp_path / "run" / "final.gguf"), n_ctx=256, threads=1)
        try:
            assert gguf.preferred_prompt == "alpaca" and gguf.chat_prompt(MESSAGES) is None
        finally:
            gguf._llm.close()
