"""The training loop end to end on tiny real models: run directory, resume invariance, export, EOS learned."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
from tusk_train_tiny import alpaca_records

from tusk.train.checkpoint import list_checkpoints
from tusk.train.config import TrainConfig
from tusk.train.loop import lr_lambda, train
from tusk.train.runlog import read_log


def _config(tmp_path, model_dir, name, **changes):
    data = tmp_path / "train.json"
    if not data.exists():
        data.write_text(json.dumps(alpaca_records() * 3))
    values = {"model": str(model_dir), "data": str(data), "out": str(tmp_path / name), "batch_size": 4,
              "grad_accum": 2, "max_steps": 6, "learning_rate": 3e-3, "lora_dropout": 0.0, "export": "none"}
    values.update(changes)
    return TrainConfig(**values)


def test_schedule_warms_up_then_decays_to_zero():
    f = lr_lambda(100, 3, "cosine")
    assert [round(f(s), 3) for s in range(3)] == [0.25, 0.5, 0.75]
    assert f(3) == 1.0 and f(99) == pytest.approx(0.0, abs=1e-3)
    assert all(f(s) >= f(s + 1) for s in range(3, 99))
    assert lr_lambda(10, 0, "constant")(5) == 1.0


@pytest.mark.slow
@pytest.mark.parametrize("method", ["full", "lora"])
def test_resumed_run_continues_with_the_same_data_and_loss_curve(tmp_path, tiny_qwen, method):
    straight = train(_config(tmp_path, tiny_qwen, "straight", method=method, save_steps=3, save_total_limit=0),
                     progress=False)
    assert [p.name for p in list_checkpoints(tmp_path / "straight")] == ["step-000003", "step-000006"]
    # an interrupted run: the same directory as it was right after the step-3 checkpoint
    shutil.copytree(tmp_path / "straight", tmp_path / "resumed")
    shutil.rmtree(tmp_path / "resumed/checkpoints/step-000006")
    resumed = train(_config(tmp_path, tiny_qwen, "resumed", method=method, save_steps=3, save_total_limit=0),
                    progress=False)
    assert resumed.resumed_from == 3
    assert len(resumed.losses) == 6  # the log keeps the first three steps and continues
    assert resumed.losses == pytest.approx(straight.losses, rel=1e-6)
    a = torch.load(tmp_path / "straight/checkpoints/step-000006/trainable.pt")
    b = torch.load(tmp_path / "resumed/checkpoints/step-000006/trainable.pt")
    assert a.keys() == b.keys() and all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)
    fresh = train(_config(tmp_path, tiny_qwen, "fresh", method=method, max_steps=6, resume="never"),
                  progress=False)
    assert fresh.losses == pytest.approx(straight.losses, rel=1e-6)


@pytest.mark.slow
@pytest.mark.parametrize("method", ["full", "lora"])
def test_run_directory_and_export_load_as_a_plain_hf_model(tmp_path, tiny_llama, method):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    result = train(_config(tmp_path, tiny_llama, "run", method=method, export="merged", export_gguf="f16"),
                   progress=False)
    out = tmp_path / "run"
    assert (out / "final.gguf").stat().st_size > 10_000
    assert (out / "config.yaml").is_file() and (out / "loss.png").stat().st_size > 1000
    log = read_log(out / "log.jsonl")
    steps = [r for r in log if "loss" in r and "event" not in r]
    assert [r["step"] for r in steps] == [1, 2, 3, 4, 5, 6]
    assert all(r["target_tokens"] > 0 and r["target_tokens_per_s"] > 0 and r["lr"] > 0 for r in steps)
    assert log[0]["encoding"]["kept"] == 21 and log[-1]["event"] == "end"
    assert not (out / "final" / "adapter_config.json").exists()
    model = AutoModelForCausalLM.from_pretrained(out / "final")
    tokenizer = AutoTokenizer.from_pretrained(out / "final")
    assert tokenizer.eos_token_id == tokenizer.pad_token_id
    assert sum(p.numel() for p in model.parameters()) == result.parameters - (
        result.trainable_parameters if method == "lora" else 0)
    # the exported weights are the trained ones: they give the same loss as the last checkpoint's model
    assert result.last_loss < result.first_loss


@pytest.mark.slow
def test_adapter_export_loads_in_the_hf_backend_from_any_directory(tmp_path, tiny_llama, monkeypatch):
    pytest.importorskip("peft")
    from tusk.backends.hf_load import resolve_source

    monkeypatch.chdir(tiny_llama.parent)  # the base model given as a relative path, as typed
    train(_config(tmp_path, tiny_llama.name, "run", method="lora", export="adapter", max_steps=2), progress=False)
    adapter = json.loads((tmp_path / "run/final/adapter_config.json").read_text())
    assert adapter["base_model_name_or_path"] == str(tiny_llama)
    monkeypatch.chdir(tmp_path)
    source = resolve_source(str(tmp_path / "run/final"))
    assert source.kind == "adapter" and source.base.kind == "dir"


@pytest.mark.slow
def test_eos_is_learned_when_pad_equals_eos(tmp_path, tiny_llama):
    """Trained to stop: after fine-tuning, greedy decoding of a training prompt ends with the response and
    then EOS (which is also the pad token)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from tusk.prompts import alpaca_prompt

    records = [{"instruction": "What is 12 plus 30?", "output": " 42."},
               {"instruction": "What is 3 times 4?", "output": " 12."}]
    data = tmp_path / "two.json"
    data.write_text(json.dumps(records))
    config = TrainConfig(model=str(tiny_llama), data=str(data), out=str(tmp_path / "eos"), batch_size=2,
                         max_steps=80, learning_rate=1e-2, warmup_ratio=0.0, lr_scheduler="constant",
                         export="merged")
    train(config, progress=False)
    model = AutoModelForCausalLM.from_pretrained(tmp_path / "eos/final")
    tokenizer = AutoTokenizer.from_pretrained(tmp_path / "eos/final")
    for record in records:
        prompt = tokenizer(alpaca_prompt(record["instruction"]), return_tensors="pt")
        out = model.generate(**prompt, max_new_tokens=12, do_sample=False, pad_token_id=tokenizer.pad_token_id)
        new = out[0, prompt["input_ids"].shape[1]:].tolist()
        assert tokenizer.eos_token_id in new, tokenizer.decode(new)
        stop = new.index(tokenizer.eos_token_id)
        assert tokenizer.decode(new[:stop]) == record["output"]
    # the same through tusk's hf backend, as tusk eval would run the fine-tuned model
    from tusk.backends import load_backend
    from tusk.types import Request, SamplingParams

    requests = [Request(id=str(i), prompt=alpaca_prompt(r["instruction"]), sampling=SamplingParams(max_tokens=12))
                for i, r in enumerate(records)]
    with load_backend(f"hf:{tmp_path / 'eos/final'}", device="cpu", dtype="float32") as backend:
        generations = {g.request_id: g for g in backend.generate(requests)}
    for i, record in enumerate(records):
        assert generations[str(i)].text == record["output"]
        assert generations[str(i)].finish_reasons[0] == "stop"


@pytest.mark.slow
def test_eval_hook_evaluates_each_checkpoint(tmp_path, tiny_llama):
    pytest.importorskip("tusk.evaluate")
    from tusk.train.eval_hook import make_eval_hook

    config = _config(tmp_path, tiny_llama, "run", max_steps=2, save_steps=1, export="merged",
                     eval_benchmarks="smoke", eval_limit=2, eval_mode="cot", eval_max_tokens=8)
    assert make_eval_hook(_config(tmp_path, tiny_llama, "x")) is None
    train(config, eval_hook=make_eval_hook(config), progress=False)
    evals = [r for r in read_log(tmp_path / "run/log.jsonl") if r.get("event") == "eval"]
    assert [r["step"] for r in evals] == [1, 2]
    for record in evals:
        assert "error" not in record["result"], record
        assert record["result"]["n"] == {"smoke": 2}
        assert 0.0 <= record["result"]["accuracy"]["smoke"] <= 1.0
    summary = json.loads((tmp_path / "run/evals/step-000001/summary.json").read_text())
    assert summary["model"].startswith("hf:")
    assert not (tmp_path / "run/checkpoints/eval-model-000001").exists()


@pytest.mark.slow
def test_resuming_with_another_data_plan_is_refused(tmp_path, tiny_llama):
    from tusk.errors import TuskError

    train(_config(tmp_path, tiny_llama, "run", max_steps=2, save_steps=1), progress=False)
    with pytest.raises(TuskError, match="data plan changed"):
        train(_config(tmp_path, tiny_llama, "run", max_steps=2, save_steps=1, batch_size=3), progress=False)


def test_progress_shows_step_loss_lr_and_rate_in_a_log(tmp_path, tiny_llama, monkeypatch, capsys):
    monkeypatch.setenv("TUSK_PROGRESS_INTERVAL", "0")
    result = train(_config(tmp_path, tiny_llama, "run", method="lora", max_steps=2), progress=True)
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("train: ")]
    assert [line.split(",")[0] for line in lines] == ["train: 1/2 (50%)", "train: 2/2 (100%)"]
    assert f"loss {result.losses[-1]:.4f}" in lines[-1] and "lr " in lines[-1] and "target tok/s" in lines[-1]
    assert "step/s" in lines[-1] or "s/step" in lines[-1]
