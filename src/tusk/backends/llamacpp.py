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

Options: ``n_ctx`` (default 4096; 0 = the model's training context), ``threads`` (default: every core the
process may use; ``n_threads`` is the same), ``seed``, ``dequantize``, and any parameter of
``llama_cpp.Llama()`` (``n_gpu_layers`` for a GPU build, ``n_batch``, ``flash_attn``, ...), passed through
unchanged.  Any other option, an integer option that is not an integer, or a file that is not GGUF raises
TuskError before anything is loaded.  ``describe()`` identifies the weights by their pinned sha256 (built-in
models) or by the file's size and sha256 (computed on first use and remembered while its size and mtime are
unchanged), so weights replaced at the same path are another model to the generation cache and to run resume,
and the same file copied elsewhere is the same model (its path is described but not part of the identity, see
:mod:`tusk.backends.identity`); Llama() options given (other than thread counts) are part of it too, and so is
an ``n_ctx`` other than the default (the window bounds a completion's length, so it changes results).

Guarantees: one Generation per Request, yielded as soon as it is finished; completions are cut before the first
stop string; ``n > 1`` draws n samples with seeds ``seed, seed+1, ...`` (greedy: decoded once, repeated);
a completion stops ("length") where the context window is full, and such completions are counted
(``context_cut``) and warned about: once when the first one happens, with the count when the backend closes.  Does not: run requests in parallel, or
support prompts that do not fit the context window (those raise TuskError naming the request, its token count
and n_ctx).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from tusk.backends.base import Backend, bool_option, int_option
from tusk.errors import MissingExtraError, TuskError
from tusk.types import Generation, Request

log = logging.getLogger(__name__)

#: the context window when ``n_ctx`` is not given
DEFAULT_N_CTX = 4096


class LlamaCppBackend(Backend):
    """``llamacpp:PATH.gguf`` or a built-in model name (``qwen2.5-coder-0.5b``, ``smollm2-135m``, ...)."""

    kind = "llamacpp"

    def __init__(
        self,
        target: str,
        n_ctx: int = DEFAULT_N_CTX,
        threads: int | None = None,
        seed: int = 0,
        dequantize: bool | str = False,
        **options: Any,
    ):
        super().__init__(target)
        from tusk import models

        n_ctx = int_option("llamacpp", "n_ctx", n_ctx, minimum=0)
        threads = None if threads is None else int_option("llamacpp", "threads", threads, minimum=1)
        seed = int_option("llamacpp", "seed", seed)
        self.dequantize = bool_option("llamacpp", "dequantize", dequantize)
        try:
            import llama_cpp
        except ImportError as exc:
            raise MissingExtraError("the llamacpp backend", "cpu", exc) from exc
        llama_options = llama_passthrough(llama_cpp.Llama, options)
        # what the user asked llama.cpp for may change its numbers (type_k, flash_attn, a GPU): part of identity
        self._llama_options = {k: v for k, v in llama_options.items() if k not in _NEUTRAL_LLAMA_OPTIONS}
        self._builtin = models.BUILTIN_MODELS.get(target)
        if self._builtin:
            self.path = models.resolve_model_path(target)
            self.preferred_prompt = self._builtin.prompt_style  # type: ignore[assignment]
        else:
            self.path = Path(target).expanduser()
            if not self.path.is_file():
                raise TuskError(f"model file not found: {self.path}")
        check_gguf(self.path)
        if not self._builtin:  # weights are known by content: a copy elsewhere is the same model
            from tusk.backends.identity import file_entries

            _, size, digest = file_entries(self.path)[0]
            self._file_identity = {"size": size, "sha256": digest}
        self.weights = self.path
        if self.dequantize:
            clash = sorted(set(llama_options) & set(_EXACT_SETTINGS))
            if clash:
                raise TuskError(
                    f"llamacpp backend: dequantize=true sets {', '.join(clash)} itself; drop them"
                )
            from tusk.gguf_convert import dequantized_gguf

            self.weights = dequantized_gguf(self.path)
            f32 = llama_cpp.GGML_TYPE_F32
            llama_options.update(type_k=f32, type_v=f32, flash_attn=False)
        # on a machine shared with other busy processes, one thread can be much faster than all cores
        n_threads = llama_options.pop("n_threads", None)  # llama.cpp's name for ``threads``
        if n_threads is not None:
            n_threads = int_option("llamacpp", "n_threads", n_threads, minimum=1)
        threads = threads or n_threads or len(os.sched_getaffinity(0))
        llama_options.setdefault("n_threads_batch", threads)
        llama_options.setdefault("verbose", False)
        log.info("loading %s with llama.cpp (%d threads, n_ctx=%d)", self.weights.name, threads, n_ctx)
        try:
            self._llm = llama_cpp.Llama(
                model_path=str(self.weights), n_ctx=n_ctx, n_threads=threads, seed=seed, **llama_options
            )
        except (TypeError, ValueError, RuntimeError) as exc:
            raise TuskError(f"llamacpp backend: cannot load {self.weights}: {exc}") from exc
        # llama.cpp pads the context it allocates, but llama-cpp-python keeps n_ctx tokens: the smaller counts
        self.n_ctx = min(n_ctx, self._llm.n_ctx()) if n_ctx else self._llm.n_ctx()
        #: the window bounds how many tokens a completion may have: another one is another result (described)
        self._described_n_ctx = None if n_ctx == DEFAULT_N_CTX else self.n_ctx
        self._version = getattr(llama_cpp, "__version__", "?")
        #: completions the context window ended before their max_tokens (warned about, with the count, at close)
        self.context_cut = 0
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
        info = {"backend": self.kind, "model": self.model, "path": str(self.path), "llama_cpp": self._version,
                "sampler": "plain"}  # temperature / top-p only (earlier versions also had top-k 40, min-p 0.05)
        if self._builtin:
            info["sha256"] = self._builtin.sha256  # checked when the model was resolved
        else:  # by content (hashed once, remembered by size and mtime): replaced weights are another model
            info.update(self._file_identity)
        if self.dequantize:
            info["dequantize"] = True
        if self._described_n_ctx is not None:  # the default is left out: described runs keep their identity
            info["n_ctx"] = self._described_n_ctx
        if self._llama_options:
            info["llama_options"] = dict(sorted(self._llama_options.items()))
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
        room = self.n_ctx - self.count_tokens(request.prompt)
        if room <= 0:
            raise TuskError(
                f"request {request.id}: the prompt has {self.n_ctx - room} tokens, which does not fit the "
                f"context window of n_ctx={self.n_ctx} tokens (raise it with --backend-option n_ctx=N)"
            )
        for i in range(draws):
            try:
                out = self._llm.create_completion(
                    request.prompt,
                    max_tokens=min(sp.max_tokens, room),
                    temperature=sp.temperature,
                    top_p=sp.top_p,
                    top_k=0,  # plain temperature / top-p sampling, as the other backends: llama-cpp-python
                    min_p=0.0,  # would also keep only the 40 likeliest tokens and those above 5% of the best
                    stop=list(sp.stop) or None,
                    seed=sp.seed + i,
                )
            except ValueError as exc:  # llama-cpp-python raises ValueError for prompts over n_ctx
                raise TuskError(f"request {request.id}: {exc}") from exc
            choice = out["choices"][0]
            texts.append(choice["text"])
            reasons.append(choice.get("finish_reason") or "stop")
            if room < sp.max_tokens and reasons[-1] == "length" and out["usage"]["completion_tokens"] >= room:
                self._window_ended(request.id)
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

    def count_tokens(self, prompt: str) -> int:
        """The prompt's length in tokens as llama-cpp-python counts it for a completion (BOS included)."""
        return len(self._llm.tokenize(prompt.encode("utf-8"), add_bos=True, special=True))

    def _window_ended(self, request_id: str) -> None:
        self.context_cut += 1
        if self.context_cut == 1:
            log.warning("request %s: the context window (n_ctx=%d) ended its completion before --max-tokens; raise "
                        "it with --backend-option n_ctx=N (a count follows at the end)", request_id, self.n_ctx)

    def close(self) -> None:
        llm, self._llm = getattr(self, "_llm", None), None
        if llm is not None:
            llm.close()
            if self.context_cut:
                log.warning("%d completions were ended by the context window (n_ctx=%d), not by --max-tokens; they "
                            "count as cut off; raise it with --backend-option n_ctx=N", self.context_cut, self.n_ctx)


#: options of LlamaCppBackend itself; any other option must be a parameter of ``llama_cpp.Llama()``
OWN_OPTIONS = ("n_ctx", "threads", "seed", "dequantize")
#: Llama() parameters the backend sets itself
_RESERVED = frozenset({"self", "model_path", "kwargs"})
#: Llama() parameters that do not change what is generated (left out of ``describe()``)
_NEUTRAL_LLAMA_OPTIONS = frozenset({"n_threads", "n_threads_batch", "verbose"})
#: options that do not change what is generated: a run resumes and shards merge whatever their values
NEUTRAL_OPTIONS = _NEUTRAL_LLAMA_OPTIONS | {"threads"}
#: what ``dequantize=true`` fixes so that llama.cpp computes in f32
_EXACT_SETTINGS = ("type_k", "type_v", "flash_attn")


def llama_passthrough(llama_class: type, options: dict[str, Any]) -> dict[str, Any]:
    """The options to hand to ``llama_class()`` unchanged; an option it does not take raises TuskError."""
    import inspect

    parameters = inspect.signature(llama_class.__init__).parameters
    accepted = set(parameters) - _RESERVED
    unknown = sorted(set(options) - accepted)
    if unknown:
        raise TuskError(
            f"llamacpp backend: unknown option{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}; "
            f"its options are {', '.join(OWN_OPTIONS)}, and any parameter of llama_cpp.Llama() "
            "(n_gpu_layers, n_batch, n_ubatch, flash_attn, ...)"
        )
    return {name: _typed(name, value, parameters[name].annotation) for name, value in options.items()}


def _typed(name: str, value: Any, annotation: Any) -> Any:
    """A Llama() option checked against its annotation (int, bool, float, str, optional or not), converted
    from the text the command line may give; an option of another type is passed as it is."""
    kind = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", str(annotation))
    optional = kind.startswith("Optional[")
    kind = kind.removeprefix("Optional[").removesuffix("]") if optional else kind
    if value is None and optional:
        return None
    if kind == "bool":
        return bool_option("llamacpp", name, value)
    if kind == "int":
        return int_option("llamacpp", name, value)
    if kind == "Union[bool, int]":
        return value if isinstance(value, (bool, int)) else int_option("llamacpp", name, value)
    if kind == "float":
        try:
            number = None if isinstance(value, bool) else float(value)
        except (TypeError, ValueError):
            number = None
        if number is None:
            raise TuskError(f"llamacpp backend: option {name}={value!r} is not a number")
        return number
    if kind == "str" and not isinstance(value, str):
        raise TuskError(f"llamacpp backend: option {name}={value!r} is not text")
    if kind.startswith("List[") and isinstance(value, str):  # tensor_split=0.5,0.5
        try:
            return [float(part) for part in value.split(",")]
        except ValueError:
            raise TuskError(f"llamacpp backend: option {name}={value!r} is not a comma-separated list of "
                            "numbers") from None
    if kind.startswith("Dict[") and not isinstance(value, dict):  # kv_overrides='{"key": 1}'
        import json

        try:
            value = json.loads(value) if isinstance(value, str) else None
        except ValueError:
            value = None
        if not isinstance(value, dict):
            raise TuskError(f"llamacpp backend: option {name} takes a JSON object, such as "
                            f"{name}='{{\"key\": 1}}'")
        return value
    if kind not in ("str", "Any", "_empty") and isinstance(value, str) and not kind.startswith(("Union[", "Literal[")):
        raise TuskError(f"llamacpp backend: option {name} takes a {kind} object, which cannot be given as text")
    return value


def check_gguf(path: Path) -> None:
    """Raise TuskError unless ``path`` starts with the GGUF magic bytes."""
    try:
        with path.open("rb") as handle:
            magic = handle.read(4)
    except OSError as exc:
        raise TuskError(f"cannot read model file {path}: {exc}") from exc
    if magic != b"GGUF":
        raise TuskError(f"{path} is not a GGUF file (llama.cpp models are .gguf files)")
