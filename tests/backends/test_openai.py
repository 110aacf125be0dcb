"""The openai backend against a real loopback HTTP server that misbehaves on purpose.

The server speaks the /v1/completions protocol with a trivial "model" (it reverses the prompt), so every
answer can be checked, and it injects the failures the backend must survive: 429 with Retry-After, 5xx,
connections dropped mid-request, and hard 4xx errors that must not be retried.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tusk.errors import TuskError
from tusk.types import Request, SamplingParams

pytest.importorskip("httpx")

from tusk.backends.openai import OpenAIBackend, completion_payload, split_target


class FakeCompletions(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), Handler)
        self.lock = threading.Lock()
        self.seen: Counter[str] = Counter()  # prompt -> calls
        self.faults: dict[str, list[str]] = {}  # prompt -> faults to apply on successive calls
        self.bodies: list[dict] = []
        self.headers_seen: list[str | None] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.delay = 0.0
        self.owned_by: str | None = None  # what GET /models says (None: no such endpoint)
        self.refuse_field: str | None = None  # a field this server answers 422 to, as a strict API does

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        server: FakeCompletions = self.server  # type: ignore[assignment]
        if server.owned_by is None or not self.path.endswith("/models"):
            self.send_error(404)
            return
        payload = json.dumps({"object": "list", "data": [{"id": "tiny", "object": "model",
                                                          "owned_by": server.owned_by}]}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def do_POST(self):
        server: FakeCompletions = self.server  # type: ignore[assignment]
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.path != "/v1/completions":  # as FastAPI servers answer a URL without /v1
            self.send_response(404)
            self.send_header("Content-Length", "22")
            self.end_headers()
            self.wfile.write(b'{"detail":"Not Found"}')
            return
        if server.refuse_field and server.refuse_field in body:
            with server.lock:
                server.bodies.append(body)
            payload = json.dumps({"detail": [{"loc": ["body", server.refuse_field], "msg": "not allowed"}]})
            self.send_response(422)
            self.send_header("Content-Length", str(len(payload.encode())))
            self.end_headers()
            self.wfile.write(payload.encode())
            return
        prompt = body["prompt"]
        with server.lock:
            server.seen[prompt] += 1
            server.bodies.append(body)
            server.headers_seen.append(self.headers.get("Authorization"))
            faults = server.faults.get(prompt) or []
            fault = faults.pop(0) if faults else None
            server.in_flight += 1
            server.max_in_flight = max(server.max_in_flight, server.in_flight)
        try:
            time.sleep(server.delay)
            if fault == "drop":
                self.connection.shutdown(2)  # the socket dies mid-request, as when a server is killed
                return
            if fault in ("429", "500", "503", "400"):
                payload = b'{"error": "injected"}'
                self.send_response(int(fault))
                if fault == "429":
                    self.send_header("Retry-After", "0")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                return
            n = body.get("n", 1) if not prompt.startswith("one-choice") else 1
            text = prompt[::-1] + " STOP tail"
            choices = [
                {"index": i, "text": f"{text}#{body.get('seed', 0) + i}", "finish_reason": "length"}
                for i in range(n)
            ]
            reply = {"choices": choices, "usage": {"prompt_tokens": len(prompt), "completion_tokens": 5 * n}}
            payload = json.dumps(reply).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        finally:
            with server.lock:
                server.in_flight -= 1


@pytest.fixture
def server():
    srv = FakeCompletions()
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()
    thread.join(5)


def _backend(server, **options) -> OpenAIBackend:
    options.setdefault("backoff", 0.01)
    options.setdefault("max_backoff", 0.05)
    return OpenAIBackend(f"tiny@{server.url}", **options)


def test_split_target(monkeypatch):
    assert split_target("m@http://h:1/v1/") == ("m", "http://h:1/v1")
    assert split_target("org/m@x@https://h/v1") == ("org/m@x", "https://h/v1")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://elsewhere:9/v1")
    assert split_target("plain") == ("plain", "http://elsewhere:9/v1")
    with pytest.raises(TuskError, match="no model name"):
        split_target("@http://h/v1")


@pytest.mark.parametrize("tail", ["notaurl", "localhost:8000/v1", "127.0.0.1:8000", "h.example/v1", "ftp://h/v1"])
def test_a_url_without_its_scheme_is_an_error(tail):
    with pytest.raises(TuskError, match=f"'{tail}' in 'm@{tail}' is not a URL: it must start with http://"):
        split_target(f"m@{tail}")
    with pytest.raises(TuskError, match="no URL after '@'"):
        split_target("m@")


def test_payload_mapping():
    greedy = completion_payload("m", Request("a", "p", SamplingParams(max_tokens=7, stop=tuple("abcde"))), 1)
    assert greedy == {
        "model": "m",
        "prompt": "p",
        "max_tokens": 7,
        "n": 1,
        "temperature": 0.0,
        "stop": ["a", "b", "c", "d"],
    }
    hot = completion_payload("m", Request("a", "p", SamplingParams(temperature=0.7, top_p=0.9, seed=3)), 2, 1)
    assert hot["temperature"] == 0.7 and hot["top_p"] == 0.9 and hot["seed"] == 4 and hot["n"] == 2
    assert "stop" not in hot


def test_every_request_answered_once_through_faults(server, monkeypatch):
    monkeypatch.setenv("TUSK_API_KEY", "sk-test")
    prompts = [f"prompt {i}" for i in range(30)]
    server.faults = {
        "prompt 3": ["429", "429"],
        "prompt 4": ["500"],
        "prompt 5": ["drop", "503"],
        "prompt 6": ["drop"],
    }
    server.delay = 0.01
    requests = [
        Request(f"r{i}", p, SamplingParams(max_tokens=5, stop=(" STOP",))) for i, p in enumerate(prompts)
    ]
    with _backend(server, concurrency=4) as backend:
        gens = list(backend.generate(requests))
        assert backend.retries == 6
    assert Counter(g.request_id for g in gens) == Counter(r.id for r in requests)
    by_id = {g.request_id: g for g in gens}
    for r in requests:
        assert by_id[r.id].texts == (r.prompt[::-1],)  # cut before the stop string
        assert by_id[r.id].finish_reasons == ("stop",)
        assert by_id[r.id].prompt_tokens == len(r.prompt)
    assert server.seen["prompt 3"] == 3 and server.seen["prompt 5"] == 3 and server.seen["prompt 7"] == 1
    assert 1 < server.max_in_flight <= 4
    assert set(server.headers_seen) == {"Bearer sk-test"}


def test_client_errors_are_not_retried(server):
    server.faults = {"bad": ["400"]}
    requests = [Request("ok", "fine", SamplingParams(max_tokens=2)), Request("bad", "bad", SamplingParams())]
    with _backend(server, concurrency=1) as backend, pytest.raises(TuskError, match="HTTP 400"):
        list(backend.generate(requests))
    assert server.seen["bad"] == 1


def test_retries_run_out(server):
    server.faults = {"flaky": ["503"] * 10}
    backend = _backend(server, max_retries=2)
    with backend, pytest.raises(TuskError, match="gave up after 3 tries; last: HTTP 503"):
        list(backend.generate([Request("f", "flaky", SamplingParams())]))
    assert server.seen["flaky"] == 3


def test_n_samples_topped_up_and_greedy_repeated(server):
    hot = SamplingParams(max_tokens=3, n=3, temperature=0.8, seed=10)
    requests = [
        Request("many", "many choices", hot),
        Request("one", "one-choice server", hot),
        Request("greedy", "greedy", SamplingParams(max_tokens=3, n=4)),
    ]
    with _backend(server) as backend:
        gens = {g.request_id: g for g in backend.generate(requests)}
    assert [t.rsplit("#", 1)[1] for t in gens["many"].texts] == ["10", "11", "12"]
    assert [t.rsplit("#", 1)[1] for t in gens["one"].texts] == ["10", "11", "12"]  # three calls, seeds 10..12
    assert server.seen["one-choice server"] == 3 and server.seen["many choices"] == 1
    assert len(gens["greedy"].texts) == 4 and len(set(gens["greedy"].texts)) == 1
    assert server.seen["greedy"] == 1


def test_unreachable_server_gives_one_clear_error():
    backend = OpenAIBackend("m@http://127.0.0.1:9/v1", max_retries=1, backoff=0.01)
    with backend, pytest.raises(TuskError, match="127.0.0.1:9/v1/completions: gave up after 2 tries"):
        list(backend.generate([Request("a", "x", SamplingParams())]))


def _closed_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_no_server_at_all_fails_fast_naming_the_url():
    url = f"http://127.0.0.1:{_closed_port()}/v1"
    backend = OpenAIBackend(f"m@{url}")  # the default retries: 8, backing off up to 30 s
    with backend, pytest.raises(TuskError) as err:
        list(backend.generate([Request("a", "x", SamplingParams())]))
    assert f"{url}/completions: gave up after 5 tries" in str(err.value)
    assert "no request has reached the server" in str(err.value)
    assert backend.calls == 5  # four quick retries, not eight backed-off ones


def test_a_server_that_has_answered_gets_the_full_retries_when_it_goes_away(server):
    backend = _backend(server, max_retries=6)
    with backend:
        (first,) = backend.generate([Request("a", "up", SamplingParams())])
        assert first.texts
        server.shutdown()
        server.server_close()  # the port now refuses connections, as while a server restarts
        with pytest.raises(TuskError, match="gave up after 7 tries; last: ConnectError") as err:
            list(backend.generate([Request("b", "down", SamplingParams())]))
        assert "no request has reached" not in str(err.value)
    assert backend.calls == 1 + 7


def test_describe_hides_the_key(server, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret")
    with _backend(server) as backend:
        info = backend.describe()
    assert {k: info[k] for k in ("backend", "model", "url")} == {"backend": "openai", "model": "tiny",
                                                                  "url": server.url}
    assert "sk-secret" not in json.dumps(info)


def test_options_are_checked_and_a_chat_template_makes_chat_prompts(server, tiny_chat_model_dir, tmp_path):
    with pytest.raises(TuskError, match="unknown option concurency; its options are"):
        _backend(server, concurency=4)
    with pytest.raises(TuskError, match="concurrency='many' is not an integer"):
        _backend(server, concurrency="many")
    with pytest.raises(TuskError, match="timeout='soon' is not a number of seconds"):
        _backend(server, timeout="soon")
    with _backend(server, threads=2, concurrency="3") as plain:  # threads mean nothing to a server
        assert plain.concurrency == 3 and plain.preferred_prompt == "alpaca"
        assert plain.chat_prompt([{"role": "user", "content": "hi"}]) is None
    with _backend(server, chat_template=str(tiny_chat_model_dir)) as chat:
        assert chat.preferred_prompt == "chat"
        prompt = chat.chat_prompt([{"role": "user", "content": "What is 2 + 3?"}])
        assert "What is 2 + 3?" in prompt and prompt != "What is 2 + 3?"
        assert len(chat.describe()["chat_template"]) == 16  # which template made the prompts is on record
    (tmp_path / "tokenizer_config.json").write_text(json.dumps({
        "bos_token": "<s>", "chat_template": "{{ bos_token }}{% for m in messages %}[INST] {{ m['content'] }} "
                                             "[/INST]{% endfor %}"}))
    with _backend(server, chat_template=str(tmp_path)) as llama_style:  # the server adds BOS itself: not twice
        assert llama_style.chat_prompt([{"role": "user", "content": "hi"}]) == "[INST] hi [/INST]"
    (tmp_path / "tokenizer_config.json").write_text(json.dumps({  # SmolLM2: its BOS is also its turn marker
        "bos_token": "<|im_start|>", "chat_template": "{% for m in messages %}<|im_start|>{{ m['role'] }}\n"
                                                      "{{ m['content'] }}<|im_end|>\n{% endfor %}"}))
    with _backend(server, chat_template=str(tmp_path)) as literal:
        assert literal.chat_prompt([{"role": "user", "content": "hi"}]) == "<|im_start|>user\nhi<|im_end|>\n"


# -- the server's own sampling defaults are switched off ------------------------------------------------------


@pytest.mark.parametrize("owned_by, kind, top_k, penalty", [
    ("me", "llamacpp", 0, "repeat_penalty"),  # llama-cpp-python's server
    ("llamacpp", "llamacpp", 0, "repeat_penalty"),  # llama.cpp's own server
    ("vllm", "vllm", -1, "repetition_penalty"),
    ("sglang", "sglang", -1, "repetition_penalty"),
    (None, "other", None, "repetition_penalty"),  # no /models: the fields every kind takes, not top_k
])
def test_a_local_server_gets_neutral_sampling_fields_for_its_kind(server, owned_by, kind, top_k, penalty):
    server.owned_by = owned_by
    greedy = Request("g", "greedy", SamplingParams(max_tokens=4))
    hot = Request("h", "hot", SamplingParams(max_tokens=4, temperature=0.7, top_p=0.9, n=1))
    with _backend(server) as backend:
        assert backend.server == kind  # asked when the backend was made
        list(backend.generate([greedy, hot]))
        described = backend.describe()
    bodies = {b["prompt"]: b for b in server.bodies}
    for body in bodies.values():
        assert body.get("top_k") == top_k and body[penalty] == 1.0 and body["min_p"] == 0.0
        assert body["presence_penalty"] == body["frequency_penalty"] == 0.0
    assert bodies["greedy"]["temperature"] == 0.0 and bodies["greedy"]["top_p"] == 1.0
    assert bodies["hot"]["temperature"] == 0.7 and bodies["hot"]["top_p"] == 0.9
    assert described["neutral_sampling"] is True and described["sampling_fields"]["server"] == kind
    from tusk.backends.identity import model_identity

    assert "sampling_fields" not in model_identity(described)  # the same plain sampling on any server kind


def test_a_hosted_api_gets_only_temperature_and_top_p(server, monkeypatch):
    from tusk.backends.openai import is_local_url

    assert is_local_url("http://127.0.0.1:8000/v1") and is_local_url("http://10.1.2.3/v1")
    assert is_local_url("http://localhost:8000/v1") and is_local_url("http://vllm-server:8000/v1")
    assert is_local_url("http://[::1]:8000/v1") and is_local_url("http://gpu1.internal/v1")
    assert not is_local_url("https://api.openai.com/v1") and not is_local_url("https://8.8.8.8/v1")
    hosted = OpenAIBackend("gpt@https://api.example.com/v1")  # nothing is asked of the server here
    assert hosted.neutral_sampling is False and "neutral_sampling" not in hosted.describe()
    hosted.close()
    server.owned_by = "vllm"
    with _backend(server, neutral_sampling="false") as plain:  # asked for explicitly
        list(plain.generate([Request("g", "greedy", SamplingParams(max_tokens=4))]))
        assert "neutral_sampling" not in plain.describe()
    assert server.bodies[-1] == {"model": "tiny", "prompt": "greedy", "max_tokens": 4, "n": 1, "temperature": 0.0}
    with pytest.raises(TuskError, match="neutral_sampling=.* is not a boolean"):
        _backend(server, neutral_sampling="maybe")
    with pytest.raises(TuskError, match="server='tgi' is not one of auto, llamacpp, vllm, sglang, other"):
        OpenAIBackend(f"tiny@{server.url}", server="tgi")


def test_a_server_that_refuses_a_neutral_field_says_how_to_go_on(server):
    server.owned_by = "vllm"
    server.refuse_field = "top_k"
    with _backend(server) as backend, pytest.raises(TuskError) as refused:
        list(backend.generate([Request("g", "greedy", SamplingParams(max_tokens=4))]))
    message = str(refused.value)
    assert "HTTP 422" in message and "server=llamacpp|vllm|sglang|other" in message
    assert "neutral_sampling=false" in message and len(server.bodies) == 1  # not retried
    with OpenAIBackend(f"tiny@{server.url}", server="other") as other:  # the kind named: no top_k sent
        assert len(list(other.generate([Request("g", "greedy", SamplingParams(max_tokens=4))]))) == 1


@pytest.mark.parametrize("signal_name, said", [("SIGINT", "tusk: interrupted"), ("SIGTERM", "tusk: terminated")])
def test_an_interrupted_run_exits_at_once_with_requests_waiting_on_a_slow_server(server, tmp_path, signal_name,
                                                                                said):
    import os
    import signal
    import subprocess
    import sys

    server.delay = 30.0  # every request is in flight when the signal comes
    command = [sys.executable, "-c", "from tusk.cli import main; raise SystemExit(main())", "eval",
               "--model", f"openai:tiny@{server.url}", "--benchmarks", "smoke", "--limit", "4",
               "--max-tokens", "8", "--out", str(tmp_path / "run"), "--no-progress",
               "--backend-option", "neutral_sampling=false"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        deadline = time.monotonic() + 60
        while server.in_flight < 2 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        assert server.in_flight >= 2, "the requests never reached the server"
        sent = time.monotonic()
        proc.send_signal(getattr(signal, signal_name))
        output, _ = proc.communicate(timeout=20)
        took = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert said in output
    assert took < 5.0, f"exited {took:.1f} s after {signal_name}: {output}"
    assert "retry" not in output, output


def test_a_404_from_the_first_call_asks_whether_the_url_is_the_api_root(server):
    backend = OpenAIBackend(f"tiny@{server.url.removesuffix('/v1')}/nowhere", neutral_sampling=False)
    with backend, pytest.raises(TuskError, match=r"HTTP 404.*\(is http://127\.0\.0\.1:\d+/nowhere the API root\? "
                                                 r"It usually ends in /v1\)"):
        list(backend.generate([Request("a", "p", SamplingParams(max_tokens=4))]))


@pytest.mark.parametrize("timeout", [0, "0", -1])
def test_a_timeout_of_zero_or_less_is_refused(server, timeout):
    with pytest.raises(TuskError, match="openai backend: option timeout=.*(above 0|>= 0)"):
        _backend(server, timeout=timeout)


def test_a_chat_template_that_is_not_a_gguf_file_says_so(server, tmp_path):
    fake = tmp_path / "fake.gguf"
    fake.write_bytes(b"not a gguf file at all, just some bytes")
    with pytest.raises(TuskError, match="fake.gguf is not a GGUF file"):
        _backend(server, chat_template=str(fake))


def test_prompt_chat_without_a_template_names_the_chat_template_option(server, tmp_path):
    from tusk.evaluate import EvalConfig, evaluate

    with _backend(server) as backend, pytest.raises(TuskError, match="--backend-option chat_template=SOURCE"):
        evaluate(EvalConfig(model=f"openai:tiny@{server.url}", prompt="chat", limit=1, out=str(tmp_path / "r")),
                 backend, progress=False)


def test_the_api_key_is_not_in_the_generation_cache(server, tmp_path):
    import sqlite3

    from tusk.backends.cached import CachedBackend

    request = [Request("a", "p", SamplingParams(max_tokens=4))]
    with CachedBackend(_backend(server, api_key="sk-SECRET123"), tmp_path / "c.sqlite") as first:
        list(first.generate(request))
    assert server.headers_seen[-1] == "Bearer sk-SECRET123"
    with CachedBackend(_backend(server, api_key="sk-ROTATED"), tmp_path / "c.sqlite") as rotated:
        list(rotated.generate(request))
        assert rotated.hits == 1  # the key is not part of what a cached generation is keyed by
    with sqlite3.connect(tmp_path / "c.sqlite") as db:
        assert "sk-" not in json.dumps(db.execute("SELECT * FROM generations").fetchall())
