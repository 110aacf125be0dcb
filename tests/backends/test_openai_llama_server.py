"""The openai backend against a real llama.cpp server (``python -m llama_cpp.server``) with SmolLM2.

Includes the case that matters in practice: the server is killed while requests are in flight and started
again; every request must still be answered exactly once, with the same greedy text as before the crash.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from tusk.errors import TuskError
from tusk.types import Request, SamplingParams

pytestmark = pytest.mark.slow


def _model_path() -> Path:
    pytest.importorskip("httpx")
    for module in (
        "llama_cpp",
        "fastapi",
        "uvicorn",
        "sse_starlette",
        "pydantic_settings",
        "starlette_context",
    ):
        pytest.importorskip(module, reason=f"the llama.cpp server needs {module}: pip install 'tusk[server]'")
    from tusk import models

    try:
        return models.resolve_model_path("smollm2-135m")
    except TuskError as exc:
        pytest.skip(str(exc))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LlamaServer:
    """One ``llama_cpp.server`` process on 127.0.0.1; always stopped by pid."""

    def __init__(self, model: Path, port: int, log: Path):
        self.model, self.port, self.log = model, port, log
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> None:
        command = [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(self.model),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--n_ctx",
            "1024",
            "--n_threads",
            "1",
        ]
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )

    def wait_ready(self, timeout: float = 60.0) -> None:
        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"llama.cpp server exited: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(self.url + "/models", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"llama.cpp server not ready in {timeout} s: {self.log.read_text()[-2000:]}")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        self.proc = None


@pytest.fixture
def llama_server(tmp_path):
    server = LlamaServer(_model_path(), _free_port(), tmp_path / "server.log")
    server.start()
    try:
        server.wait_ready()
        yield server
    finally:
        server.kill()


PROMPTS = [
    f"Q: What is {a} plus {b}?\nA:"
    for a, b in [
        (2, 3),
        (10, 7),
        (4, 4),
        (12, 30),
        (6, 1),
        (9, 9),
        (15, 5),
        (21, 2),
        (3, 8),
        (7, 7),
        (40, 2),
        (11, 11),
    ]
][:6]


def _requests() -> list[Request]:
    sampling = SamplingParams(max_tokens=12, stop=("\nQ:",))
    return [Request(f"r{i}", p, sampling) for i, p in enumerate(PROMPTS)]


def test_real_server_kill_and_restart_mid_run(llama_server):
    from tusk.backends.openai import OpenAIBackend

    requests = _requests()
    with OpenAIBackend(
        f"smollm2@{llama_server.url}", concurrency=3, backoff=0.25, max_backoff=2.0
    ) as backend:
        before = {g.request_id: g for g in backend.generate(requests)}
        assert set(before) == {r.id for r in requests}
        assert all(g.completion_tokens > 0 and "\nQ:" not in g.text for g in before.values())

        seen: list[str] = []
        after = {}
        for g in backend.generate(requests):
            seen.append(g.request_id)
            after[g.request_id] = g
            if len(seen) == 3:  # requests are in flight now: kill the server and bring it back
                llama_server.kill()
                llama_server.start()
        assert backend.retries > 0, "the kill should have failed at least one call"
    assert Counter(seen) == Counter(r.id for r in requests)
    assert {k: g.texts for k, g in after.items()} == {k: g.texts for k, g in before.items()}


def test_eval_through_a_served_instruct_model_with_its_chat_template(llama_server, tmp_path):
    import json

    from tusk.backends.openai import OpenAIBackend
    from tusk.evaluate import EvalConfig, evaluate

    pytest.importorskip("gguf")
    with OpenAIBackend(f"smollm2@{llama_server.url}", chat_template="smollm2-135m") as backend:
        config = EvalConfig(model=f"openai:smollm2@{llama_server.url}", benchmarks=("smoke",), limit=2,
                            max_tokens=24, out=str(tmp_path / "run"))
        summary = evaluate(config, backend, progress=False)
    assert summary["benchmarks"]["smoke"]["n"] == 2
    rows = [json.loads(line) for line in (tmp_path / "run/samples.jsonl").read_text().splitlines()]
    assert all(r["prompt"].startswith("<|im_start|>") and r["prompt"].endswith("<|im_start|>assistant\n")
               for r in rows)  # the template's prompt was sent and stored
    assert all(r["generations"][0].strip() for r in rows)
    saved = json.loads((tmp_path / "run/config.json").read_text())
    assert saved["prompt"] == "chat" and len(saved["model_identity"]["chat_template"]) == 16


def test_greedy_through_the_server_is_the_llamacpp_backends_greedy(llama_server):
    """The server's own defaults (repeat_penalty 1.1, top_k 40, min_p 0.05) are switched off: temperature 0 is
    plain arg-max, as in the llamacpp backend on the same GGUF; a sampled request is accepted too."""
    from tusk.backends import load_backend
    from tusk.backends.openai import OpenAIBackend

    sampling = SamplingParams(max_tokens=24, stop=("\nQ:",))
    requests = [Request(f"r{i}", p, sampling) for i, p in enumerate(PROMPTS[:3])]
    with load_backend("smollm2-135m", n_ctx=1024, threads=1) as local:
        expected = {g.request_id: g.texts for g in local.generate(requests)}
    with OpenAIBackend(f"smollm2@{llama_server.url}", concurrency=1) as served:
        assert served.server == "llamacpp" and served.describe()["neutral_sampling"] is True
        assert {g.request_id: g.texts for g in served.generate(requests)} == expected
        hot = SamplingParams(max_tokens=4, temperature=0.8, top_p=0.9, seed=1)
        (sampled,) = served.generate([Request("hot", PROMPTS[0], hot)])
        assert sampled.completion_tokens > 0
