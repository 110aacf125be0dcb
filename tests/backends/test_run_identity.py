"""What a run directory saves about its backend and compares on resume and merge: no secrets, no neutral
(transport or scheduling) options, no machine-specific paths."""

from __future__ import annotations

import json

import pytest

from tusk.backends.base import is_secret_option, redacted_options
from tusk.backends.scripted import ScriptedBackend
from tusk.errors import TuskError
from tusk.evaluate import EvalConfig, evaluate
from tusk.merge import merge_runs


@pytest.fixture
def backend(smoke_answering_backend):
    return smoke_answering_backend


def run(backend, out, **settings):
    return evaluate(EvalConfig(model="scripted", out=str(out), **settings), backend, progress=False)


def test_secret_option_names():
    for name in ("api_key", "key", "hf_token", "token", "auth_token", "client_secret", "secret", "password"):
        assert is_secret_option(name), name
    for name in ("max_tokens", "n_tokens", "keyword", "concurrency", "top_k", "seed", "monkey_patch"):
        assert not is_secret_option(name), name
    assert redacted_options({"api_key": "sk-1", "timeout": 3}) == {"api_key": "***", "timeout": 3}


def test_an_api_key_is_never_saved_and_a_rotated_key_resumes(tmp_path, backend):
    out = tmp_path / "run"
    run(backend, out, limit=2, backend_options={"api_key": "sk-SECRET123", "hf_token": "hf_abc"})
    saved = (out / "config.json").read_text()
    assert "sk-SECRET123" not in saved and "hf_abc" not in saved
    config = json.loads(saved)
    assert config["backend_options"] == {"api_key": "***", "hf_token": "***"}
    assert config["result_options"] == {}
    summary = run(backend, out, limit=3, backend_options={"api_key": "sk-NEWKEY"})  # rotated: resumes
    assert summary["benchmarks"]["smoke"]["n"] == 3
    assert "sk-NEWKEY" not in (out / "config.json").read_text()


def _plant_old_config(out, **values):
    """Rewrite a run's config.json as an older version of tusk saved it."""
    config = json.loads((out / "config.json").read_text())
    config.update(values)
    (out / "config.json").write_text(json.dumps(config))


def test_a_key_an_older_version_saved_is_neither_compared_nor_printed(tmp_path, backend):
    out = tmp_path / "run"
    run(backend, out, limit=2)
    _plant_old_config(out, backend_options={"api_key": "sk-OLDSECRET", "seed": 1},
                      result_options={"api_key": "sk-OLDSECRET", "seed": 1})
    with pytest.raises(TuskError) as refused:  # another result option: refused, without the old key
        run(backend, out, limit=3, backend_options={"seed": 2})
    assert "result_options" in str(refused.value) and "sk-OLDSECRET" not in str(refused.value)
    run(backend, out, limit=3, backend_options={"seed": 1, "api_key": "sk-NEW"})  # the key does not count
    assert "sk-OLDSECRET" not in (out / "config.json").read_text()


def test_merge_does_not_copy_a_saved_key(tmp_path, backend):
    run(backend, tmp_path / "s0", limit=4, shard=(0, 2))
    run(backend, tmp_path / "s1", limit=4, shard=(1, 2), backend_options={"api_key": "sk-2"})
    _plant_old_config(tmp_path / "s0", backend_options={"api_key": "sk-OLD"}, result_options={"api_key": "sk-OLD"})
    assert merge_runs([tmp_path / "s0", tmp_path / "s1"], tmp_path / "m")["complete"] is True
    assert "sk-OLD" not in (tmp_path / "m/config.json").read_text()


def test_every_backend_declares_its_neutral_options():
    from tusk.backends import neutral_options

    declared = neutral_options()
    for name in ("concurrency", "timeout", "max_retries", "backoff", "max_backoff", "chat_template",  # openai
                 "replicas", "num_cpus", "address", "cpus_per_replica", "gpus_per_replica", "chunk_size",  # ray
                 "tensor_parallel_size", "gpu_memory_utilization", "enforce_eager",  # vllm
                 "n_threads_batch", "verbose", "threads", "batch_size", "batching"):  # llamacpp, hf
        assert name in declared, name
    for name in ("seed", "dtype", "n_ctx", "max_model_len", "dequantize", "cache", "compile", "ignore_eos"):
        assert name not in declared, name


@pytest.mark.parametrize("before, after", [
    ({}, {"concurrency": 2, "timeout": 120, "max_retries": 3, "backoff": 1, "max_backoff": 9}),
    ({"chat_template": "/tmp/a/chat_template.jinja"}, {"chat_template": "/tmp/b/chat_template.jinja"}),
    ({"replicas": 1, "num_cpus": 2, "chunk_size": 8}, {"replicas": 2, "num_cpus": 4, "cpus_per_replica": 2,
                                                       "gpus_per_replica": 1, "address": "auto"}),
    ({"tensor_parallel_size": 1, "gpu_memory_utilization": 0.9}, {"tensor_parallel_size": 4,
                                                                  "gpu_memory_utilization": 0.8,
                                                                  "enforce_eager": True, "chunk_size": 64}),
    ({"n_threads_batch": 1}, {"n_threads_batch": 4, "verbose": True}),
])
def test_transport_and_scheduling_options_neither_block_a_resume_nor_a_merge(tmp_path, backend, before, after):
    run(backend, tmp_path / "run", limit=2, backend_options=before)
    assert run(backend, tmp_path / "run", limit=3, backend_options=after)["benchmarks"]["smoke"]["n"] == 3
    run(backend, tmp_path / "s0", limit=4, shard=(0, 2), backend_options=before)
    run(backend, tmp_path / "s1", limit=4, shard=(1, 2), backend_options=after)
    assert merge_runs([tmp_path / "s0", tmp_path / "s1"], tmp_path / "m")["complete"] is True


def test_a_result_option_still_blocks_a_resume(tmp_path, backend):
    run(backend, tmp_path / "run", limit=2, backend_options={"seed": 1, "concurrency": 1})
    with pytest.raises(TuskError, match="result_options"):
        run(backend, tmp_path / "run", limit=3, backend_options={"seed": 2, "concurrency": 1})


# -- weights by content, not by where they lie ---------------------------------------------------------------


def test_a_user_file_is_hashed_once_and_again_when_it_changes(tmp_path, monkeypatch):
    import hashlib
    import os

    from tusk import cache

    monkeypatch.setenv("TUSK_CACHE_DIR", str(tmp_path / "cache"))
    calls = []
    real = cache.sha256_file
    monkeypatch.setattr(cache, "sha256_file", lambda path: calls.append(path) or real(path))
    weights = tmp_path / "w.bin"
    weights.write_bytes(b"weights")
    assert cache.file_sha256(weights) == hashlib.sha256(b"weights").hexdigest()
    assert cache.file_sha256(weights) == hashlib.sha256(b"weights").hexdigest() and len(calls) == 1
    weights.write_bytes(b"other weights")
    os.utime(weights, ns=(10**18, 10**18))
    assert cache.file_sha256(weights) == hashlib.sha256(b"other weights").hexdigest() and len(calls) == 2
    assert not (tmp_path / "w.bin.sha256.json").exists()  # nothing written beside the user's file


def test_model_identity_leaves_out_paths_mtimes_and_the_model_text_beside_a_digest():
    from tusk.backends.identity import model_identity

    builtin = {"backend": "llamacpp", "model": "smollm2-135m", "path": "/a/site-packages/x.gguf",
               "llama_cpp": "0.3", "sha256": "b1"}
    assert model_identity(builtin) == model_identity({**builtin, "path": "/b/cache/models/x.gguf"}) == {
        "backend": "llamacpp", "sha256": "b1"}
    hf = {"backend": "hf", "model": "/data/ckpt", "source": "dir", "dtype": "float32", "device": "cpu",
          "weights": {"path": "/data/ckpt", "files": [["model.safetensors", 10, "ab"]]}}
    assert model_identity(hf) == model_identity({**hf, "model": "/copy/ckpt",
                                                 "weights": {**hf["weights"], "path": "/copy/ckpt"}})
    assert model_identity({"backend": "openai", "model": "qwen", "url": "http://h/v1"}) == {
        "backend": "openai", "model": "qwen"}
    ray = {"backend": "ray", "model": "hf:/data/ckpt", "replicas": 2, "inner": hf}
    assert model_identity(ray) == {"backend": "ray", "inner": model_identity(hf)}


def test_a_model_folder_is_known_by_its_model_files(tmp_path, monkeypatch):
    from tusk.backends.hf_load import ModelSource, fingerprint
    from tusk.backends.identity import model_identity

    monkeypatch.setenv("TUSK_CACHE_DIR", str(tmp_path / "cache"))
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "config.json").write_text("{}")
        (tmp_path / folder / "model.safetensors").write_bytes(b"w" * 100)
    (tmp_path / "b" / "optimizer.pt").write_bytes(b"training state")  # not the model
    (tmp_path / "b" / ".gitattributes").write_text("*")
    a, b = (fingerprint(ModelSource("dir", str(tmp_path / f))) for f in "ab")
    assert a["path"] != b["path"] and model_identity(a) == model_identity(b)
    assert [name for name, _, _ in a["files"]] == ["config.json", "model.safetensors"]
    (tmp_path / "b" / "model.safetensors").write_bytes(b"v" * 100)
    assert model_identity(fingerprint(ModelSource("dir", str(tmp_path / "b")))) != model_identity(a)


class Weighted(ScriptedBackend):
    """A scripted backend described like a llamacpp model file (today's form: size and sha256)."""

    def __init__(self, weights, responder):
        super().__init__(responder=responder)
        self.weights = weights

    def describe(self):
        from tusk.backends.identity import file_entries

        _, size, digest = file_entries(self.weights)[0]
        return {"backend": "scripted", "model": str(self.weights), "path": str(self.weights), "size": size,
                "sha256": digest, "llama_cpp": "9.9"}


def test_a_copy_of_the_weights_elsewhere_resumes_and_merges(tmp_path, backend, monkeypatch):
    monkeypatch.setenv("TUSK_CACHE_DIR", str(tmp_path / "cache"))
    for folder in ("m1", "m2"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "m.gguf").write_bytes(b"GGUF weights")
    here, there = (Weighted(tmp_path / f / "m.gguf", backend._responder) for f in ("m1", "m2"))
    run(here, tmp_path / "run", limit=2)
    assert "path" not in json.loads((tmp_path / "run/config.json").read_text())["model_identity"]
    assert run(there, tmp_path / "run", limit=3)["benchmarks"]["smoke"]["n"] == 3
    run(here, tmp_path / "s0", limit=4, shard=(0, 2))
    run(there, tmp_path / "s1", limit=4, shard=(1, 2))
    assert merge_runs([tmp_path / "s0", tmp_path / "s1"], tmp_path / "m")["complete"] is True
    (tmp_path / "m2" / "m.gguf").write_bytes(b"GGUF other weights")
    with pytest.raises(TuskError, match="model_identity"):
        run(Weighted(tmp_path / "m2" / "m.gguf", backend._responder), tmp_path / "run", limit=4)


def test_a_run_saved_with_paths_and_mtimes_still_resumes_with_the_same_weights(tmp_path, backend, monkeypatch):
    monkeypatch.setenv("TUSK_CACHE_DIR", str(tmp_path / "cache"))
    weights = tmp_path / "m.gguf"
    weights.write_bytes(b"GGUF weights")
    stat = weights.stat()
    model = Weighted(weights, backend._responder)
    run(model, tmp_path / "run", limit=2)
    # what an older version saved: the path, size and mtime of the file, and the model text
    old = {"backend": "scripted", "model": str(weights), "path": str(weights), "size": stat.st_size,
           "mtime_ns": stat.st_mtime_ns}
    _plant_old_config(tmp_path / "run", model_identity=old)
    assert run(model, tmp_path / "run", limit=3)["benchmarks"]["smoke"]["n"] == 3
    _plant_old_config(tmp_path / "run", model_identity={**old, "mtime_ns": stat.st_mtime_ns + 1})  # not that file
    with pytest.raises(TuskError, match="model_identity"):
        run(model, tmp_path / "run", limit=4)


def test_an_hf_run_saved_with_a_folder_path_and_mtimes_still_resumes(tmp_path, monkeypatch):
    from tusk.backends.hf_load import ModelSource, fingerprint
    from tusk.evaluate import comparable_setting

    monkeypatch.setenv("TUSK_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "ckpt").mkdir()
    (tmp_path / "ckpt" / "config.json").write_text("{}")
    (tmp_path / "ckpt" / "model.safetensors").write_bytes(b"w" * 10)
    files = sorted((tmp_path / "ckpt").iterdir())
    old_weights = {"path": str(tmp_path / "ckpt"),
                   "files": [[p.name, p.stat().st_size, p.stat().st_mtime_ns] for p in files]}
    old = {"backend": "hf", "model": str(tmp_path / "ckpt"), "source": "dir", "weights": old_weights,
           "dtype": "float32"}
    new = {"backend": "hf", "model": "ckpt", "source": "dir", "dtype": "float32", "device": "cpu",
           "weights": fingerprint(ModelSource("dir", str(tmp_path / "ckpt")))}
    from tusk.backends.identity import model_identity as _model_identity

    assert comparable_setting("model_identity", old) == comparable_setting("model_identity", _model_identity(new))
    (tmp_path / "ckpt" / "model.safetensors").write_bytes(b"v" * 11)
    assert comparable_setting("model_identity", old) != comparable_setting("model_identity",
                                                                           _model_identity(new))


@pytest.mark.parametrize("first, second", [
    ("openai:smol@http://127.0.0.1:18431/v1", "openai:smol@http://127.0.0.1:18440/v1"),
    ("openai:smol@http://127.0.0.1:18431/v1", "openai:smol@http://127.0.0.1:18431"),
    ("openai:smol@http://10.0.0.1/v1", "openai:smol"),
    ("smol.gguf", "./smol.gguf"),
    ("llamacpp:/a/m.gguf", "llamacpp:/b/m.gguf"),
    ("hf:/data/ckpt", "hf:/copy/ckpt/"),
    ("ray:hf:/data/ckpt", "ray:hf:/copy/ckpt"),
])
def test_the_model_spec_is_compared_without_its_url_or_path(tmp_path, backend, first, second):
    run_with = lambda spec, out, **kw: evaluate(EvalConfig(model=spec, out=str(out), **kw), backend,
                                                progress=False)
    run_with(first, tmp_path / "run", limit=2)
    assert run_with(second, tmp_path / "run", limit=3)["benchmarks"]["smoke"]["n"] == 3
    run_with(first, tmp_path / "s0", limit=4, shard=(0, 2))
    run_with(second, tmp_path / "s1", limit=4, shard=(1, 2))
    assert merge_runs([tmp_path / "s0", tmp_path / "s1"], tmp_path / "m")["complete"] is True


@pytest.mark.parametrize("first, second", [
    ("openai:smol@http://h/v1", "openai:qwen@http://h/v1"),
    ("smollm2-135m", "qwen2.5-coder-0.5b"),
    ("hf:/data/ckpt", "llamacpp:/data/m.gguf"),
])
def test_another_model_spec_is_still_refused_before_loading(tmp_path, backend, first, second):
    evaluate(EvalConfig(model=first, out=str(tmp_path / "run"), limit=2), backend, progress=False)
    with pytest.raises(TuskError, match="model"):
        evaluate(EvalConfig(model=second, out=str(tmp_path / "run"), limit=3), backend, progress=False)


def test_the_generation_cache_key_ignores_paths_and_library_versions(tmp_path, backend, monkeypatch):
    from tusk.backends.cached import CachedBackend
    from tusk.types import Request, SamplingParams

    monkeypatch.setenv("TUSK_CACHE_DIR", str(tmp_path / "cache"))
    for folder in ("m1", "m2"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "m.gguf").write_bytes(b"GGUF weights")
    request = [Request("a", "What is 1 + 1?", SamplingParams(max_tokens=4))]
    with CachedBackend(Weighted(tmp_path / "m1/m.gguf", lambda r, i: "2"), tmp_path / "c.sqlite") as first:
        list(first.generate(request))
    with CachedBackend(Weighted(tmp_path / "m2/m.gguf", lambda r, i: "2"), tmp_path / "c.sqlite") as second:
        list(second.generate(request))
        assert second.hits == 1


class Served(ScriptedBackend):
    """A scripted backend described like the openai backend, with or without neutral sampling."""

    def __init__(self, responder, neutral):
        super().__init__(responder=responder)
        self.neutral = neutral

    def describe(self):
        described = {"backend": "openai", "model": "m", "url": "http://127.0.0.1:1/v1"}
        return {**described, "neutral_sampling": True} if self.neutral else described


def test_a_run_made_with_the_servers_sampling_defaults_names_the_option_that_resumes_it(tmp_path, backend):
    run(Served(backend._responder, neutral=False), tmp_path / "run", limit=2)
    with pytest.raises(TuskError, match="add --backend-option neutral_sampling=false to resume it"):
        run(Served(backend._responder, neutral=True), tmp_path / "run", limit=3)
    assert run(Served(backend._responder, neutral=False), tmp_path / "run", limit=3)["benchmarks"]["smoke"]["n"] == 3
