"""The hf backend on a tiny random Llama: batching, stop strings, max tokens, n samples, loading paths."""

from __future__ import annotations

import json

import pytest

from tusk.errors import TuskError
from tusk.types import Request, SamplingParams

pytest.importorskip("transformers")

from tusk.backends.hf import HFBackend

PROMPTS = [f"Question: {i} clips and {i * 7} friends in April. Let's think step by step." for i in range(9)]


def _prompts(sampling: SamplingParams, prompts=PROMPTS) -> list[Request]:
    return [Request(f"q{i}", p + " " * (i % 3) + "x" * i, sampling) for i, p in enumerate(prompts)]


@pytest.fixture(scope="module", params=["padded", "continuous"])
def backend(tiny_model_dir, request):
    """Both batching modes pass every test below (comparisons are against padded backends)."""
    with HFBackend(str(tiny_model_dir), batch_size=4, batching=request.param) as b:
        yield b


def _by_id(gens):
    out = {}
    for g in gens:
        assert g.request_id not in out, "duplicate generation"
        out[g.request_id] = g
    return out


def test_one_generation_per_request_with_counts(backend):
    requests = _prompts(SamplingParams(max_tokens=12))
    gens = _by_id(backend.generate(requests))
    assert set(gens) == {r.id for r in requests}
    for r in requests:
        g = gens[r.id]
        assert len(g.texts) == 1 and len(g.finish_reasons) == 1
        assert 0 < g.completion_tokens <= 12
        assert g.prompt_tokens == len(backend.tokenizer(r.prompt)["input_ids"])
        assert g.finish_reasons[0] in ("stop", "length")
        assert (g.finish_reasons[0] == "length") == (g.completion_tokens == 12)


def test_batched_greedy_equals_one_at_a_time(tiny_model_dir, backend):
    requests = _prompts(SamplingParams(max_tokens=16))
    batched = _by_id(backend.generate(requests))
    with HFBackend(str(tiny_model_dir), batch_size=1) as single:
        alone = _by_id(single.generate(requests))
    assert {k: g.texts for k, g in batched.items()} == {k: g.texts for k, g in alone.items()}
    again = _by_id(backend.generate(list(reversed(requests))))
    assert {k: g.texts for k, g in again.items()} == {k: g.texts for k, g in batched.items()}


def test_stop_string_cuts_before_it(backend):
    free = _by_id(backend.generate(_prompts(SamplingParams(max_tokens=24))))
    cases = []
    for request in _prompts(SamplingParams(max_tokens=24)):
        text = free[request.id].text
        if len(text) >= 8:
            stop = text[4:7]
            cases.append((request, stop, text[: text.find(stop)]))
    assert len(cases) >= 3, "the tiny model should talk for a few characters"
    requests = [
        Request(r.id, r.prompt, SamplingParams(max_tokens=24, stop=("NEVER", s))) for r, s, _ in cases
    ]
    gens = _by_id(backend.generate(requests))
    for request, stop, expected in cases:
        g = gens[request.id]
        assert g.text == expected
        assert stop not in g.text
        assert g.finish_reasons == ("stop",)
        assert (
            g.completion_tokens < free[request.id].completion_tokens
            or free[request.id].completion_tokens < 24
        )


def test_per_row_max_tokens_in_one_batch(backend):
    requests = [Request(f"m{k}", PROMPTS[0], SamplingParams(max_tokens=k)) for k in (1, 3, 7)]
    gens = _by_id(backend.generate(requests))
    for k in (1, 3, 7):
        assert gens[f"m{k}"].completion_tokens <= k
    # a shorter budget yields a prefix of the longer greedy text
    assert gens["m7"].text.startswith(gens["m3"].text)


def test_n_samples(backend):
    greedy = _by_id(backend.generate([Request("g", PROMPTS[1], SamplingParams(max_tokens=8, n=3))]))["g"]
    assert len(greedy.texts) == 3 and len(set(greedy.texts)) == 1
    sampled = SamplingParams(max_tokens=10, n=4, temperature=1.5, seed=7)
    first = _by_id(backend.generate([Request("s", PROMPTS[1], sampled)]))["s"]
    assert len(first.texts) == 4 and len(first.finish_reasons) == 4
    assert len(set(first.texts)) > 1, "temperature 1.5 on a random model should not repeat itself 4 times"
    second = _by_id(backend.generate([Request("s", PROMPTS[1], sampled)]))["s"]
    assert second.texts == first.texts, "same seed, same batch: same samples"


def test_samples_do_not_depend_on_batching_and_never_repeat_across_batches(tiny_model_dir, backend):
    sampled = SamplingParams(max_tokens=10, n=6, temperature=1.5, seed=3)
    others = _prompts(SamplingParams(max_tokens=6, temperature=1.5, seed=3))[:3]
    target = Request("s", PROMPTS[4], sampled)
    reference = _by_id(backend.generate([target]))["s"].texts  # batch size 4: rows split over two batches
    assert len(set(reference)) == 6, "each sample is its own draw (no batch repeats another's)"
    with HFBackend(str(tiny_model_dir), batch_size=1) as single:
        assert _by_id(single.generate([*others, target]))["s"].texts == reference
    with HFBackend(str(tiny_model_dir), batch_size=16) as wide:
        assert _by_id(wide.generate([target, *reversed(others)]))["s"].texts == reference
    reseeded = _by_id(backend.generate([Request("s", PROMPTS[4], SamplingParams(max_tokens=10, n=6,
                                                                                temperature=1.5, seed=4))]))
    assert reseeded["s"].texts != reference


def test_row_sampler_draws_from_the_softmax_and_respects_top_p():
    import torch

    from tusk.backends.hf_sampling import RowSampler, row_key, uniform_noise

    keys = [row_key(0, "p", i) for i in range(20000)]
    logits = torch.tensor([[2.0, 1.0, 0.0, -1.0, -3.0]]).repeat(len(keys), 1)
    ids = torch.zeros((len(keys), 7), dtype=torch.long)
    picks = RowSampler(keys, 1.0, 1.0, 5, "cpu")(ids, logits).argmax(-1)
    observed = torch.bincount(picks, minlength=5).double() / len(keys)
    assert torch.allclose(observed, logits[0].softmax(-1).double(), atol=0.012)
    hot = RowSampler(keys, 2.0, 1.0, 5, "cpu")(ids, logits).argmax(-1)
    assert torch.allclose(torch.bincount(hot, minlength=5).double() / len(keys),
                          (logits[0] / 2).softmax(-1).double(), atol=0.012)
    nucleus = RowSampler(keys, 1.0, 0.8, 5, "cpu")(ids, logits).argmax(-1)  # 0.665 + 0.245 reaches 0.8
    assert set(nucleus.tolist()) == {0, 1}
    u = uniform_noise(torch.tensor(keys[:64]), 3, 1000)
    assert 0 < u.min() and u.max() < 1 and abs(u.mean().item() - 0.5) < 0.01
    assert not torch.equal(uniform_noise(torch.tensor(keys[:2]), 3, 50), uniform_noise(torch.tensor(keys[:2]), 4, 50))


def test_mixed_sampling_settings_in_one_call(backend):
    requests = _prompts(SamplingParams(max_tokens=6))[:4] + [
        Request("hot", PROMPTS[2], SamplingParams(max_tokens=6, temperature=0.8, n=2)),
    ]
    gens = _by_id(backend.generate(requests))
    assert set(gens) == {r.id for r in requests}
    assert len(gens["hot"].texts) == 2


def test_generate_streams(backend):
    requests = _prompts(SamplingParams(max_tokens=4))
    stream = backend.generate(requests)
    first = next(stream)
    assert first.request_id in {r.id for r in requests}
    rest = list(stream)
    assert len(rest) == len(requests) - 1


def test_chat_prompt(tiny_chat_model_dir, backend):
    assert backend.chat_prompt([{"role": "user", "content": "hi"}]) is None
    assert backend.preferred_prompt == "alpaca"
    with HFBackend(str(tiny_chat_model_dir)) as chat:
        assert chat.preferred_prompt == "chat"
        text = chat.chat_prompt([{"role": "user", "content": "2+2?"}])
        assert text == "<|user|>2+2?\n<|assistant|>"


def test_describe_identifies_weights(backend, tiny_model_dir):
    info = backend.describe()
    assert info["backend"] == "hf" and info["model"] == str(tiny_model_dir)
    assert info["dtype"] == "float32" and info["device"] == "cpu"
    assert "model.safetensors" in json.dumps(info["weights"])


def test_bad_options_prompts_and_weights_are_one_line_errors(tiny_model_dir, backend, tmp_path):
    import shutil

    import torch

    for options, message in [({"batch_size": -1}, "batch_size must be a positive integer"),
                             ({"batch_size": "abc"}, "batch_size must be a positive integer"),
                             ({"threads": 0}, "threads must be a positive integer")]:
        with pytest.raises(TuskError, match=message):
            HFBackend(str(tiny_model_dir), **options)
    if not torch.cuda.is_available():
        with pytest.raises(TuskError, match="sees no CUDA device"):
            HFBackend(str(tiny_model_dir), device="cuda")
    with pytest.raises(TuskError, match="device='meta' is not one of auto, cpu, cuda"):
        HFBackend(str(tiny_model_dir), device="meta")
    if not torch.backends.mps.is_available():
        with pytest.raises(TuskError, match="sees no Apple GPU"):
            HFBackend(str(tiny_model_dir), device="mps")
    with pytest.raises(TuskError, match="base_model=.* is for PEFT adapters"):
        HFBackend(str(tiny_model_dir), base_model=str(tiny_model_dir))
    # a budget past the context generates what fits and ends as "length"; a prompt filling it is refused
    long = _by_id(backend.generate([Request("long", "hi", SamplingParams(max_tokens=10_000))]))["long"]
    assert long.finish_reasons == ("length",) or long.completion_tokens < 512
    assert long.prompt_tokens + long.completion_tokens <= 512
    too_long = Request("huge", "hi " * 600, SamplingParams(max_tokens=4))
    with pytest.raises(TuskError, match="request huge: its .* prompt tokens fill the model's context of 512"):
        list(backend.generate([too_long]))
    damaged = tmp_path / "damaged"
    shutil.copytree(tiny_model_dir, damaged)
    weights = damaged / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:3000])
    with pytest.raises(TuskError, match="cannot load"):
        HFBackend(str(damaged))


def test_ignore_eos_is_part_of_the_identity(tiny_model_dir, backend):
    with HFBackend(str(tiny_model_dir), ignore_eos="true") as free:
        assert free.describe()["ignore_eos"] is True
    assert "ignore_eos" not in backend.describe()


def test_bad_targets(tmp_path):
    with pytest.raises(TuskError, match="does not exist"):
        HFBackend(str(tmp_path / "missing.gguf"))
    with pytest.raises(TuskError, match="without config.json"):
        HFBackend(str(tmp_path))
    with pytest.raises(TuskError, match="not found"):
        HFBackend("./no/such/model")
    with pytest.raises(TuskError, match="unknown dtype"):
        HFBackend("./no/such/model", dtype="float7")
    with pytest.raises(TuskError, match="unknown option n_gpu_layers; its options are device, dtype"):
        HFBackend("./no/such/model", n_gpu_layers=9)  # refused before anything loads


@pytest.mark.filterwarnings("ignore:.*is_gradient_checkpointing:FutureWarning")  # peft on transformers 5
def test_peft_adapter_on_its_base(tiny_model_dir, tmp_path, backend):
    peft = pytest.importorskip("peft")
    import torch
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    config = peft.LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    adapted = peft.get_peft_model(base, config)
    with torch.no_grad():
        for name, param in adapted.named_parameters():
            if "lora_B" in name:
                param.fill_(0.5)
    adapted.save_pretrained(tmp_path / "adapter")
    requests = _prompts(SamplingParams(max_tokens=10))[:4]
    plain = _by_id(backend.generate(requests))
    with HFBackend(str(tmp_path / "adapter")) as tuned:
        assert tuned.source.kind == "adapter"
        out = _by_id(tuned.generate(requests))
    assert [out[r.id].text for r in requests] != [plain[r.id].text for r in requests]


@pytest.mark.slow
def test_builtin_gguf_loads_dequantised_and_converts_once(tmp_path, monkeypatch):
    pytest.importorskip("gguf")
    from tusk import models

    try:
        models.resolve_model_path("smollm2-135m")
    except TuskError as exc:
        pytest.skip(str(exc))
    with HFBackend("smollm2-135m") as first:
        assert first.source.kind == "gguf"
        assert not getattr(first.lm, "is_quantized", False)
        assert getattr(first.lm, "hf_quantizer", None) is None
        assert first.preferred_prompt == "chat"
        prompt = first.chat_prompt([{"role": "user", "content": "What is 2+3? Answer briefly."}])
        assert prompt.endswith("<|im_start|>assistant\n")
        request = Request("a", prompt, SamplingParams(max_tokens=24, stop=("\n\n",)))
        text = next(first.generate([request])).text
    from tusk.cache import cache_dir

    converted = list(cache_dir("hf-from-gguf").glob("SmolLM2-135M-Instruct.Q4_1-*/config.json"))
    assert len(converted) == 1
    with HFBackend("smollm2-135m") as again:
        assert next(again.generate([request])).text == text


def test_checkpoint_sampling_defaults_do_not_leak_into_greedy(tiny_model_dir, tmp_path, backend):
    import shutil

    noisy = tmp_path / "noisy"
    shutil.copytree(tiny_model_dir, noisy)
    config = json.loads((noisy / "generation_config.json").read_text())
    config.update(do_sample=True, temperature=5.0, top_k=3, repetition_penalty=3.0, no_repeat_ngram_size=2)
    (noisy / "generation_config.json").write_text(json.dumps(config))
    requests = _prompts(SamplingParams(max_tokens=12))[:4]
    with HFBackend(str(noisy), batch_size=4) as other:
        expected = {k: g.texts for k, g in _by_id(backend.generate(requests)).items()}
        assert {k: g.texts for k, g in _by_id(other.generate(requests)).items()} == expected


def test_ignore_eos_runs_every_row_to_max_tokens(tiny_model_dir):
    requests = _prompts(SamplingParams(max_tokens=20))
    with HFBackend(str(tiny_model_dir), batch_size=4, ignore_eos=True) as b:
        gens = list(b.generate(requests))
    assert all(g.completion_tokens == 20 and g.finish_reasons == ("length",) for g in gens)


def test_an_adapter_base_is_found_beside_the_adapter_or_named_in_the_error(tmp_path, monkeypatch):
    from tusk.backends.hf_load import resolve_source

    (tmp_path / "run/base").mkdir(parents=True)
    (tmp_path / "run/base/config.json").write_text("{}")
    (tmp_path / "run/adapter").mkdir()
    (tmp_path / "run/adapter/adapter_config.json").write_text(json.dumps({"base_model_name_or_path": "../base"}))
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    source = resolve_source(str(tmp_path / "run/adapter"))
    assert source.base.kind == "dir" and source.base.location == str((tmp_path / "run/base").resolve())
    (tmp_path / "run/adapter/adapter_config.json").write_text(json.dumps({"base_model_name_or_path": "./gone"}))
    with pytest.raises(TuskError, match="adapter_config.json: its base model './gone' cannot be used"):
        resolve_source(str(tmp_path / "run/adapter"))


def test_padded_out_of_memory_retries_with_half_the_rows_after_freeing(tiny_model_dir, monkeypatch, caplog):
    import logging
    import weakref

    requests = _prompts(SamplingParams(max_tokens=10))
    with HFBackend(str(tiny_model_dir), batch_size=4) as padded:
        expected = {g.request_id: g.texts for g in padded.generate(requests)}
        generate = padded.lm.generate
        sizes: list[int] = []
        failed: list[weakref.ref] = []
        alive_at_release: list[bool] = []

        def flaky(input_ids, **options):
            sizes.append(input_ids.shape[0])
            if len(sizes) == 1:
                failed.append(weakref.ref(input_ids))
                raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
            return generate(input_ids=input_ids, **options)

        monkeypatch.setattr(padded.lm, "generate", flaky)
        monkeypatch.setattr(HFBackend, "_release_memory",
                            lambda self: alive_at_release.append(failed[0]() is not None))
        with caplog.at_level(logging.WARNING, logger="tusk.backends.hf"):
            got = {g.request_id: g.texts for g in padded.generate(requests)}
    assert got == expected
    assert sizes[:2] == [4, 2] and max(sizes[1:]) <= 2  # the smaller size is kept
    assert "out of memory with 4 rows; retrying with 2" in caplog.text
    assert alive_at_release == [False]  # nothing of the failed try was held when memory was released
