"""Bad settings and inputs fail early with one line naming the field, file or line: config ranges and
combinations, benchmark names, LoRA target modules, non-UTF-8 data, build folders and missing model folders."""

from __future__ import annotations

import json
import logging

import pytest
from tusk_train_tiny import alpaca_records

from tusk.errors import DataError, TuskError
from tusk.train.config import load_config, parse_overrides
from tusk.train.data import load_examples
from tusk.train.loading import apply_lora, load_model, resolve_model_dir


@pytest.mark.parametrize("overrides,message", [
    ({"method": "full", "export": "adapter"}, "export=adapter needs method=lora"),
    ({"logging_steps": "0"}, "logging_steps: must be at least 1, got 0"),
    ({"method": "lora", "lora_r": "0"}, "lora_r: must be at least 1, got 0"),
    ({"limit": "-1"}, "limit: must be at least 0, got -1"),
    ({"save_steps": "-2"}, "save_steps: must be at least -1"),
    ({"lora_dropout": "1.5"}, "lora_dropout: must be in [0, 1)"),
    ({"adam_beta2": "1"}, "adam_beta2: must be in [0, 1)"),
    ({"weight_decay": "-0.1"}, "weight_decay: must not be negative"),
    ({"learning_rate": "nan"}, "learning_rate: must be positive"),
    ({"eval_benchmarks": "gsm8k, gsm8kk"}, "eval_benchmarks: unknown benchmark 'gsm8kk' (known: gsm8k"),
    ({"method": "lora", "lora_target_modules": " , "}, "lora_target_modules: empty"),
])
def test_bad_settings_are_refused_before_any_work(overrides, message):
    with pytest.raises(TuskError) as err:
        load_config(None, {"model": "m", "data": "d", **overrides})
    assert message in str(err.value) and "\n" not in str(err.value)
    assert str(err.value).startswith("override: ")  # where the bad value came from


def test_config_errors_name_the_file_and_key_like_data_build(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("model: m\ndata: d\nadam_beta1: 1.5\nbatch_size: 0\n")
    with pytest.raises(TuskError) as err:
        load_config(path, {"lora_r": "0"})
    assert str(err.value) == (f"{path}: batch_size: must be at least 1, got 0; adam_beta1: must be in [0, 1), "
                              "got 1.5; override: lora_r: must be at least 1, got 0")
    path.write_text("adam_beta1: high\n")
    with pytest.raises(TuskError, match=f"^{path}: adam_beta1: expected a number, got 'high'$"):
        load_config(path)


def test_good_settings_pass_and_benchmark_names_are_matched_like_tusk_eval():
    config = load_config(None, parse_overrides(["eval-benchmarks=GSM8K,mmlu-math", "method=lora",
                                                "export=adapter", "save_steps=-1", "limit=0"]))
    assert config.eval_benchmarks == "GSM8K,mmlu-math"


def test_lora_target_modules_are_checked_against_the_model(tiny_llama):
    pytest.importorskip("peft")
    model = load_model(str(tiny_llama), None, "sdpa")
    with pytest.raises(TuskError, match=r"no module named nonexistent in this model; its linear layers: .*q_proj"):
        apply_lora(model, 4, 8, 0.0, "q_proj,nonexistent")
    with pytest.raises(TuskError, match="lora_target_modules='self_attn'"):  # a module LoRA cannot wrap
        apply_lora(load_model(str(tiny_llama), None, "sdpa"), 4, 8, 0.0, "self_attn")
    wrapped = apply_lora(load_model(str(tiny_llama), None, "sdpa"), 4, 8, 0.0, "q_proj, v_proj")
    assert any("lora_A" in name for name, _ in wrapped.named_parameters())


def test_model_paths_are_absolute_and_a_missing_folder_is_named(tmp_path, tiny_llama, monkeypatch):
    monkeypatch.chdir(tiny_llama.parent)
    assert resolve_model_dir(tiny_llama.name) == str(tiny_llama)
    assert resolve_model_dir(f"hf:./{tiny_llama.name}") == str(tiny_llama)
    for missing in ("/nonexistent", "./nope", "a/b/c"):
        with pytest.raises(TuskError, match="model folder .* does not exist"):
            resolve_model_dir(missing)
    assert resolve_model_dir("HuggingFaceTB/SmolLM2-135M") == "HuggingFaceTB/SmolLM2-135M"  # hub ids stay
    with pytest.raises(TuskError, match="is not an HF model folder"):
        resolve_model_dir(str(tmp_path))


def test_non_utf8_data_names_the_file_and_line(tmp_path):
    good = json.dumps({"instruction": "q", "output": "a"}).encode()
    latin = json.dumps({"instruction": "caf\u00e9", "output": "a"}, ensure_ascii=False).encode("latin-1")
    (tmp_path / "bad.jsonl").write_bytes(good + b"\n" + latin + b"\n")
    with pytest.raises(DataError, match=r"bad.jsonl: line 2: not UTF-8 text"):
        load_examples(tmp_path / "bad.jsonl")
    (tmp_path / "bad.json").write_bytes(b"[\n" + good + b",\n" + latin + b"\n]")
    with pytest.raises(DataError, match=r"bad.json: line 3: not UTF-8 text"):
        load_examples(tmp_path / "bad.json")
    (tmp_path / "bom.json").write_bytes(b"\xef\xbb\xbf[" + good + b"]")  # UTF-8 with a byte-order mark is fine
    assert load_examples(tmp_path / "bom.json")[0].instruction == "q"


def test_a_data_build_folder_means_its_train_json(tmp_path, caplog):
    build = tmp_path / "build"
    build.mkdir()
    (build / "train.json").write_text(json.dumps(alpaca_records()))
    (build / "manifest.json").write_text("{}")
    with caplog.at_level(logging.INFO, logger="tusk.train.data"):
        examples = load_examples(build)
    assert len(examples) == len(alpaca_records())
    assert "train.json" in caplog.text


def test_no_progress_silences_the_datasets_bars_while_loading(tmp_path, monkeypatch):
    datasets = pytest.importorskip("datasets")
    from datasets.utils import logging as ds_logging

    datasets.Dataset.from_list(alpaca_records()).save_to_disk(str(tmp_path / "hf"))
    real, seen = datasets.load_from_disk, []

    def load(*args, **kwargs):
        seen.append(ds_logging.is_progress_bar_enabled())
        return real(*args, **kwargs)

    monkeypatch.setattr(datasets, "load_from_disk", load)
    load_examples(tmp_path / "hf", progress=False)
    load_examples(tmp_path / "hf", progress=True)
    assert seen == [False, True] and ds_logging.is_progress_bar_enabled()


def test_eval_benchmarks_paper_means_the_nine_like_tusk_eval(tmp_path, monkeypatch):
    import tusk.evaluate
    import tusk.train.eval_hook
    from tusk.benchmarks import PAPER_BENCHMARKS
    from tusk.train.eval_hook import make_eval_hook

    monkeypatch.setattr(tusk.train.eval_hook, "check_eval_data", lambda names, data_dir: None)  # no data here

    assert len(PAPER_BENCHMARKS) == 9
    config = load_config(None, {"eval_benchmarks": "paper", "eval_limit": "0", "out": str(tmp_path)})
    seen = []
    monkeypatch.setattr(tusk.evaluate, "evaluate", lambda c, progress: seen.append(c) or {"benchmarks": {}})
    make_eval_hook(config)(tmp_path / "model", 3)
    assert seen[0].benchmarks == PAPER_BENCHMARKS
    assert seen[0].limit is None  # eval_limit 0: every problem
    assert seen[0].prompt == "alpaca"
    mixed = load_config(None, {"eval_benchmarks": "gsm8k, paper"})
    assert make_eval_hook(mixed) is not None
    with pytest.raises(TuskError, match="unknown benchmark 'papers'"):
        load_config(None, {"eval_benchmarks": "papers"})
