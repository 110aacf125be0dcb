"""A scripted backend for unit tests: answers come from a table or a function, never from a model.

``scripted:FILE.jsonl`` reads lines ``{"match": "substring of the prompt", "response": "text"}`` (first match
wins; a line with ``"match": ""`` is the default).  From Python, pass ``responder=callable(request, i) -> str``.
It records every request it received (``calls``) so tests can check what the harness asked for.
It is a test double: it is not listed by ``tusk ls backends`` and must never back a feature.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from tusk.backends.base import Backend
from tusk.errors import DataError, TuskError
from tusk.types import Generation, Request

Responder = Callable[[Request, int], str]


class ScriptedBackend(Backend):
    kind = "scripted"

    def __init__(
        self,
        target: str = "",
        responder: Responder | None = None,
        chat_template: Callable[[Sequence[dict[str, str]]], str] | None = None,
        **_: Any,
    ):
        super().__init__(target or "scripted")
        self.calls: list[Request] = []
        self._chat = chat_template
        if responder is None:
            if not target:
                raise TuskError("scripted backend needs a responder or a JSONL file of {match, response}")
            responder = _table_responder(Path(target))
        self._responder = responder

    def generate(self, requests: Sequence[Request]) -> Iterator[Generation]:
        for request in requests:
            self.calls.append(request)
            texts = tuple(
                _cut_at_stop(self._responder(request, i), request.sampling.stop) for i in range(request.sampling.n)
            )
            yield Generation(
                request_id=request.id,
                texts=texts,
                prompt_tokens=len(request.prompt.split()),
                completion_tokens=sum(len(t.split()) for t in texts),
                finish_reasons=("stop",) * len(texts),
            )

    def chat_prompt(self, messages: Sequence[dict[str, str]]) -> str | None:
        return self._chat(messages) if self._chat else None


def _cut_at_stop(text: str, stops: Sequence[str]) -> str:
    cut = min((i for i in (text.find(s) for s in stops if s) if i >= 0), default=len(text))
    return text[:cut]


def _table_responder(path: Path) -> Responder:
    table: list[tuple[str, str]] = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise DataError(f"{path}: {exc.strerror}") from exc
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            table.append((str(row["match"]), str(row["response"])))
        except (ValueError, KeyError, TypeError) as exc:
            raise DataError(f"{path} line {number}: expected {{\"match\", \"response\"}} ({exc})") from exc

    def respond(request: Request, _: int) -> str:
        for match, response in table:
            if match in request.prompt:
                return response
        return ""

    return respond
