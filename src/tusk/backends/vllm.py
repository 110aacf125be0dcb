"""The ``vllm`` backend: vLLM's offline engine (``vllm.LLM``) for GPU users, with tensor parallelism.

Kept thin on purpose: the mapping from tusk's :class:`~tusk.types.SamplingParams` to vLLM's and from vLLM's
outputs back to :class:`~tusk.types.Generation` are pure functions (:func:`vllm_sampling_kwargs`,
:func:`generation_from_output`) that are tested without vLLM installed.  The engine schedules all requests of
a chunk itself (continuous batching, paged KV cache); chunks of ``chunk_size`` requests let finished results
reach the caller while the rest is still running.  Greedy requests with ``n > 1`` are decoded once and
repeated; stop strings are applied again to the returned text, as in every tusk backend.

Options: ``tensor_parallel_size`` (GPUs per model), ``dtype``, ``gpu_memory_utilization``, ``max_model_len``,
``chunk_size``, ``seed``, ``enforce_eager`` (any other option is an error, raised before vLLM is imported;
``threads`` is ignored); ``max_model_len``, when given, is part of ``describe()`` (it bounds
completions, so the generation cache must not mix windows).  Not covered: LoRA adapters at request time, pipeline parallelism.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from typing import Any

from tusk.backends.base import Backend
from tusk.backends.stopping import cut_at_stop
from tusk.errors import MissingExtraError, TuskError
from tusk.types import Generation, Request, SamplingParams

log = logging.getLogger(__name__)

#: the engine's options of this backend
OPTIONS = ("tensor_parallel_size", "dtype", "gpu_memory_utilization", "max_model_len", "chunk_size", "seed",
           "enforce_eager")
#: options that split or schedule the work, not what is generated: a run resumes and shards merge whatever
#: their values
NEUTRAL_OPTIONS = frozenset({"tensor_parallel_size", "gpu_memory_utilization", "chunk_size", "enforce_eager",
                             "threads", "n_threads"})


def vllm_sampling_kwargs(sampling: SamplingParams) -> dict[str, Any]:
    """Keyword arguments for ``vllm.SamplingParams`` equivalent to ``sampling``."""
    kwargs: dict[str, Any] = {
        "max_tokens": sampling.max_tokens,
        "stop": [s for s in sampling.stop if s],
        "seed": sampling.seed,
    }
    if sampling.greedy:
        kwargs.update(n=1, temperature=0.0, top_p=1.0)
    else:
        kwargs.update(n=max(1, sampling.n), temperature=sampling.temperature, top_p=sampling.top_p)
    return kwargs


def generation_from_output(request: Request, output: Any, seconds: float = 0.0) -> Generation:
    """Turn one ``vllm.RequestOutput`` (``prompt_token_ids``, ``outputs[i].text/token_ids/finish_reason``)
    into a Generation for ``request``."""
    texts: list[str] = []
    reasons: list[str] = []
    completion_tokens = 0
    for completion in sorted(output.outputs, key=lambda c: getattr(c, "index", 0)):
        text, stopped = cut_at_stop(completion.text, request.sampling.stop)
        texts.append(text)
        reasons.append("length" if completion.finish_reason == "length" and not stopped else "stop")
        completion_tokens += len(completion.token_ids)
    n = max(1, request.sampling.n)
    if request.sampling.greedy and n > 1:
        texts, reasons, completion_tokens = texts * n, reasons * n, completion_tokens * n
    return Generation(
        request_id=request.id,
        texts=tuple(texts),
        prompt_tokens=len(output.prompt_token_ids or ()),
        completion_tokens=completion_tokens,
        seconds=seconds,
        finish_reasons=tuple(reasons),
    )


def _local_weights(model: str) -> dict[str, Any] | None:
    """The identity of a local model folder or GGUF file (see :func:`tusk.backends.hf_load.fingerprint`); None
    for a hub id."""
    from pathlib import Path

    from tusk.backends.hf_load import ModelSource, fingerprint

    path = Path(model).expanduser()
    if path.is_dir():
        return fingerprint(ModelSource("dir", str(path.resolve())))
    if path.is_file():
        return fingerprint(ModelSource("gguf", str(path.resolve().parent), path.name))
    return None


class VLLMBackend(Backend):
    kind = "vllm"

    def __init__(
        self,
        model: str,
        *,
        tensor_parallel_size: int = 1,
        dtype: str = "auto",
        gpu_memory_utilization: float = 0.9,
        max_model_len: int | None = None,
        chunk_size: int = 1024,
        seed: int = 0,
        enforce_eager: bool = False,
        **unused: Any,
    ):
        super().__init__(model)
        unused = {k: v for k, v in unused.items() if k not in ("threads", "n_threads")}  # CPU threads: not vLLM's
        if unused:  # before vLLM is imported: a typo must not run the model on other settings
            raise TuskError(f"vllm backend: unknown option {', '.join(sorted(unused))}; its options are "
                            f"{', '.join(OPTIONS)}")
        try:
            import vllm
        except ImportError as exc:
            raise MissingExtraError("the vllm backend", "vllm", exc) from exc
        self._vllm = vllm
        self.tensor_parallel_size = tensor_parallel_size
        self.dtype = dtype
        self.chunk_size = max(1, chunk_size)
        self.max_model_len = max_model_len
        engine_args: dict[str, Any] = {
            "model": model,
            "tensor_parallel_size": tensor_parallel_size,
            "dtype": dtype,
            "gpu_memory_utilization": gpu_memory_utilization,
            "seed": seed,
            "enforce_eager": enforce_eager,
        }
        if max_model_len:
            engine_args["max_model_len"] = max_model_len
        self.llm = vllm.LLM(**engine_args)
        self._weights = _local_weights(model)
        self._tokenizer = self.llm.get_tokenizer()
        if getattr(self._tokenizer, "chat_template", None):
            self.preferred_prompt = "chat"

    def chat_prompt(self, messages: Sequence[dict[str, str]]) -> str | None:
        if not getattr(self._tokenizer, "chat_template", None):
            return None
        return self._tokenizer.apply_chat_template(list(messages), tokenize=False, add_generation_prompt=True)

    def preferred_chunk(self) -> int:
        """vLLM schedules its own batches; hand it many requests at once."""
        return 1024

    def describe(self) -> dict[str, Any]:
        described = {
            "backend": self.kind,
            "model": self.model,
            "dtype": self.dtype,
            "tensor_parallel_size": self.tensor_parallel_size,
            "vllm": getattr(self._vllm, "__version__", "unknown"),
        }
        if self.max_model_len:  # the context window cuts completions short: another one is another result
            described["max_model_len"] = self.max_model_len
        if self._weights is not None:  # a local folder: known by its files' contents, not its path
            described["weights"] = self._weights
        return described

    def generate(self, requests: Sequence[Request]) -> Iterator[Generation]:
        for start in range(0, len(requests), self.chunk_size):
            chunk = list(requests[start : start + self.chunk_size])
            params = [self._vllm.SamplingParams(**vllm_sampling_kwargs(r.sampling)) for r in chunk]
            began = time.perf_counter()
            outputs = self.llm.generate([r.prompt for r in chunk], params, use_tqdm=False)
            share = (time.perf_counter() - began) / max(1, len(chunk))
            for request, output in zip(chunk, outputs):
                yield generation_from_output(request, output, share)

    def close(self) -> None:
        self.llm = None
