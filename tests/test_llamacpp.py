"""The real llama.cpp backend with the embedded SmolLM2 model (98 MB, shipped in a PyPI package)."""

from __future__ import annotations

import json
import os
import shutil

import pytest

from tusk.errors import TuskError
from tusk.types import Request, SamplingParams

pytest.importorskip("llama_cpp")


@pytest.fixture(scope="module")
def smollm():
    from tusk.backends import load_backend

    backend = load_backend("smollm2-135m", n_ctx=2048)
    yield backend
    backend.close()


@pytest.mark.slow
def test_builtin_model_is_found_verified_and_uses_its_chat_template(smollm):
    assert smollm.describe()["sha256"] == "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
    assert smollm.preferred_prompt == "chat"
    prompt = smollm.chat_prompt([{"role": "user", "content": "What is 2+3?"}])
    assert "<|im_start|>user\nWhat is 2+3?<|im_end|>" in prompt and prompt.endswith("<|im_start|>assistant\n")


@pytest.mark.slow
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


@pytest.mark.slow
def test_n_samples_at_temperature(smollm):
    sampling = SamplingParams(max_tokens=8, temperature=1.0, n=3, seed=1)
    (generation,) = smollm.generate([Request("x", "Once upon a time", sampling)])
    assert len(generation.texts) == 3 and len(generation.finish_reasons) == 3


@pytest.mark.slow
def test_greedy_n_samples_are_decoded_once(smollm):
    (one,) = smollm.generate([Request("a", "Once upon a time", SamplingParams(max_tokens=8))])
    (three,) = smollm.generate([Request("b", "Once upon a time", SamplingParams(max_tokens=8, n=3))])
    assert three.texts == one.texts * 3 and three.completion_tokens == 3 * one.completion_tokens


@pytest.mark.slow
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


@pytest.mark.slow
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


@pytest.mark.parametrize(
    "options, message",
    [
        ({"bogus": 1}, r"unknown option bogus; its options are n_ctx, threads, seed, dequantize, .*llama_cpp\.Llama\(\)"),
        ({"bogus": 1, "n_gpu_layer": 9}, "unknown options bogus, n_gpu_layer;"),
        ({"n_ctx": "abc"}, "option n_ctx='abc' is not an integer"),
        ({"n_ctx": -5}, "option n_ctx=-5 must be at least 0"),
        ({"threads": 1.5}, "option threads=1.5 is not an integer"),
        ({"threads": 0}, "option threads=0 must be at least 1"),
        ({"n_threads": "many"}, "option n_threads='many' is not an integer"),
        ({"seed": True}, "option seed=True is not an integer"),
        ({"dequantize": True, "flash_attn": True}, "dequantize=true sets flash_attn itself"),
        # Llama() parameters are checked against its annotations, naming the option
        ({"flash_attn": "maybe"}, "llamacpp backend: option flash_attn='maybe' is not a boolean"),
        ({"n_gpu_layers": "abc"}, "llamacpp backend: option n_gpu_layers='abc' is not an integer"),
        ({"rope_freq_base": "high"}, "llamacpp backend: option rope_freq_base='high' is not a number"),
        ({"type_k": 1.5}, "llamacpp backend: option type_k=1.5 is not an integer"),
        ({"kv_overrides": "x"}, "llamacpp backend: option kv_overrides takes a JSON object"),
        ({"tensor_split": "a,b"}, "option tensor_split='a,b' is not a comma-separated list of numbers"),
        ({"draft_model": "x"}, "option draft_model takes a LlamaDraftModel object, which cannot be given as text"),
    ],
)
def test_bad_options_are_refused_before_loading(options, message):
    from tusk.backends.llamacpp import LlamaCppBackend

    with pytest.raises(TuskError, match=message):
        LlamaCppBackend("smollm2-135m", **options)


def test_llama_parameters_given_as_text_are_converted():
    import llama_cpp

    from tusk.backends.llamacpp import llama_passthrough

    given = {"n_gpu_layers": "12", "flash_attn": "true", "rope_freq_base": "10000", "type_k": None, "numa": False,
             "tensor_split": "0.5,0.5", "kv_overrides": '{"tokenizer.ggml.add_bos_token": false}'}
    assert llama_passthrough(llama_cpp.Llama, given) == {
        "n_gpu_layers": 12, "flash_attn": True, "rope_freq_base": 10000.0, "type_k": None, "numa": False,
        "tensor_split": [0.5, 0.5], "kv_overrides": {"tokenizer.ggml.add_bos_token": False}}


def test_a_file_that_is_not_gguf_is_refused(tmp_path):
    from tusk.backends import load_backend

    fake = tmp_path / "notes.gguf"
    fake.write_text("root:x:0:0:root:/root:/bin/bash\n")
    with pytest.raises(TuskError, match="notes.gguf is not a GGUF file"):
        load_backend(f"llamacpp:{fake}")


def test_eval_cli_names_an_unknown_backend_option_in_one_line(tmp_path, capsys):
    from tusk.cli import main

    args = ["eval", "--model", "smollm2-135m", "--benchmarks", "smoke", "--limit", "1", "--out", str(tmp_path),
            "--no-progress", "--backend-option", "bogus=1"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "unknown option bogus" in err and err.count("\n") == 1


@pytest.mark.slow
def test_llama_parameters_pass_through_and_the_context_window_is_enforced():
    from tusk.backends import load_backend

    # YAML-parsed --backend-option values: n_batch and n_gpu_layers are Llama() parameters, n_ctx is tusk's own
    with load_backend("smollm2-135m", n_ctx=64, n_batch=16, n_gpu_layers=0, threads=1) as backend:
        assert backend._llm.n_batch == 16 and backend.n_ctx == 64
        # options that may change llama.cpp's numbers identify the run (generation cache, resume)
        assert backend.describe()["llama_options"] == {"n_batch": 16, "n_gpu_layers": 0}
        long_prompt = "Question: what is 7 times 6? " * 10
        tokens = backend.count_tokens(long_prompt)
        assert tokens > 64
        with pytest.raises(TuskError, match=f"request long: the prompt has {tokens} tokens.*n_ctx=64"):
            list(backend.generate([Request("long", long_prompt, SamplingParams(max_tokens=4))]))
        # a prompt that fits, asking for more tokens than the window has left, stops where the window is full
        (gen,) = backend.generate([Request("fits", "Once upon a time", SamplingParams(max_tokens=200))])
        assert gen.prompt_tokens == backend.count_tokens("Once upon a time")
        assert gen.prompt_tokens + gen.completion_tokens <= 64 and gen.finish_reasons == ("length",)


@pytest.mark.slow
def test_weights_replaced_at_the_same_path_are_another_model(tmp_path):
    from tusk import models
    from tusk.backends import load_backend
    from tusk.backends.cached import CachedBackend

    path = tmp_path / "model.gguf"
    shutil.copyfile(models.resolve_model_path("smollm2-135m"), path)
    os.utime(path, ns=(1_700_000_000_000_000_000, 1_700_000_000_000_000_000))
    requests = [Request("a", "Once upon a time", SamplingParams(max_tokens=4))]
    cache = tmp_path / "cache"
    with CachedBackend(load_backend(f"llamacpp:{path}", n_ctx=256), cache) as first:
        before = first.inner.describe()
        list(first.generate(requests))
    assert before["size"] == path.stat().st_size and before["sha256"] == models.BUILTIN_MODELS["smollm2-135m"].sha256
    assert "mtime_ns" not in before
    # the same bytes written again later, or copied to another folder: the same model, its generations reused
    copy = tmp_path / "elsewhere" / "copy.gguf"
    copy.parent.mkdir()
    shutil.copyfile(path, copy)
    shutil.copyfile(models.resolve_model_path("smollm2-135m"), path)
    os.utime(path, ns=(1_800_000_000_000_000_000, 1_800_000_000_000_000_000))
    for same_weights in (path, copy):
        with CachedBackend(load_backend(f"llamacpp:{same_weights}", n_ctx=256), cache) as same:
            list(same.generate(requests))
            assert same.hits == 1
    # other weights at the same path (here a few bytes more): nothing cached may be reused
    with open(path, "ab") as out:
        out.write(bytes(32))
    with CachedBackend(load_backend(f"llamacpp:{path}", n_ctx=256), cache) as replaced:
        assert replaced.inner.describe()["sha256"] != before["sha256"]
        list(replaced.generate(requests))
        assert replaced.hits == 0 and replaced.misses == 1


@pytest.mark.slow
def test_a_context_window_other_than_the_default_is_another_model_to_the_cache(tmp_path):
    from tusk.backends import load_backend
    from tusk.backends.cached import CachedBackend

    with load_backend("smollm2-135m", threads=1) as default, \
            load_backend("smollm2-135m", n_ctx=4096, threads=1) as explicit:
        assert "n_ctx" not in default.describe()  # runs and caches made with the default keep their identity
        assert explicit.describe() == default.describe()
    prompt = "Once upon a time"
    requests = [Request("a", prompt, SamplingParams(max_tokens=40))]
    with CachedBackend(load_backend("smollm2-135m", n_ctx=24, threads=1), tmp_path) as small:
        assert small.inner.describe()["n_ctx"] == 24
        (cut,) = small.generate(requests)
        assert cut.finish_reasons == ("length",) and cut.completion_tokens < 40
    with CachedBackend(load_backend("smollm2-135m", threads=1), tmp_path) as big:
        (full,) = big.generate(requests)
        assert big.hits == 0  # the generation cut short by the small window is not reused
        assert full.completion_tokens > cut.completion_tokens


@pytest.mark.slow
def test_sampling_is_plain_temperature_sampling_over_the_whole_vocabulary(smollm):
    """No hidden top-k 40 / min-p 0.05: at a high temperature nearly every draw lies outside the 40 likeliest
    first tokens (they would all lie inside with llama-cpp-python's defaults)."""
    import llama_cpp

    prompt = "Question: what is 7 times 6?\nAnswer:"
    scorer = llama_cpp.Llama(smollm._llm.model_path,
                             n_ctx=256, logits_all=True, verbose=False, n_threads=1)
    try:
        top = scorer.create_completion(prompt, max_tokens=1, temperature=0, logprobs=40)
        likeliest = set(top["choices"][0]["logprobs"]["top_logprobs"][0])
    finally:
        scorer.close()
    assert len(likeliest) == 40
    requests = [Request(str(seed), prompt, SamplingParams(max_tokens=1, temperature=50.0, seed=seed))
                for seed in range(12)]
    draws = [generation.text for generation in smollm.generate(requests)]
    outside = [text for text in draws if text not in likeliest]
    assert len(outside) >= 6, (draws, sorted(likeliest))
    # runs and cached generations of the earlier sampler (no "sampler" in their identity) are another model
    assert smollm.describe()["sampler"] == "plain"
