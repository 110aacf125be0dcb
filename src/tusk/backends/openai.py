"""The ``openai`` backend: any OpenAI-compatible ``/v1/completions`` endpoint.

Works with vLLM (``vllm serve``), SGLang, TGI, the llama.cpp server (``python -m llama_cpp.server``) and hosted
APIs.  Target: ``MODEL@URL`` with URL the API root, e.g. ``qwen@http://127.0.0.1:8000/v1``; without ``@URL``
the root comes from ``OPENAI_BASE_URL`` (default ``http://127.0.0.1:8000/v1``); text after the last ``@``
that looks like a host or URL without ``http://`` or ``https://`` is an error.  The API key, if any, comes
from the ``api_key`` option, ``TUSK_API_KEY`` or ``OPENAI_API_KEY``, and is sent as a bearer token.

Guarantees:

- at most ``concurrency`` requests are in flight; finished generations are yielded as they complete;
- 429, 5xx, timeouts and connection errors are retried with exponential backoff and jitter (a server's
  ``Retry-After`` is honoured), up to ``max_retries`` times per HTTP call; other HTTP errors and exhausted
  retries raise :class:`~tusk.errors.TuskError` naming the URL and status, after cancelling what is queued;
- until some call of the backend has had an answer from the server, a refused connection is retried only a
  few times within about 3 s (no server there is the likely cause) before the error; after that, a refused
  connection is a server restarting and gets the full retries;
- every request is answered exactly once: a retried call replaces the failed one, nothing is yielded twice;
- requests run on daemon threads: Ctrl-C or SIGTERM ends the process at once, even while calls wait on a slow
  server, and a call cut short by ``close()`` is neither retried nor logged as a retry;
- ``n`` samples: servers that return fewer choices than asked (the llama.cpp server returns one) are asked
  again for the rest, each call with its own seed; greedy requests are sent once and repeated;
- stop strings: at most 4 are sent (the OpenAI limit); every stop string is applied to the text afterwards.

Chat prompts: the server's chat template is not known to tusk, so by default ``chat_prompt`` returns None and
prompts are Alpaca.  ``chat_template=SOURCE`` (a built-in model name, a ``.gguf`` file, a model folder or a
``.jinja`` / ``tokenizer_config.json`` file holding the served model's template) makes tusk render chat prompts
itself (:mod:`tusk.backends.chat_template`) and prefer them, as the local backends do for instruct models.  The
template's ``{{ bos_token }}`` renders as nothing: servers add the BOS token to a completion prompt themselves
(text the template writes literally, such as SmolLM2's ``<|im_start|>``, whose BOS token it also is, stays).

Sampling: servers apply sampling defaults of their own to fields a request leaves out (the llama.cpp server
repeat_penalty 1.1, top_k 40, min_p 0.05; vLLM and SGLang the model's ``generation_config.json``).  With
``neutral_sampling`` on, every request switches them off (:data:`NEUTRAL_FIELDS`: top_k, min_p, the
repetition/presence/frequency penalties, and top_p 1 when greedy), so temperature 0 is plain arg-max and a
sampled request draws from the plain temperature / top_p distribution, as in the local backends.  The fields
depend on the server kind (llama.cpp disables top_k with 0, vLLM and SGLang with -1), told from the
``owned_by`` of ``GET /models`` (or named with ``server=llamacpp|vllm|sglang|other``; an unknown server is not
sent top_k).  ``neutral_sampling=auto`` (default) is on for servers on this machine or a private network
(loopback and private addresses, names without a dot or ending in .local/.internal/.lan) and off for hosted
APIs, which may refuse unknown fields; ``true``/``false`` decide.  A server that answers 400/422 naming one of
the fields gets an error saying which option to set.  ``describe()`` says ``neutral_sampling`` (part of the
run's identity) and the fields sent (``sampling_fields``, not part of it).

Options other than those above are errors, except ``threads`` (meaningless for a server; ignored).

Not done: the chat endpoint (tusk renders every prompt itself, so what was sent is what is stored), streaming
responses, and token counting beyond what the server reports in ``usage``.
"""

from __future__ import annotations

import hashlib
import logging
import os
import queue
import random
import re
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait
from typing import Any

from tusk.backends.base import Backend, bool_option, int_option
from tusk.backends.chat_template import load_chat_template
from tusk.backends.stopping import cut_at_stop
from tusk.errors import MissingExtraError, TuskError
from tusk.types import Generation, Request

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "http://127.0.0.1:8000/v1"
#: options of the transport (and ``chat_template``, whose content hash is in ``describe()``): a run resumes and
#: shards merge whatever their values
NEUTRAL_OPTIONS = frozenset({"concurrency", "timeout", "max_retries", "backoff", "max_backoff", "chat_template",
                             "threads", "n_threads",
                             # what they change is in describe(): neutral_sampling (auto and true agree on a
                             # local server), server (the fields sent, not what they mean)
                             "neutral_sampling", "server"})
MAX_STOPS_SENT = 4
#: a host name or address, optionally with a port and a path: what a URL without its scheme looks like
_HOSTLIKE = re.compile(r"^\[?[\w.:-]+\]?(:\d+)?(/\S*)?$")
#: pauses between the quick retries of a refused connection while no request has reached the server
FIRST_CONTACT_DELAYS = (0.2, 0.4, 0.8, 1.6)


def split_target(target: str) -> tuple[str, str]:
    """``MODEL@URL`` -> (model, url); the URL part is optional (``OPENAI_BASE_URL`` or the local default).

    Text after the last ``@`` that looks like a host or URL but does not start with http:// or https:// is
    an error, not part of the model name (``m@localhost:8000/v1`` would otherwise go to the default URL).
    """
    model, sep, url = target.rpartition("@")
    if sep and not url:
        raise TuskError(f"openai backend: no URL after '@' in {target!r} (use MODEL@http://host:port/v1)")
    if sep and not url.startswith(("http://", "https://")) and (_HOSTLIKE.match(url) or "://" in url):
        raise TuskError(
            f"openai backend: {url!r} in {target!r} is not a URL: it must start with http:// or https:// "
            "(use MODEL@http://host:port/v1)"
        )
    if not sep or not url.startswith(("http://", "https://")):  # an '@' that belongs to the model name
        model, url = target, os.environ.get("OPENAI_BASE_URL", DEFAULT_BASE_URL)
    if not model:
        raise TuskError(f"openai backend: no model name in {target!r} (use MODEL@http://host:port/v1)")
    return model, url.rstrip("/")


#: server kinds told apart by the ``owned_by`` of ``GET /models`` (llama-cpp-python says "me")
SERVER_KINDS = ("llamacpp", "vllm", "sglang", "other")
_OWNED_BY = {"me": "llamacpp", "llamacpp": "llamacpp", "vllm": "vllm", "sglang": "sglang"}
#: request fields that switch off each server kind's own sampling defaults, so that temperature 0 is arg-max and
#: a sampled request draws from the plain temperature / top_p distribution (the hf backend's guarantee).  The
#: llama.cpp server defaults to repeat_penalty 1.1, top_k 40, min_p 0.05; vLLM and SGLang apply the model's
#: generation_config.json (repetition_penalty, top_k, min_p).  llama.cpp disables top_k with 0, vLLM and SGLang
#: with -1 (each refuses the other's value); an unknown server is not sent top_k.
NEUTRAL_FIELDS: dict[str, dict[str, Any]] = {
    "llamacpp": {"top_k": 0, "min_p": 0.0, "repeat_penalty": 1.0, "presence_penalty": 0.0,
                 "frequency_penalty": 0.0},
    "vllm": {"top_k": -1, "min_p": 0.0, "repetition_penalty": 1.0, "presence_penalty": 0.0,
             "frequency_penalty": 0.0},
    "other": {"min_p": 0.0, "repeat_penalty": 1.0, "repetition_penalty": 1.0, "presence_penalty": 0.0,
              "frequency_penalty": 0.0},
}
NEUTRAL_FIELDS["sglang"] = NEUTRAL_FIELDS["vllm"]


def is_local_url(url: str) -> bool:
    """Whether ``url``'s host is this machine or a private network (loopback, RFC 1918, link-local, a name
    without a dot or ending in .local/.internal/.lan): a self-hosted server, not a hosted API."""
    import ipaddress
    from urllib.parse import urlsplit

    host = (urlsplit(url).hostname or "").lower()
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host == "localhost" or "." not in host or host.endswith((".local", ".internal", ".lan", ".localhost"))
    return address.is_loopback or address.is_private or address.is_link_local


def completion_payload(model: str, request: Request, n: int, seed_offset: int = 0,
                       neutral: dict[str, Any] | None = None) -> dict[str, Any]:
    """The JSON body of one /completions call asking for ``n`` choices of ``request``; ``neutral`` (one of
    :data:`NEUTRAL_FIELDS`) switches off the server's own sampling defaults."""
    sampling = request.sampling
    body: dict[str, Any] = {
        "model": model,
        "prompt": request.prompt,
        "max_tokens": sampling.max_tokens,
        "n": n,
    }
    if sampling.greedy:
        body["temperature"] = 0.0
    else:
        body["temperature"] = sampling.temperature
        body["top_p"] = sampling.top_p
        body["seed"] = sampling.seed + seed_offset
    if neutral is not None:
        body.update(neutral)
        body.setdefault("top_p", 1.0)  # greedy: no nucleus either (a server's default top_p is often 0.95)
    stops = [s for s in sampling.stop if s][:MAX_STOPS_SENT]
    if stops:
        body["stop"] = stops
    return body


class _DaemonPool:
    """A thread pool whose workers are daemon threads: an interrupted run exits at once, even with a request
    waiting on a slow server (``concurrent.futures`` joins its workers at exit, so a read of up to ``timeout``
    seconds would hold the process).  Workers start as needed, up to ``workers``."""

    def __init__(self, workers: int, name: str):
        self._workers, self._name = workers, name
        self._tasks: queue.SimpleQueue = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []

    def submit(self, fn: Any, *args: Any) -> Future:
        future: Future = Future()
        self._tasks.put((future, fn, args))
        if len(self._threads) < self._workers:
            thread = threading.Thread(target=self._work, name=f"{self._name}_{len(self._threads)}", daemon=True)
            thread.start()
            self._threads.append(thread)
        return future

    def _work(self) -> None:
        while True:
            task = self._tasks.get()
            if task is None:
                return
            future, fn, args = task
            if not future.set_running_or_notify_cancel():
                continue
            try:
                result = fn(*args)
            except BaseException as exc:  # noqa: BLE001 - handed to the caller through the future
                future.set_exception(exc)
            else:
                future.set_result(result)

    def shutdown(self) -> None:
        """Stop the workers once their current call returns (not waited for; queued calls are cancelled)."""
        while True:
            try:
                task = self._tasks.get_nowait()
            except queue.Empty:
                break
            if task is not None:
                task[0].cancel()
        for _ in self._threads:
            self._tasks.put(None)


class OpenAIBackend(Backend):
    kind = "openai"

    def __init__(
        self,
        model: str,
        *,
        api_key: str | None = None,
        concurrency: int = 8,
        timeout: float = 600.0,
        max_retries: int = 8,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        chat_template: str | None = None,
        neutral_sampling: bool | str = "auto",
        server: str = "auto",
        **unused: Any,
    ):
        name, url = split_target(model)
        super().__init__(name)
        unused = {k: v for k, v in unused.items() if k not in ("threads", "n_threads")}
        if unused:
            known = ("api_key, concurrency, timeout, max_retries, backoff, max_backoff, chat_template, "
                     "neutral_sampling, server")
            raise TuskError(f"openai backend: unknown option {', '.join(sorted(unused))}; its options are {known}")
        if str(neutral_sampling).strip().lower() == "auto":
            self.neutral_sampling = is_local_url(url)
        else:
            self.neutral_sampling = bool_option("openai", "neutral_sampling", neutral_sampling)
        server = str(server).strip().lower()
        if server not in ("auto", *SERVER_KINDS):
            raise TuskError(f"openai backend: option server={server!r} is not one of auto, {', '.join(SERVER_KINDS)}")
        #: the server kind whose neutral fields are sent (None: not known yet; found out from GET /models)
        self.server = None if server == "auto" else server
        try:
            import httpx
        except ImportError as exc:
            raise MissingExtraError("the openai backend", "openai", exc) from exc
        self.base_url = url
        self.url = url + "/completions"
        self.concurrency = int_option("openai", "concurrency", concurrency, minimum=1)
        self.max_retries = int_option("openai", "max_retries", max_retries, minimum=0)
        self.backoff = _seconds("backoff", backoff)
        self.max_backoff = _seconds("max_backoff", max_backoff)
        timeout = _seconds("timeout", timeout)
        if timeout <= 0:
            raise TuskError(f"openai backend: option timeout={timeout:g} must be above 0 seconds")
        self.chat_template = load_chat_template(str(chat_template)) if chat_template else None
        if self.chat_template is not None:
            self.preferred_prompt = "chat"
        key = api_key or os.environ.get("TUSK_API_KEY") or os.environ.get("OPENAI_API_KEY")
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self._client = httpx.Client(
            headers=headers,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            limits=httpx.Limits(max_connections=self.concurrency, max_keepalive_connections=self.concurrency),
        )
        self._closing = threading.Event()
        #: set once any HTTP call got an answer: until then a refused connection fails fast
        self._reached = threading.Event()
        #: set once a completion call succeeded: a later 404 is not about the URL
        self._reached_completions = False
        #: HTTP calls made, including retries (for tests and logs)
        self.calls = 0
        self.retries = 0
        self._count = threading.Lock()
        self._kind_lock = threading.Lock()
        if self.neutral_sampling and self.server is None:
            self._detect_server(quiet=True)  # a server that is not up yet is asked again before the first request

    def preferred_chunk(self) -> int:
        """Enough requests to keep ``concurrency`` in flight while the slowest ones finish."""
        return 4 * self.concurrency

    def describe(self) -> dict[str, Any]:
        described: dict[str, Any] = {"backend": self.kind, "model": self.model, "url": self.base_url}
        if self.neutral_sampling:  # plain temperature / top_p sampling: the server's defaults switched off
            described["neutral_sampling"] = True
            if self.server is not None:  # what is sent (not part of the identity: the same sampling everywhere)
                described["sampling_fields"] = {"server": self.server, **NEUTRAL_FIELDS[self.server]}
        if self.chat_template is not None:  # which template made the prompts (only when one is used)
            described["chat_template"] = hashlib.sha256(self.chat_template.template.encode()).hexdigest()[:16]
        return described

    def chat_prompt(self, messages: Sequence[dict[str, str]]) -> str | None:
        """The template's prompt without the template's ``{{ bos_token }}``: the server adds BOS itself."""
        return None if self.chat_template is None else self.chat_template.render(messages, bos=False)

    def close(self) -> None:
        self._closing.set()
        self._client.close()

    def generate(self, requests: Sequence[Request]) -> Iterator[Generation]:
        if self._closing.is_set():
            raise TuskError("openai backend is closed")
        pending = iter(requests)
        running: dict[Future[Generation], str] = {}
        pool = _DaemonPool(self.concurrency, "tusk-openai")
        try:
            self._fill(pool, pending, running)
            while running:
                done, _ = wait(list(running), return_when=FIRST_COMPLETED)
                failed: BaseException | None = None
                for future in done:
                    running.pop(future)
                    if future.exception() is None:
                        yield future.result()
                    elif failed is None:
                        failed = future.exception()
                if failed is not None:  # after its retries; what finished beside it was yielded first
                    raise failed
                self._fill(pool, pending, running)
        finally:
            for future in running:
                future.cancel()
            pool.shutdown()

    def _fill(self, pool: _DaemonPool, pending: Iterator[Request], running: dict) -> None:
        while len(running) < 2 * self.concurrency:
            request = next(pending, None)
            if request is None:
                return
            running[pool.submit(self._complete, request)] = request.id

    # -- one request -----------------------------------------------------------------------------------------

    def _neutral_fields(self) -> dict[str, Any] | None:
        if not self.neutral_sampling:
            return None
        if self.server is None:
            self._detect_server(quiet=False)
        return NEUTRAL_FIELDS[self.server or "other"]

    def _detect_server(self, quiet: bool) -> None:
        """Tell the server kind from ``GET /models`` (``owned_by``); a server that answers something else is
        "other"; one that cannot be reached stays unknown (asked again later) unless ``quiet`` is False."""
        import httpx

        with self._kind_lock:
            if self.server is not None:
                return
            try:
                response = self._client.get(self.base_url + "/models", timeout=5.0)
            except httpx.HTTPError as exc:
                if quiet:
                    log.debug("%s/models: %s; the server kind is asked again before the first request",
                              self.base_url, exc)
                    return
                log.warning("%s/models: %s; sending the sampling fields every server kind takes (not top_k)",
                            self.base_url, exc)
                self.server = "other"
                return
            owners = set()
            if response.status_code == 200:
                try:
                    owners = {str(m.get("owned_by", "")).lower() for m in response.json().get("data") or []
                              if isinstance(m, dict)}
                except (ValueError, AttributeError):
                    owners = set()
            kinds = {_OWNED_BY.get(owner, "other") for owner in owners}
            self.server = kinds.pop() if len(kinds) == 1 else "other"
            log.info("%s: %s server; neutral sampling fields %s", self.base_url, self.server,
                     NEUTRAL_FIELDS[self.server])

    def _complete(self, request: Request) -> Generation:
        sampling = request.sampling
        neutral = self._neutral_fields()
        wanted = max(1, sampling.n)
        ask = 1 if sampling.greedy else wanted
        began = time.perf_counter()
        texts: list[str] = []
        reasons: list[str] = []
        prompt_tokens = completion_tokens = 0
        while len(texts) < ask:
            body = completion_payload(self.model, request, ask - len(texts), seed_offset=len(texts), neutral=neutral)
            reply = self._post(body)
            choices = sorted(reply.get("choices") or [], key=lambda c: c.get("index", 0))
            if not choices:
                raise TuskError(f"{self.url}: reply without choices for request {request.id}")
            for choice in choices[: ask - len(texts)]:
                text, stopped = cut_at_stop(str(choice.get("text") or ""), sampling.stop)
                texts.append(text)
                reasons.append("stop" if stopped or choice.get("finish_reason") != "length" else "length")
            usage = reply.get("usage") or {}
            prompt_tokens = int(usage.get("prompt_tokens") or prompt_tokens)
            completion_tokens += int(usage.get("completion_tokens") or 0)
        if sampling.greedy and wanted > 1:
            texts, reasons = texts * wanted, reasons * wanted
            completion_tokens *= wanted
        return Generation(
            request_id=request.id,
            texts=tuple(texts),
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            seconds=time.perf_counter() - began,
            finish_reasons=tuple(reasons),
        )

    def _post(self, body: dict[str, Any]) -> dict[str, Any]:
        import httpx

        refused = 0  # connections refused before any call of this backend reached the server
        for attempt in range(self.max_retries + 1):
            if self._closing.is_set():
                raise TuskError("openai backend closed while requests were in flight")
            with self._count:
                self.calls += 1
            retry_after: float | None = None
            try:
                response = self._client.post(self.url, json=body)
            except (httpx.TimeoutException, httpx.TransportError, RuntimeError) as exc:
                if self._closing.is_set():  # the client was closed under this call (Ctrl-C): no retry, no warning
                    raise TuskError("openai backend closed while requests were in flight") from None
                if isinstance(exc, RuntimeError):
                    raise
                problem = f"{type(exc).__name__}: {exc}"
                if isinstance(exc, httpx.ConnectError) and not self._reached.is_set():
                    # nothing has ever answered: most likely no server there, so give up within seconds
                    if attempt == self.max_retries or refused == len(FIRST_CONTACT_DELAYS):
                        raise TuskError(
                            f"{self.url}: gave up after {attempt + 1} tries; last: {problem}; no request has "
                            f"reached the server at {self.base_url}: is it running, and is the URL right?"
                        ) from None
                    retry_after = FIRST_CONTACT_DELAYS[refused]
                    refused += 1
            else:
                self._reached.set()
                if response.status_code == 200:
                    self._reached_completions = True
                    try:
                        return response.json()
                    except ValueError:
                        problem = "HTTP 200 with a body that is not JSON"
                elif response.status_code == 429 or response.status_code >= 500:
                    problem = f"HTTP {response.status_code}"
                    retry_after = _retry_after(response.headers.get("retry-after"))
                else:
                    raise TuskError(self._client_error(response, body))
            if attempt == self.max_retries:
                raise TuskError(f"{self.url}: gave up after {attempt + 1} tries; last: {problem}")
            if self._closing.is_set():
                raise TuskError("openai backend closed while requests were in flight")
            delay = retry_after if retry_after is not None else self._delay(attempt)
            with self._count:
                self.retries += 1
            log.warning("%s: %s; retry %d in %.1f s", self.url, problem, attempt + 1, delay)
            if self._closing.wait(delay):
                raise TuskError("openai backend closed while requests were in flight")
        raise AssertionError("unreachable")

    def _client_error(self, response: Any, body: dict[str, Any]) -> str:
        """The message of an HTTP error that is not retried, with what probably caused it."""
        message = f"{self.url}: HTTP {response.status_code}: {response.text[:300]}"
        if response.status_code == 404 and not self._reached_completions:
            message += f" (is {self.base_url} the API root? It usually ends in /v1)"
        sent = [field for field in NEUTRAL_FIELDS.get(self.server or "other", {}) if field in body]
        if response.status_code in (400, 422) and sent and any(field in response.text for field in sent):
            message += (f" (the server refused the fields tusk sends to switch off its own sampling defaults, "
                        f"{', '.join(sent)}: name its kind with --backend-option server=llamacpp|vllm|sglang|other, "
                        "or pass --backend-option neutral_sampling=false to send only temperature and top_p)")
        return message

    def _delay(self, attempt: int) -> float:
        return min(self.max_backoff, self.backoff * 2**attempt) * (0.5 + random.random() / 2)


def _retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return max(0.0, min(float(value), 300.0))
    except ValueError:
        return None


def _seconds(option: str, value: Any) -> float:
    """A non-negative number of seconds (YAML numbers, or their text from the command line)."""
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = -1.0
    if isinstance(value, bool) or not seconds >= 0:
        raise TuskError(f"openai backend: option {option}={value!r} is not a number of seconds >= 0")
    return seconds
