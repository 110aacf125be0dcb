"""The llama.cpp backend: GGUF models on the CPU through llama-cpp-python.

Requests run one at a time on one model instance that uses every core (on a small CPU that is faster than
several concurrent contexts).  Requests are ordered so that prompts sharing a prefix follow each other, and
llama.cpp reuses the KV cache of the longest common prefix between consecutive prompts, so the Alpaca preamble
or chat header is evaluated once rather than per problem.  Greedy decoding (temperature 0) is deterministic.

``dequantize=True`` runs llama.cpp on the model's weights dequantised to f32 (converted once and cached, see
:func:`tusk.gguf_convert.dequantized_gguf`) with an f32 KV cache.  A quantised GGUF otherwise multiplies
4-bit weights with 8-bit-quantised activations, while the ``hf`` backend computes in fp32 on the same
dequantised weights, and greedy decoding parts where the top two tokens are nearly tied; with
``dequantize=True`` both engines compute the same numbers up to summation order, and give the same greedy
completions (tested on the smoke set with SmolLM2).  It costs memory (4 bytes per weight) and speed.

Guarantees: one Generation per Request, yielded as soon as it is finished; completions are cut before the first
stop string; ``n > 1`` draws n samples with seeds ``seed, seed+1, ...`` (greedy: decoded once, repeated).
Does not: run requests in parallel, or support prompts longer than the context window (those raise TuskError).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from tusk.backends.base import Backend, bool_option
from tusk.errors import MissingExtraError, TuskError
from tusk.types import Generation, Request

log = logging.getLogger(__name__)


class LlamaCppBackend(Backend):
    """``llamacpp:PATH.gguf`` or a built-in model name (``qwen2.5-coder-0.5b``, ``smollm2-135m``, ...)."""

    kind = "llamacpp"

    def __init__(
        self,
        target: str,
        n_ctx: int = 4096,
        threads: int | None = None,
        seed: int = 0,
        dequantize: bool | str = False,
        **options: Any,
    ):
        super().__init__(target)
        from tusk import models

        self.dequantize = bool_option("llamacpp", "dequantize", dequantize)
        try:
            import llama_cpp
        except ImportError as exc:
            raise MissingExtraError("the llamacpp backend", "cpu", exc) from exc
        self._builtin = models.BUILTIN_MODELS.get(target)
        if self._builtin:
            self.path = models.resolve_model_path(target)
            self.preferred_prompt = self._builtin.prompt_style  # type: ignore[assignment]
        else:
            self.path = Path(target).expanduser()
            if not self.path.is_file():
                raise TuskError(f"model file not found: {self.path}")
        self.n_ctx = n_ctx
        exact: dict[str, Any] = {}
        self.weights = self.path
        if self.dequantize:
            from tusk.gguf_convert import dequantized_gguf

            self.weights = dequantized_gguf(self.path)
            exact = {"type_k": llama_cpp.GGML_TYPE_F32, "type_v": llama_cpp.GGML_TYPE_F32, "flash_attn": False}
        # on a machine shared with other busy processes, one thread can be much faster than all cores
        threads = threads or options.get("n_threads") or len(os.sched_getaffinity(0))
        log.info("loading %s with llama.cpp (%d threads, n_ctx=%d)", self.weights.name, threads, n_ctx)
        self._llm = llama_cpp.Llama(
            model_path=str(self.weights),
            n_ctx=n_ctx,
            n_threads=threads,
            n_threads_batch=threads,
            seed=seed,
            verbose=False,
            **exact,
        )
        self._version = getattr(llama_cpp, "__version__", "?")
        self._chat_formatter = self._make_chat_formatter()
        if not self._builtin and self._chat_formatter is not None:
            self.preferred_prompt = "chat"

    def _make_chat_formatter(self):
        template = self._llm.metadata.get("tokenizer.chat_template")
        if not template:
            return None
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        def token_text(key: str) -> str:
            token_id = self._llm.metadata.get(key)
            if token_id is None:
                return ""
            return self._llm._model.token_get_text(int(token_id))

        return Jinja2ChatFormatter(
            template=template,
            eos_token=token_text("tokenizer.ggml.eos_token_id"),
            bos_token=token_text("tokenizer.ggml.bos_token_id"),
        )

    def chat_prompt(self, messages: Sequence[dict[str, str]]) -> str | None:
        if self._chat_formatter is None:
            return None
        return self._chat_formatter(messages=list(messages)).prompt

    def describe(self) -> dict[str, Any]:
        info = {"backend": self.kind, "model": self.model, "path": str(self.path), "llama_cpp": self._version}
        if self._builtin:
            info["sha256"] = self._builtin.sha256
        if self.dequantize:
            info["dequantize"] = True
        return info

    def generate(self, requests: Sequence[Request]) -> Iterator[Generation]:
        # Sorting by prompt groups shared prefixes, so llama.cpp reuses their KV cache.
        for request in sorted(requests, key=lambda r: r.prompt):
            yield self._complete(request)

    def _complete(self, request: Request) -> Generation:
        sp = request.sampling
        texts, reasons = [], []
        prompt_tokens = completion_tokens = 0
        start = time.perf_counter()
        draws = 1 if sp.greedy else sp.n  # greedy samples are identical: decode once, repeat
        for i in range(draws):
            try:
                out = self._llm.create_completion(
                    request.prompt,
                    max_tokens=sp.max_tokens,
                    temperature=sp.temperature,
                    top_p=sp.top_p,
                    stop=list(sp.stop) or None,
                    seed=sp.seed + i,
                )
            except ValueError as exc:  # llama-cpp-python raises ValueError for prompts over n_ctx
                raise TuskError(f"request {request.id}: {exc}") from exc
            choice = out["choices"][0]
            texts.append(choice["text"])
            reasons.append(choice.get("finish_reason") or "stop")
            prompt_tokens = out["usage"]["prompt_tokens"]
            completion_tokens += out["usage"]["completion_tokens"]
        repeat = sp.n // draws
        return Generation(
            request_id=request.id,
            texts=tuple(texts) * repeat,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens * repeat,
            seconds=time.perf_counter() - start,
            finish_reasons=tuple(reasons) * repeat,
        )

    def close(self) -> None:
        llm, self._llm = getattr(self, "_llm", None), None
        if llm is not None:
            llm.close()
