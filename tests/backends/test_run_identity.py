"""What a run directory saves about its backend and compares on resume and merge: no secrets, no neutral
(transport or scheduling) options, no machine-specific paths."""

from __future__ import annotations

import json

import pytest

from tusk.backends.base import is_secret_option, redacted_options
from tusk.backends.scripted import ScriptedBackend
from tusk.benchmarks import load_problems
from tusk.errors import TuskError
from tusk.evaluate import EvalConfig, evaluate
from tusk.merge import merge_runs


@pytest.fixture(scope="module")
def smoke():
    return load_problems("smoke")


@pytest.fixture
def backend(smoke):
    def respond(request, i):
        (problem,) = [p for p in smoke if p.question.strip() in request.prompt]
        return f"The answer is {problem.answer}."

    return ScriptedBackend(responder=respond)


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
