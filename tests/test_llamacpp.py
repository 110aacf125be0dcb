"""The real llama.cpp backend with the embedded SmolLM2 model (98 MB, shipped in a PyPI package)."""

from __future__ import annotations

import json

import pytest

from tusk.types import Request, SamplingParams

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def smollm():
    from tusk.backends import load_backend

    backend = load_backend("smollm2-135m", n_ctx=2048)
    yield backend
    backend.close()


def test_builtin_model_is_found_verified_and_uses_its_chat_template(smollm):
    assert smollm.describe()["sha256"] == "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
    assert smollm.preferred_prompt == "chat"
    prompt = smollm.chat_prompt([{"role": "user", "content": "What is 2+3?"}])
    assert "<|im_start|>user\nWhat is 2+3?<|im_end|>" in prompt and prompt.endswith("<|im_start|>assistant\n")


def test_greedy_generation_is_deterministic_and_respects_limits(smollm):
    sampling = SamplingParams(max_tokens=12, stop=("\n\n",))
    prompts = ["Question: what is 7 times 6?\nAnswer:", "List three colours:"]
    requests = [Request(str(i), p, sampling) for i, p in enumerate(prompts)]
    first = {g.request_id: g for g in smollm.generate(requests)}
    second = {g.request_id: g for g in smollm.generate(list(reversed(requests)))}
    assert set(first) == {"0", "1"}
    for rid, generation in first.items():
        assert generation.texts == second[rid].texts
        assert 0 < generation.completion_tokens <= 12
        assert "\n\n" not in generation.text
        assert generation.prompt_tokens > 0


def test_n_samples_at_temperature(smollm):
    sampling = SamplingParams(max_tokens=8, temperature=1.0, n=3, seed=1)
    (generation,) = smollm.generate([Request("x", "Once upon a time", sampling)])
    assert len(generation.texts) == 3 and len(generation.finish_reasons) == 3


def test_greedy_n_samples_are_decoded_once(smollm):
    (one,) = smollm.generate([Request("a", "Once upon a time", SamplingParams(max_tokens=8))])
    (three,) = smollm.generate([Request("b", "Once upon a time", SamplingParams(max_tokens=8, n=3))])
    assert three.texts == one.texts * 3 and three.completion_tokens == 3 * one.completion_tokens


def test_tusk_eval_runs_end_to_end_on_the_real_model(tmp_path):
    from tusk.cli import main

    out = tmp_path / "run"
    args = ["eval", "--model", "smollm2-135m", "--benchmarks", "smoke", "--limit", "3", "--max-tokens", "48",
            "--out", str(out), "--no-progress"]
    assert main(args) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["model"] == "smollm2-135m" and summary["benchmarks"]["smoke"]["n"] == 3
    rows = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    assert len(rows) == 3 and all(r["generations"][0] for r in rows)
    assert all("<|im_start|>" in r["prompt"] for r in rows)
    # a second run over the same directory has nothing left to do and changes nothing
    before = (out / "samples.jsonl").read_text()
    assert main(args) == 0
    assert (out / "samples.jsonl").read_text() == before


@pytest.mark.parametrize("signal_name", ["SIGKILL", "SIGINT"])
def test_killed_eval_resumes_without_redoing_samples(tmp_path, signal_name):
    import os
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "run"
    args = [sys.executable, "-m", "tusk.cli", "eval", "--model", "smollm2-135m", "--benchmarks", "smoke",
            "--limit", "8", "--max-tokens", "40", "--chunk-size", "2", "--out", str(out), "--no-progress"]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=os.environ.copy())
    samples = out / "samples.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if samples.exists() and len(samples.read_text().splitlines()) >= 3:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the run finished before it could be interrupted"
    proc.send_signal(getattr(signal, signal_name))
    proc.wait(timeout=60)
    first = [json.loads(line)["id"] for line in samples.read_text().splitlines()]
    assert 3 <= len(first) < 8
    if signal_name == "SIGINT":
        assert proc.returncode == 130
        assert json.loads((out / "summary.json").read_text())["complete"] is False
    done = subprocess.run(args, check=False, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    ids = [json.loads(line)["id"] for line in samples.read_text().splitlines()]
    assert ids[: len(first)] == first and len(ids) == len(set(ids)) == 8
    assert json.loads((out / "summary.json").read_text())["benchmarks"]["smoke"]["n"] == 8


@pytest.mark.parametrize("value", ["maybe", 2])
def test_dequantize_must_be_a_yes_or_no(value):
    from tusk.backends.llamacpp import LlamaCppBackend
    from tusk.errors import TuskError

    with pytest.raises(TuskError, match="dequantize=.* is not a boolean"):
        LlamaCppBackend("smollm2-135m", dequantize=value)
