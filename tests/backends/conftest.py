"""Fixtures for the backend tests: a tiny random Llama with a byte-level BPE tokenizer trained on the fly."""

from __future__ import annotations

from pathlib import Path

import pytest

CORPUS = [
    "Question: Natalia sold clips to 48 of her friends in April, and then she sold half as many in May.",
    "Let's think step by step. 48 / 2 = 24. 48 + 24 = 72. The answer is 72.",
    "```python\nprint(48 + 48 // 2)\n```",
    "Below is an instruction that describes a task. Write a response that appropriately completes the request.",
    "### Instruction:\nSolve the problem.\n\n### Response:\n",
]

CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


def build_tiny_model(path: Path, *, chat: bool = False, seed: int = 0) -> Path:
    """Write a 2-layer random Llama and its tokenizer to ``path`` (well under a second after imports)."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=["<s>", "</s>", "<pad>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(CORPUS * 20, trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", pad_token="<pad>")
    if chat:
        fast.chat_template = CHAT_TEMPLATE
    config = LlamaConfig(
        vocab_size=len(fast),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        bos_token_id=0,
        eos_token_id=1,
        pad_token_id=2,
        initializer_range=0.2,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    model.save_pretrained(path)
    fast.save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    pytest.importorskip("transformers")
    return build_tiny_model(tmp_path_factory.mktemp("tiny-llama"))


@pytest.fixture(scope="session")
def tiny_chat_model_dir(tmp_path_factory) -> Path:
    pytest.importorskip("transformers")
    return build_tiny_model(tmp_path_factory.mktemp("tiny-llama-chat"), chat=True)
