"""A backend wrapper that remembers finished generations in SQLite and reuses them.

``CachedBackend(inner, path)`` keys each request by (the inner backend's model identity: its ``describe()``
without paths, URLs, library versions and parallelism, see :mod:`tusk.backends.identity`; the prompt; the
sampling settings) and stores the inner backend's Generation under that key as soon as it is yielded.
Rerunning a benchmark with another grader or decoding mode, or resuming after a crash, then sends the inner
backend only the requests it has not answered before.  ``path`` is a folder (the database is
``generations.sqlite`` inside) or a ``.sqlite`` / ``.db`` file.

Guarantees: one Generation per request, carrying the request's own id; hits are yielded first, before any
model work; requests with the same key in one call are sent to the inner backend once; each answer is
committed before it is yielded, so a killed run loses nothing it reported; several processes may share a
cache (SQLite WAL mode, first writer wins).  Sampled (temperature > 0) generations are cached too: the seed
is part of the key, so a rerun gets the samples stored for that seed, not fresh ones.  Greedy requests ignore
``seed`` and ``top_p``, and so does their key.

Not done: eviction or size limits (delete the file to start over); any notion of "close enough" prompts.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from tusk.backends.base import Backend
from tusk.backends.identity import model_identity
from tusk.errors import TuskError
from tusk.types import Generation, Request, SamplingParams

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS generations (
    key TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    texts TEXT NOT NULL,
    finish_reasons TEXT NOT NULL,
    prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    seconds REAL NOT NULL,
    created REAL NOT NULL
)
"""


def cache_key(model: dict[str, Any], prompt: str, sampling: SamplingParams) -> str:
    """sha256 of the canonical JSON of (model identity, prompt, sampling settings)."""
    if sampling.greedy:  # what greedy decoding ignores must not split the cache
        sampling = dataclasses.replace(sampling, seed=0, top_p=1.0)
    blob = json.dumps(
        {"model": model, "prompt": prompt, "sampling": dataclasses.asdict(sampling)},
        sort_keys=True,
        ensure_ascii=False,
        default=str,
    )
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


class CachedBackend(Backend):
    """Wraps ``inner``; see the module docstring."""

    def __init__(self, inner: Backend, path: str | Path):
        super().__init__(inner.model)
        self.inner = inner
        self.kind = inner.kind
        self.preferred_prompt = inner.preferred_prompt
        path = Path(path)
        if path.suffix not in (".sqlite", ".db"):
            path = path / "generations.sqlite"
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, check_same_thread=False, timeout=60.0)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(SCHEMA)
            self._db.commit()
        except (OSError, sqlite3.Error) as exc:
            raise TuskError(f"generation cache {path}: {exc}") from exc
        self.path = path
        self._lock = threading.Lock()
        self._description = inner.describe()
        # the key holds what identifies the weights, not where they lie or which library version ran them
        self._identity = model_identity(self._description)
        self._model_label = json.dumps(self._identity, sort_keys=True, default=str)
        #: how many requests the last generate() answered from the cache / sent to the inner backend
        self.hits = 0
        self.misses = 0

    def describe(self) -> dict[str, Any]:
        return {**self._description, "generation_cache": str(self.path)}

    def chat_prompt(self, messages: Sequence[dict[str, str]]) -> str | None:
        return self.inner.chat_prompt(messages)

    def preferred_chunk(self) -> int:
        return self.inner.preferred_chunk()

    def close(self) -> None:
        try:
            self.inner.close()
        finally:
            with self._lock:
                self._db.close()

    def generate(self, requests: Sequence[Request]) -> Iterator[Generation]:
        keys = [cache_key(self._identity, r.prompt, r.sampling) for r in requests]
        found = self._lookup(set(keys))
        waiting: dict[str, list[Request]] = {}  # key -> requests answered by the one inner call
        to_send: list[Request] = []
        self.hits = self.misses = 0
        for request, key in zip(requests, keys):
            if key in found:
                self.hits += 1  # no time spent now: the stored seconds belong to the run that generated it
                yield dataclasses.replace(found[key], request_id=request.id, seconds=0.0)
            elif key in waiting:
                waiting[key].append(request)
            else:
                waiting[key] = [request]
                to_send.append(request)
        self.misses = len(requests) - self.hits
        if not to_send:
            return
        log.info("generation cache: %d hits, %d to generate", self.hits, len(to_send))
        key_of = {r.id: k for r, k in zip(requests, keys)}
        for generation in self.inner.generate(to_send):
            key = key_of.get(generation.request_id)
            if key is None or key not in waiting:
                raise TuskError(
                    f"{self.inner.kind} backend answered an unknown request {generation.request_id!r}"
                )
            self._store(key, generation)
            for i, request in enumerate(waiting.pop(key)):  # the time is counted once, on the first copy
                seconds = generation.seconds if i == 0 else 0.0
                yield dataclasses.replace(generation, request_id=request.id, seconds=seconds)
        if waiting:
            missing = ", ".join(r.id for group in waiting.values() for r in group)
            raise TuskError(f"{self.inner.kind} backend did not answer: {missing}")

    def _lookup(self, keys: set[str]) -> dict[str, Generation]:
        try:
            return self._read(keys)
        except (sqlite3.Error, ValueError, TypeError) as exc:
            raise TuskError(f"generation cache {self.path} is damaged ({exc}); delete it to start over") from None

    def _read(self, keys: set[str]) -> dict[str, Generation]:
        found: dict[str, Generation] = {}
        ordered = sorted(keys)
        with self._lock:
            for start in range(0, len(ordered), 500):
                part = ordered[start : start + 500]
                marks = ",".join("?" * len(part))
                rows = self._db.execute(
                    "SELECT key, texts, finish_reasons, prompt_tokens, completion_tokens, seconds "
                    f"FROM generations WHERE key IN ({marks})",
                    part,
                ).fetchall()
                for key, texts, reasons, prompt_tokens, completion_tokens, seconds in rows:
                    found[key] = Generation(
                        request_id="",
                        texts=tuple(json.loads(texts)),
                        prompt_tokens=prompt_tokens,
                        completion_tokens=completion_tokens,
                        seconds=seconds,
                        finish_reasons=tuple(json.loads(reasons)),
                    )
        return found

    def _store(self, key: str, generation: Generation) -> None:
        row = (
            key,
            self._model_label,
            json.dumps(list(generation.texts), ensure_ascii=False),
            json.dumps(list(generation.finish_reasons)),
            generation.prompt_tokens,
            generation.completion_tokens,
            generation.seconds,
            time.time(),
        )
        with self._lock:
            try:
                self._db.execute("INSERT OR IGNORE INTO generations VALUES (?, ?, ?, ?, ?, ?, ?, ?)", row)
                self._db.commit()
            except sqlite3.Error as exc:
                raise TuskError(f"generation cache {self.path}: cannot store ({exc}); delete it to start "
                                "over") from None
