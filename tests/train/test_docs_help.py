"""Small promises: every field is in the docs' table, boolean flags work alone or with a value, weight decay
spares biases and norm weights (as HF Trainer), the save_steps -1 interrupt message, no peft FutureWarning."""

from __future__ import annotations

import dataclasses
import re
import warnings
from pathlib import Path
from types import SimpleNamespace

from tusk.train import loop
from tusk.train.config import TrainConfig

DOCS = Path(__file__).parents[2] / "docs" / "TRAINING.md"


def test_every_field_is_in_the_docs_table():
    rows = [line for line in DOCS.read_text().splitlines() if line.startswith("| ")]
    first_cells = " ".join(row.split("|")[1] for row in rows).replace("adam_beta1/2", "adam_beta1 adam_beta2")
    named = set(re.findall(r"[a-z][a-z0-9_]+", first_cells))
    missing = [f.name for f in dataclasses.fields(TrainConfig) if f.name not in named]
    assert missing == []


def test_boolean_flags_alone_mean_true_and_take_a_value():
    import argparse

    from tusk.commands import train_cmd

    parser = argparse.ArgumentParser()
    train_cmd.add_arguments(parser)
    args = parser.parse_args(["--gradient-checkpointing", "--packing", "false", "--max-steps", "2"])
    assert train_cmd._overrides(args) == {"gradient_checkpointing": "true", "packing": "false", "max_steps": "2"}
    assert "--packing [BOOL]" in parser.format_help()


def test_weight_decay_spares_biases_and_norm_weights(tiny_qwen):
    from transformers import AutoModelForCausalLM

    from tusk.train.loading import optimizer_groups

    model = AutoModelForCausalLM.from_pretrained(tiny_qwen)
    names = {id(p): n for n, p in model.named_parameters()}
    decay, rest = optimizer_groups(model, 0.1)
    assert decay["weight_decay"] == 0.1 and rest["weight_decay"] == 0.0
    spared = {names[id(p)] for p in rest["params"]}
    assert spared and all(n.endswith(".bias") or "norm" in n for n in spared)
    assert any(n.endswith("q_proj.bias") for n in spared) and any("norm" in n for n in spared)
    assert not any(n.endswith(".bias") or "norm" in n for n in (names[id(p)] for p in decay["params"]))
    (only,) = optimizer_groups(model, 0.0)
    assert len(only["params"]) == len(list(model.parameters()))


def test_the_save_steps_minus_one_interrupt_message_says_why_nothing_was_saved(tmp_path, caplog):
    accelerator = SimpleNamespace(num_processes=1, is_main_process=True)
    with caplog.at_level("WARNING", logger="tusk.train.loop"):
        loop._save_on_interrupt(accelerator, None, None, None, tmp_path, None, TrainConfig(save_steps=-1),
                                finished=61, saved=0, rng=None, identity={})
    assert "interrupted after step 61" in caplog.text and "save_steps: -1" in caplog.text
    assert "no step finished" not in caplog.text


def test_lora_brings_no_future_warning(tiny_llama):
    from transformers import AutoModelForCausalLM

    from tusk.train.loading import apply_lora

    model = AutoModelForCausalLM.from_pretrained(tiny_llama)
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
        apply_lora(model, 4, 8, 0.0, "all-linear")


def test_a_gradient_checkpointing_lora_run_brings_no_future_warning(tmp_path, tiny_llama):
    import json

    from tusk_train_tiny import alpaca_records

    from tusk.train.loop import train

    (tmp_path / "t.json").write_text(json.dumps(alpaca_records()))
    config = TrainConfig(model=str(tiny_llama), data=str(tmp_path / "t.json"), out=str(tmp_path / "r"), max_steps=1,
                         batch_size=4, method="lora", gradient_checkpointing=True, export="none", save_steps=-1)
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        train(config, progress=False)
