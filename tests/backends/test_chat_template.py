"""Chat templates rendered by tusk for served models: read from GGUF files, folders and files, rendered as the
model's own tooling renders them."""

from __future__ import annotations

import json

import pytest

from tusk.backends.chat_template import load_chat_template
from tusk.errors import TuskError

MESSAGES = [{"role": "user", "content": "What is 2 + 3? Let's write a program."}]


def test_a_folder_renders_as_transformers_does(tiny_chat_model_dir):
    from tusk.backends.hf import HFBackend

    template = load_chat_template(str(tiny_chat_model_dir))
    with HFBackend(str(tiny_chat_model_dir)) as hf:
        assert template.render(MESSAGES) == hf.chat_prompt(MESSAGES)
    assert MESSAGES[0]["content"] in template.render(MESSAGES)


@pytest.mark.slow
def test_a_gguf_renders_as_llama_cpp_does():
    pytest.importorskip("gguf")
    pytest.importorskip("llama_cpp")
    from tusk.backends.llamacpp import LlamaCppBackend

    template = load_chat_template("smollm2-135m")  # a built-in name: its GGUF file's metadata
    assert template.bos_token == "<|im_start|>" and template.eos_token == "<|im_end|>"
    with LlamaCppBackend("smollm2-135m", threads=1) as llama:
        assert template.render(MESSAGES) == llama.chat_prompt(MESSAGES)


def test_what_transformers_templates_use_renders_as_there(tmp_path):
    from datetime import datetime

    (tmp_path / "t.jinja").write_text(
        "{% for m in messages %}{% if m['role'] == 'system' %}{% continue %}{% endif %}"
        "{% generation %}<{{ m['role'] }}>{% endgeneration %}{{ m['content'] }}{% if loop.index > 5 %}{% break %}"
        "{% endif %}{% endfor %}|{{ {'b': '<x>', 'a': 1} | tojson }}|{{ strftime_now('%Y') }}")
    rendered = load_chat_template(str(tmp_path / "t.jinja")).render(
        [{"role": "system", "content": "S"}, *MESSAGES])
    assert rendered == f"<user>{MESSAGES[0]['content']}|{{\"b\": \"<x>\", \"a\": 1}}|{datetime.now():%Y}"


def test_files_named_templates_and_special_tokens(tmp_path):
    (tmp_path / "tokenizer_config.json").write_text(json.dumps({
        "bos_token": {"content": "<s>"}, "eos_token": "</s>",
        "chat_template": [{"name": "tool_use", "template": "TOOLS"},
                          {"name": "default", "template": "{{ bos_token }}{% for m in messages %}[{{ m['role'] }}] "
                                                          "{{ m['content'] }}{{ eos_token }}{% endfor %}"
                                                          "{% if add_generation_prompt %}[assistant] {% endif %}"}],
    }))
    rendered = load_chat_template(str(tmp_path)).render([{"role": "user", "content": "hi"}])
    assert rendered == "<s>[user] hi</s>[assistant] "
    (tmp_path / "t.jinja").write_text("{{ raise_exception('only system turns') }}")
    with pytest.raises(TuskError, match="t.jinja: only system turns"):
        load_chat_template(str(tmp_path / "t.jinja")).render(MESSAGES)
    (tmp_path / "sandbox.jinja").write_text("{{ ''.__class__.__mro__[1].__subclasses__() }}")
    with pytest.raises(TuskError, match="sandbox.jinja"):  # templates run sandboxed
        load_chat_template(str(tmp_path / "sandbox.jinja")).render(MESSAGES)
    (tmp_path / "yaml.jinja").write_text("lr: [1\nx")  # renders, but not a conversation
    with pytest.raises(TuskError, match="yaml.jinja is not a chat template"):
        load_chat_template(str(tmp_path / "yaml.jinja"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(TuskError, match="no chat_template.jinja or tokenizer_config.json"):
        load_chat_template(str(tmp_path / "empty"))
    with pytest.raises(TuskError, match="no such file, folder or built-in model"):
        load_chat_template(str(tmp_path / "nope"))
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain/tokenizer_config.json").write_text(json.dumps({"eos_token": "</s>"}))
    with pytest.raises(TuskError, match="no chat template in it"):
        load_chat_template(str(tmp_path / "plain"))
