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
- ``n`` samples: servers that return fewer choices than asked (the llama.cpp server returns one) are asked
  again for the rest, each call with its own seed; greedy requests are sent once and repeated;
- stop strings: at most 4 are sent (the OpenAI limit); every stop string is applied to the text afterwards.

Chat prompts: the server's chat template is not known to tusk, so by default ``chat_prompt`` returns None and
prompts are Alpaca.  ``chat_template=SOURCE`` (a built-in model name, a ``.gguf`` file, a model folder or a
``.jinja`` / ``tokenizer_config.json`` file holding the served model's template) makes tusk render chat prompts
itself (:mod:`tusk.backends.chat_template`) and prefer them, as the local backends do for instruct models.  The
template's ``{{ bos_token }}`` renders as nothing: servers add the BOS token to a completion prompt themselves
(text the template writes literally, such as SmolLM2's ``<|im_start|>``, whose BOS token it also is, stays).

Options other than those above are errors, except ``threads`` (meaningless for a server; ignored).

Not done: the chat endpoint (tusk renders every prompt itself, so what was sent is what is stored), streaming
responses, and token counting beyond what the server reports in ``usage``.
"""

from __future__ import annotations

import hashlib
import logging
import os
import random
import re
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any

from tusk.backends.base import Backend, int_option
from tusk.backends.chat_template import load_chat_template
from tusk.backends.stopping import cut_at_stop
from tusk.errors import MissingExtraError, TuskError
from tusk.types import Generation, Request

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "http://127.0.0.1:8000/v1"
#: options of the transport (and ``chat_template``, whose content hash is in ``describe()``): a run resumes and
#: shards merge whatever their values
NEUTRAL_OPTIONS = frozenset({"concurrency", "timeout", "max_retries", "backoff", "max_backoff", "chat_template",
                             "threads", "n_threads"})
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


def completion_payload(model: str, request: Request, n: int, seed_offset: int = 0) -> dict[str, Any]:
    """The JSON body of one /completions call asking for ``n`` choices of ``request``."""
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
    stops = [s for s in sampling.stop if s][:MAX_STOPS_SENT]
    if stops:
        body["stop"] = stops
    return body


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
        **unused: Any,
    ):
        name, url = split_target(model)
        super().__init__(name)
        unused = {k: v for k, v in unused.items() if k not in ("threads", "n_threads")}
        if unused:
            known = "api_key, concurrency, timeout, max_retries, backoff, max_backoff, chat_template"
            raise TuskError(f"openai backend: unknown option {', '.join(sorted(unused))}; its options are {known}")
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
        #: HTTP calls made, including retries (for tests and logs)
        self.calls = 0
        self.retries = 0
        self._count = threading.Lock()

    def preferred_chunk(self) -> int:
        """Enough requests to keep ``concurrency`` in flight while the slowest ones finish."""
        return 4 * self.concurrency

    def describe(self) -> dict[str, Any]:
        described = {"backend": self.kind, "model": self.model, "url": self.base_url}
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
        pool = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="tusk-openai")
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
            pool.shutdown(wait=False, cancel_futures=True)

    def _fill(self, pool: ThreadPoolExecutor, pending: Iterator[Request], running: dict) -> None:
        while len(running) < 2 * self.concurrency:
            request = next(pending, None)
            if request is None:
                return
            running[pool.submit(self._complete, request)] = request.id

    # -- one request -----------------------------------------------------------------------------------------

    def _complete(self, request: Request) -> Generation:
        sampling = request.sampling
        wanted = max(1, sampling.n)
        ask = 1 if sampling.greedy else wanted
        began = time.perf_counter()
        texts: list[str] = []
        reasons: list[str] = []
        prompt_tokens = completion_tokens = 0
        while len(texts) < ask:
            body = completion_payload(self.model, request, ask - len(texts), seed_offset=len(texts))
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
            except (httpx.TimeoutException, httpx.TransportError) as exc:
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
                    try:
                        return response.json()
                    except ValueError:
                        problem = "HTTP 200 with a body that is not JSON"
                elif response.status_code == 429 or response.status_code >= 500:
                    problem = f"HTTP {response.status_code}"
                    retry_after = _retry_after(response.headers.get("retry-after"))
                else:
                    raise TuskError(f"{self.url}: HTTP {response.status_code}: {response.text[:300]}")
            if attempt == self.max_retries:
                raise TuskError(f"{self.url}: gave up after {attempt + 1} tries; last: {problem}")
            delay = retry_after if retry_after is not None else self._delay(attempt)
            with self._count:
                self.retries += 1
            log.warning("%s: %s; retry %d in %.1f s", self.url, problem, attempt + 1, delay)
            if self._closing.wait(delay):
                raise TuskError("openai backend closed while requests were in flight")
        raise AssertionError("unreachable")

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
