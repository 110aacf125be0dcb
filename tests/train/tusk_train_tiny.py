"""Helpers for the training tests: tiny real models, random Llama / Qwen2 weights from a config and byte-level BPE
tokenizers trained on the fly with ``tokenizers`` (no files from anywhere, well under a second)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from tusk.prompts import alpaca_prompt

EOS = "<|endoftext|>"
BOS = "<s>"

QUESTIONS = [
    "Natalia sold clips to 48 friends in April and half as many in May. How many clips did she sell?",
    "What is 12 plus 30?",
    "Compute $3^4$.",
    "Solve for x: 2x + 6 = 10.",
    "A train travels 60 miles in 1.5 hours. What is its speed?",
    "Find the remainder when 100 is divided by 7.",
]
OUTPUTS = [
    " Natalia sold 48/2 = 24 clips in May. In total 48+24 = 72. The answer is 72.",
    "12 + 30 = 42. The answer is 42.",
    "$3^4 = 81$. The answer is $\\boxed{81}$.",
    ":= subtract 6 then divide: x = 2. The answer is 2.",
    "\nspeed = 60 / 1.5 = 40\nThe answer is 40.",
    "```python\nprint(100 % 7)\n```",
]


def alpaca_records() -> list[dict[str, str]]:
    records = [{"instruction": q, "input": "", "output": o, "source": "hand", "mode": "cot"}
               for q, o in zip(QUESTIONS, OUTPUTS)]
    records.append({"instruction": "Add the numbers.", "input": "3 and 4", "output": "3 + 4 = 7. The answer is 7."})
    return records


def _corpus() -> list[str]:
    texts = []
    for record in alpaca_records():
        texts.append(alpaca_prompt(record["instruction"], record["input"]) + record["output"])
    # make boundary-crossing merges likely: ":$", ":=" and "e:T"-style pieces appear often
    texts += ["Response:$x$ Response:= Response:The answer is"] * 50
    return texts * 3


def build_tokenizer(kind: str = "byte", bos: bool = False, vocab_size: int = 384):
    """A fast tokenizer: ``byte`` = GPT-2-style byte-level BPE (pre-split by regex); ``nosplit`` = byte-level
    BPE without pre-splitting, so merges cross word and punctuation boundaries (like SentencePiece)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    if kind == "byte":
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    else:
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=[EOS, BOS],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(_corpus(), trainer)
    if bos:
        tok.post_processor = processors.Sequence([
            processors.ByteLevel(trim_offsets=True),
            processors.TemplateProcessing(single=f"{BOS} $A", special_tokens=[(BOS, tok.token_to_id(BOS))]),
        ])
    else:
        tok.post_processor = processors.ByteLevel(trim_offsets=True)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token=EOS, pad_token=EOS,
                                   bos_token=BOS if bos else None)
    return fast


def build_model_dir(path: Path, arch: str = "llama", tokenizer_kind: str = "byte", bos: bool = True,
                    seed: int = 0, tied: bool = False) -> Path:
    """Write a tiny random model + tokenizer into ``path`` (a plain HF folder); ``tied``: the output layer
    shares the embedding matrix (like SmolLM2 and Qwen2.5-0.5B)."""
    from transformers import AutoModelForCausalLM, LlamaConfig, Qwen2Config

    tokenizer = build_tokenizer(tokenizer_kind, bos=bos)
    common = {"vocab_size": len(tokenizer), "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2,
              "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 512,
              "eos_token_id": tokenizer.eos_token_id, "pad_token_id": tokenizer.pad_token_id,
              "bos_token_id": tokenizer.bos_token_id, "tie_word_embeddings": tied}
    config = LlamaConfig(**common) if arch == "llama" else Qwen2Config(**common)
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def sharpen_model_dir(path: Path, factor: float) -> Any:
    """Scale every weight but the norms of the model in ``path`` by ``factor`` (saved back; returned).

    Random tiny models have nearly uniform attention and next-token distributions; scaled up, attention is
    far from uniform and greedy choices are clear, so layouts can be told apart and decoding compared exactly.
    """
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(path)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "norm" not in name:
                param.mul_(factor)
    model.save_pretrained(path)
    return model


