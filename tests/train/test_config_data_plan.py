"""Config (paper defaults, YAML + overrides, documented fields), data readers, and the step plan."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from tusk_train_tiny import alpaca_records

from tusk.errors import DataError, TuskError
from tusk.train.config import TrainConfig, field_docs, load_config, parse_overrides, save_config
from tusk.train.data import load_examples
from tusk.train.plan import DataPlan


def test_defaults_are_the_papers_recipe():
    c = TrainConfig()
    assert (c.epochs, c.lr_scheduler, c.warmup_ratio, c.weight_decay, c.learning_rate, c.max_length,
            c.batch_size, c.method, c.precision) == (3.0, "cosine", 0.03, 0.0, 2e-5, 2048, 128, "full", "auto")


def test_every_field_is_documented():
    docs = field_docs()
    assert set(docs) == {f.name for f in dataclasses.fields(TrainConfig)}
    assert all(len(text) > 10 for text in docs.values())


def test_yaml_then_overrides_then_saved_and_reloaded(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("model: m\ndata: d.json\nlearning_rate: 1.0e-4\npacking: false\nepochs: 2\n")
    config = load_config(path, parse_overrides(["method=lora", "grad-accum=4", "packing=yes"]))
    assert (config.learning_rate, config.method, config.grad_accum, config.packing, config.epochs) == (
        1e-4, "lora", 4, True, 2.0)
    save_config(config, tmp_path / "saved.yaml")
    assert load_config(tmp_path / "saved.yaml") == config


@pytest.mark.parametrize("text,message", [
    ("lr: 1\n", "lr: unknown training option 'lr'"),
    ("batch_size: many\n", "batch_size: expected an integer, got 'many'"),
    ("method: qlora\n", "method: must be one of full, lora"),
    ("packing: maybe\n", "packing: expected a boolean, got 'maybe'"),
    ("- a\n- b\n", "must be a mapping"),
    ("warmup_ratio: 1.5\n", "warmup_ratio: must be in [0, 1)"),
])
def test_bad_configs_name_the_file_and_key(tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(TuskError) as err:
        load_config(path)
    assert str(err.value).startswith(f"{path}: ") and message in str(err.value)


def test_alpaca_json_with_extra_keys_jsonl_parquet_and_hf_dataset(tmp_path):
    records = alpaca_records()
    (tmp_path / "a.json").write_text(json.dumps(records))
    (tmp_path / "a.jsonl").write_text("\n".join(json.dumps(r) for r in records) + "\n")
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [{"instruction": r["instruction"], "input": r.get("input", ""), "output": r["output"]} for r in records]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "a.parquet")
    datasets = pytest.importorskip("datasets")
    datasets.Dataset.from_list(rows).save_to_disk(str(tmp_path / "hf"))
    loaded = [load_examples(tmp_path / name) for name in ("a.json", "a.jsonl", "a.parquet", "hf")]
    for examples in loaded:
        assert [(e.instruction, e.input, e.output) for e in examples] == [
            (r["instruction"], r.get("input", ""), r["output"]) for r in records]
    assert loaded[0][0].source == "hand" and loaded[0][0].mode == "cot"
    assert len(load_examples(tmp_path / "a.json", limit=2)) == 2


def test_bad_records_name_file_and_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps({"instruction": "q", "output": "a"}) + "\n" + json.dumps({"output": "a"}) + "\n")
    with pytest.raises(DataError, match=r"bad.jsonl: line 2: missing or empty 'instruction'"):
        load_examples(path)
    path.write_text("{not json\n")
    with pytest.raises(DataError, match="line 1: not valid JSON"):
        load_examples(path)
    with pytest.raises(DataError, match="does not exist"):
        load_examples(tmp_path / "missing.json")


def _plan(n=50, **kw):
    rng = np.random.default_rng(0)
    lengths = rng.integers(20, 400, n)
    return DataPlan(lengths=lengths, targets=lengths // 2, **{"batch_size": 8, **kw})


@pytest.mark.parametrize("packing", [True, False])
def test_each_epoch_visits_every_example_once_and_the_plan_is_deterministic(packing):
    plan = _plan(packing=packing, world_size=2, grad_accum=3)
    assert plan.steps_per_epoch == 7
    for epoch in range(2):
        seen = [i for s in range(epoch * 7, epoch * 7 + 7) for slot in plan.step(s).slots for i in slot]
        assert sorted(seen) == list(range(50))
    assert plan.step(3) == _plan(packing=packing, world_size=2, grad_accum=3).step(3)
    assert plan.order(0).tolist() != plan.order(1).tolist()


def test_slots_are_shared_fairly_between_ranks_and_micro_batches():
    plan = _plan(n=64, batch_size=32, world_size=2, grad_accum=2)
    step = plan.step(0)
    assert len(step.slots) == 4
    loads = [int(plan.lengths[list(s)].sum()) for s in step.slots]
    assert max(loads) - min(loads) <= int(plan.lengths.max())
    assert step.target_tokens == sum(int(plan.targets[list(s)].sum()) for s in step.slots)
    assert step.micro_batches(1, 2) == [step.slots[1], step.slots[3]]
    padded = _plan(n=64, batch_size=32, world_size=2, grad_accum=2, packing=False).step(0)
    widths = [plan.lengths[list(s)] for s in padded.slots]
    assert all(w.max() <= v.min() for w, v in zip(sorted(widths, key=np.max), sorted(widths, key=np.max)[1:]))


def test_shipped_configs_load():
    """Every recipe is a valid tusk config; every accelerate file is read by accelerate's own loader."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "configs"
    recipes = sorted((root / "train").glob("*.yaml"))
    assert {p.name for p in recipes} >= {"mammoth-7b.yaml", "mammoth-coder-34b.yaml", "smollm2-lora-cpu.yaml"}
    for path in recipes:
        load_config(path)
    seven = load_config(root / "train" / "mammoth-7b.yaml")
    assert (seven.learning_rate, seven.batch_size, seven.method) == (2e-5, 128, "full")
    assert load_config(root / "train" / "mammoth-coder-34b.yaml").learning_rate == 1e-5
    from accelerate.commands.config.config_args import load_config_from_file

    kinds = {p.name: str(load_config_from_file(str(p)).distributed_type)
             for p in sorted((root / "accelerate").glob("*.yaml"))}
    assert kinds["fsdp_8gpu.yaml"].endswith("FSDP") and kinds["deepspeed_zero3_8gpu.yaml"].endswith("DEEPSPEED")
    zero = json.loads((root / "accelerate" / "deepspeed_zero3.json").read_text())
    assert zero["zero_optimization"]["stage"] == 3
