"""The ``hf`` backend: transformers ``generate`` on the CPU or a GPU, batched for throughput.

What it guarantees:

- one :class:`~tusk.types.Generation` per request, yielded as soon as the batch holding it finishes;
- requests are sorted by prompt length and cut into batches, so a batch pads its prompts (on the left)
  only to lengths close to its own; greedy requests with ``n > 1`` are decoded once and repeated;
- each row stops on its own: at an end-of-sequence token, at one of its request's stop strings (checked on
  the newly decoded tail every step; the text is cut before the stop string afterwards), or at its own
  ``max_tokens``; the batch ends when all its rows have stopped;
- greedy decoding is deterministic for a given model, dtype and device; sampling draws each row from its own
  noise, keyed by the request's seed, prompt and sample number (:mod:`tusk.backends.hf_sampling`), so a
  sample does not depend on batch size, request order or which other requests run (a resumed run draws
  the same samples), and the n samples of a request differ;
- bf16 on a GPU, fp32 on the CPU unless ``dtype`` says otherwise; the batch size is given (``batch_size``)
  or, on a GPU, chosen from free memory (halved and retried on out-of-memory).

Decoding options (transformers' own mechanisms; YAML values or ``--backend-option cache=static
--backend-option compile=true``; a bad value raises a TuskError naming the option):

- ``cache="dynamic"`` (default) or ``"static"``: GenerationConfig ``cache_implementation="static"``, a KV
  cache preallocated per batch for its prompt width plus its largest ``max_tokens``; left padding is masked
  as with the dynamic cache.  transformers' automatic compilation of static caches is turned off.
- ``compile=False`` (default) or ``True``: ``torch.compile`` of the decoding step through transformers'
  ``compile_config`` (inductor, "reduce-overhead": CUDA graphs on a GPU).  Needs ``cache="static"`` (a
  TuskError otherwise).  tusk enables it on the CPU too, where inductor needs a C++ compiler: without one,
  or when compilation fails, a TuskError says so (no silent fallback).  Each new batch shape compiles once
  (about a minute for SmolLM2 on the CPU); the static cache then keeps the largest length seen, to avoid
  recompiling.
- ``describe()`` names them only when they differ from the defaults, so earlier default runs keep their
  identity (and generation-cache keys); a static or compiled run gets keys of its own.
- Measured (docs/BENCHMARKS.md, "Generation"; 2-core CPU, SmolLM2-135M fp32, greedy, 1 thread): static
  cache 0.93-1.05x the dynamic cache's tokens/s, compiled static 0.75-0.87x once compiled, plus about a
  minute of compilation; identical completions.  So on a CPU keep the defaults.  Both are meant for GPUs,
  where they cut per-step overhead; not yet measured on a GPU here: measure
  (``benchmarks/generation.py --gpu-random-1b``) before switching them on.

- ``batching="padded"`` (default) or ``"continuous"``: padded batches run through ``generate`` until their
  longest row stops; continuous batching (:mod:`tusk.backends.hf_continuous`, tusk's own decoding loop over
  a dynamic cache) drops each row when it stops and lets waiting rows join, so short answers do not wait for
  long ones.  Same generations (tested against one row at a time); full-attention models only (a model with
  sliding-window layers is refused); not with ``cache=static`` or ``compile=true``.  Like ``batch_size``, a
  scheduling choice: not part of the run's identity.

What it does not do: multi-GPU sharding (use the ``vllm`` backend or Ray replicas).
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

from tusk.backends.base import Backend, bool_option
from tusk.backends.hf_load import fingerprint, load_model_and_tokenizer, resolve_source
from tusk.backends.hf_sampling import RowSampler, row_key
from tusk.backends.stopping import RowStopper, cut_at_stop
from tusk.errors import MissingExtraError, TuskError
from tusk.types import Generation, Request, SamplingParams

log = logging.getLogger(__name__)

CPU_BATCH_SIZE = 16
MAX_BATCH_SIZE = 256
CACHES = ("dynamic", "static")
BATCHINGS = ("padded", "continuous")
#: scheduling options: a run resumes and shards merge whatever their values (the device type is described)
NEUTRAL_OPTIONS = frozenset({"threads", "batch_size", "batching", "device"})


@dataclass(frozen=True)
class _Row:
    """One sequence to decode: request ``index`` in the caller's list, sample ``sample`` of its n."""

    index: int
    sample: int
    ids: tuple[int, ...]
    sampling: SamplingParams
    key: int = 0  # the row's sampling key (hf_sampling.row_key); unused when greedy


class HFBackend(Backend):
    kind = "hf"

    def __init__(
        self,
        model: str,
        *,
        device: str = "auto",
        dtype: str = "auto",
        batch_size: int | None = None,
        base_model: str | None = None,
        ignore_eos: bool = False,
        threads: int | None = None,
        cache: str = "dynamic",
        compile: bool | str = False,
        batching: str = "padded",
        **unused: Any,
    ):
        super().__init__(model)
        self.cache = _choice_option("cache", cache, CACHES)
        self.compile = bool_option("hf", "compile", compile)
        if self.compile and self.cache != "static":
            raise TuskError(
                "hf backend: compile=true needs cache=static (transformers compiles decoding only with a "
                "static cache)"
            )
        self.batching = _choice_option("batching", batching, BATCHINGS)
        if self.batching == "continuous" and (self.cache != "dynamic" or self.compile):
            raise TuskError("hf backend: batching=continuous runs its own loop over a dynamic cache; it does not "
                            "combine with cache=static or compile=true")
        if unused:
            known = "device, dtype, batch_size, base_model, ignore_eos, threads, cache, compile, batching"
            raise TuskError(f"hf backend: unknown option {', '.join(sorted(unused))}; its options are {known}")
        try:
            import torch
        except ImportError as exc:
            raise MissingExtraError("the hf backend", "hf", exc) from exc
        batch_size = _positive_int("batch_size", batch_size)
        threads = _positive_int("threads", threads)
        if threads:  # CPU threads for torch (process-wide); on a shared, busy CPU fewer can be faster
            torch.set_num_threads(threads)
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        device = str(device)
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise TuskError(f"hf backend: device={device} but torch sees no CUDA device")
        if device.startswith("mps") and not torch.backends.mps.is_available():
            raise TuskError(f"hf backend: device={device} but torch sees no Apple GPU (MPS)")
        if device.split(":")[0] not in ("cpu", "cuda", "mps"):
            raise TuskError(f"hf backend: device={device!r} is not one of auto, cpu, cuda, cuda:N, mps")
        self.device = device
        self.dtype = _torch_dtype(dtype, device)
        if self.compile and not device.startswith("cuda"):
            _require_cpp_compiler()
        self.source = resolve_source(model, base_model)
        started = time.perf_counter()
        self.lm, self.tokenizer = load_model_and_tokenizer(self.source, self.dtype, device)
        log.info("loaded %s on %s (%s) in %.1f s", model, device, self.dtype, time.perf_counter() - started)
        self.context_length = _context_length(self.lm)
        #: completions the model's context ended before their max_tokens (warned about, with the count, at close)
        self.context_cut = 0
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.batch_size = batch_size
        self.ignore_eos = bool_option("hf", "ignore_eos", ignore_eos)
        # ignore_eos (for benchmarks): every row runs to its max_tokens unless a stop string ends it
        self.eos_ids = set() if self.ignore_eos else _eos_ids(self.lm, self.tokenizer)
        # Decoding follows the request's SamplingParams alone: drop the checkpoint's sampling defaults
        # (temperature, top_k, repetition penalty...) that transformers would otherwise fill in.
        from transformers import GenerationConfig

        self.lm.generation_config = GenerationConfig(
            bos_token_id=self.tokenizer.bos_token_id,
            eos_token_id=sorted(self.eos_ids) or None,
            pad_token_id=self.tokenizer.pad_token_id,
        )
        if getattr(self.tokenizer, "chat_template", None):
            self.preferred_prompt = "chat"
        self._decoding = self._decoding_settings()

    def _decoding_settings(self) -> dict[str, Any]:
        """GenerationConfig fields for the cache and compile options."""
        if self.cache == "dynamic":
            return {}
        if not self.compile:
            return {"cache_implementation": "static", "disable_compile": True}
        from transformers import CompileConfig

        compile_config = CompileConfig()
        if not self.device.startswith("cuda"):
            compile_config._compile_all_devices = True  # transformers' switch for compiling off accelerators
        return {"cache_implementation": "static", "compile_config": compile_config}

    # -- Backend interface ---------------------------------------------------------------------------------

    def chat_prompt(self, messages: Sequence[dict[str, str]]) -> str | None:
        if not getattr(self.tokenizer, "chat_template", None):
            return None
        return self.tokenizer.apply_chat_template(list(messages), tokenize=False, add_generation_prompt=True)

    def preferred_chunk(self) -> int:
        """Two batches' worth of rows (on a GPU with no batch size given: two of the largest automatic batches),
        so prompts can be sorted by length across them."""
        batch = self.batch_size or (MAX_BATCH_SIZE if self.device.startswith("cuda") else CPU_BATCH_SIZE)
        if self.batching == "continuous":  # waiting rows keep the slots full: a deeper queue helps
            return 4 * batch
        return 2 * batch

    def describe(self) -> dict[str, Any]:
        import torch
        import transformers

        return {
            "backend": self.kind,
            "model": self.model,
            "source": self.source.kind,
            "weights": fingerprint(self.source),
            "dtype": str(self.dtype).removeprefix("torch."),
            "device": self.device.split(":")[0],
            "transformers": transformers.__version__,
            "torch": torch.__version__,
            # only when not the defaults: identities of runs made before these options existed stay equal
            **({"cache": self.cache} if self.cache != "dynamic" else {}),
            **({"compile": True} if self.compile else {}),
            **({"ignore_eos": True} if self.ignore_eos else {}),
        }

    def _window_ended(self, request_id: str) -> None:
        self.context_cut += 1
        if self.context_cut == 1:
            log.warning("request %s: the model's context (%s positions) ended its completion before --max-tokens "
                        "(a count follows at the end)", request_id, self.context_length)

    def close(self) -> None:
        if getattr(self, "lm", None) is not None and getattr(self, "context_cut", 0):
            log.warning("%d completions were ended by the model's context (%s positions), not by --max-tokens; "
                        "they count as cut off", self.context_cut, self.context_length)
        self.lm = None

    def generate(self, requests: Sequence[Request]) -> Iterator[Generation]:
        if self.lm is None:
            raise TuskError("hf backend is closed")
        rows = self._rows(requests)
        wanted = [1 if r.sampling.greedy else max(1, r.sampling.n) for r in requests]
        texts: dict[int, dict[int, tuple[str, str, int]]] = defaultdict(dict)
        prompt_tokens = {row.index: len(row.ids) for row in rows}
        seconds: dict[int, float] = defaultdict(float)
        decoded = self._run_continuous(rows) if self.batching == "continuous" else self._run_padded(rows)
        for row, result, elapsed in decoded:
            index = row.index
            if result[1] == "length" and row.sampling.max_tokens < requests[index].sampling.max_tokens:
                self._window_ended(requests[index].id)
            texts[index][row.sample] = result
            seconds[index] += elapsed
            if len(texts[index]) == wanted[index]:
                yield _generation(requests[index], texts.pop(index), prompt_tokens[index], seconds[index])

    def _run_padded(self, rows: list[_Row]) -> Iterator[tuple[_Row, tuple[str, str, int], float]]:
        """Padded batches through transformers' generate: each row with its share of its batch's time."""
        for batch, results, elapsed in self._run_batches(rows):
            for row, result in zip(batch, results):
                yield row, result, elapsed / len(batch)

    def _run_continuous(self, rows: list[_Row]) -> Iterator[tuple[_Row, tuple[str, str, int], float]]:
        """Continuous batching (:mod:`tusk.backends.hf_continuous`), one decoding setting at a time; on
        out-of-memory the rows not yet finished are decoded again with half the slots (they draw the same)."""
        from tusk.backends.hf_continuous import ContinuousDecoder, OutOfMemory

        decoder = ContinuousDecoder(self.lm, self.tokenizer, self.device, self.eos_ids, self.tokenizer.pad_token_id)
        start = 0
        while start < len(rows):
            key = _decode_key(rows[start].sampling)
            end = start
            while end < len(rows) and _decode_key(rows[end].sampling) == key:
                end += 1
            pending = rows[start:end]
            slots = self.batch_size or self._auto_batch_size(pending[0])
            while pending:
                finished: set[tuple[int, int]] = set()
                out_of_memory = False
                try:
                    for row, result, elapsed in decoder.run(pending, slots):
                        finished.add((row.index, row.sample))
                        yield row, result, elapsed
                    pending = []
                except OutOfMemory:
                    if slots == 1:
                        raise TuskError("hf backend: out of memory with a batch of one row") from None
                    out_of_memory = True
                if out_of_memory:  # freed after the except block: its traceback held the failed try's cache
                    self._release_memory()
                    slots = (slots + 1) // 2
                    pending = [row for row in pending if (row.index, row.sample) not in finished]
                    log.warning("out of memory; continuing %d rows with %d slots", len(pending), slots)
            start = end

    def _release_memory(self) -> None:
        if self.device.startswith("cuda"):
            import torch

            torch.cuda.empty_cache()

    # -- batching --------------------------------------------------------------------------------------------

    def _rows(self, requests: Sequence[Request]) -> list[_Row]:
        """Tokenise every prompt; one row per sample to draw, sorted longest prompt first."""
        prompts = [r.prompt for r in requests]
        bos = self.tokenizer.bos_token
        with_bos = [p for p in prompts if not (bos and p.startswith(bos))]
        encoded: dict[str, list[int]] = {}
        if with_bos:
            for p, ids in zip(with_bos, self.tokenizer(with_bos, add_special_tokens=True)["input_ids"]):
                encoded[p] = ids
        rest = [p for p in prompts if p not in encoded]
        if rest:
            for p, ids in zip(rest, self.tokenizer(rest, add_special_tokens=False)["input_ids"]):
                encoded[p] = ids
        rows = []
        limit = self.context_length
        for index, request in enumerate(requests):
            samples = 1 if request.sampling.greedy else max(1, request.sampling.n)
            ids = tuple(encoded[request.prompt])
            if not ids:
                raise TuskError(f"request {request.id}: the prompt is empty (no tokens to start from)")
            sampling = request.sampling
            if limit and len(ids) >= limit:
                raise TuskError(f"request {request.id}: its {len(ids)} prompt tokens fill the model's context of "
                                f"{limit} positions")
            if limit and len(ids) + sampling.max_tokens > limit:  # generate what fits; it ends as "length"
                sampling = replace(sampling, max_tokens=limit - len(ids))
            rows.extend(
                _Row(index, s, ids, sampling,
                     0 if sampling.greedy else row_key(sampling.seed, request.prompt, s))
                for s in range(samples)
            )
        # group requests that decode alike, then longest first: similar lengths share a batch
        rows.sort(key=lambda r: (_decode_key(r.sampling), -len(r.ids), r.index, r.sample))
        return rows

    def _run_batches(
        self, rows: list[_Row]
    ) -> Iterator[tuple[list[_Row], list[tuple[str, str, int]], float]]:
        start = 0
        limit = self.batch_size
        while start < len(rows):
            key = _decode_key(rows[start].sampling)
            size = limit or self._auto_batch_size(rows[start])
            end = start
            while end < len(rows) and end - start < size and _decode_key(rows[end].sampling) == key:
                end += 1
            batch = rows[start:end]
            began = time.perf_counter()
            results = None
            try:
                results = self._decode(batch)
            except _OutOfMemory:
                if len(batch) == 1:
                    raise TuskError("hf backend: out of memory with a batch of one row") from None
            if results is None:  # out of memory; freed here: the failed try's traceback no longer holds its tensors
                self._release_memory()
                limit = (len(batch) + 1) // 2
                log.warning("out of memory with %d rows; retrying with %d", len(batch), limit)
                continue
            yield batch, results, time.perf_counter() - began
            start = end

    def _auto_batch_size(self, first: _Row) -> int:
        """Rows that fit the free memory of the GPU for the longest prompt of the batch; fixed on CPU."""
        if not self.device.startswith("cuda"):
            return CPU_BATCH_SIZE
        import torch

        device = torch.device(self.device)
        free, _ = torch.cuda.mem_get_info(device)
        # memory torch's allocator holds but does not use (the last batch's cache) is free for the next one
        free += torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device)
        cfg = self.lm.config
        cfg = getattr(cfg, "text_config", cfg)
        heads = getattr(cfg, "num_key_value_heads", None) or cfg.num_attention_heads
        head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
        elem = torch.finfo(self.dtype).bits // 8
        tokens = len(first.ids) + first.sampling.max_tokens
        kv = 2 * cfg.num_hidden_layers * heads * head_dim * elem * tokens
        # activations of the prompt pass (MLP is the widest) and the final logits in fp32
        act = len(first.ids) * (cfg.hidden_size * 4 + getattr(cfg, "intermediate_size", 0) * 3) * elem
        act += cfg.vocab_size * 4 * 2
        if not first.sampling.greedy:  # the sampler's per-row noise: a few int64 temporaries per vocabulary entry
            act += cfg.vocab_size * 8 * 4
        rows = int(free * 0.7 // (kv + act))
        return max(1, min(MAX_BATCH_SIZE, rows))

    # -- one batch -------------------------------------------------------------------------------------------

    def _decode(self, batch: list[_Row]) -> list[tuple[str, str, int]]:
        """Decode one batch; return (text, finish reason, generated token count) per row."""
        import torch
        from transformers import GenerationConfig, LogitsProcessorList, StoppingCriteriaList

        pad = self.tokenizer.pad_token_id
        width = max(len(r.ids) for r in batch)
        ids = torch.full((len(batch), width), pad, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for i, row in enumerate(batch):
            ids[i, width - len(row.ids) :] = torch.tensor(row.ids, dtype=torch.long)
            mask[i, width - len(row.ids) :] = 1
        sampling = batch[0].sampling
        max_new = max(r.sampling.max_tokens for r in batch)
        stopper = RowStopper(self.tokenizer, width, [row.sampling for row in batch], self.eos_ids)
        processors = LogitsProcessorList()
        if not sampling.greedy:  # sampled in the scores, per row; generate's arg max then takes the sample
            processors.append(RowSampler([row.key for row in batch], sampling.temperature, sampling.top_p, width,
                                         self.device))
        config = GenerationConfig(
            max_new_tokens=max_new,
            do_sample=False,
            num_beams=1,
            pad_token_id=pad,
            eos_token_id=sorted(self.eos_ids) or None,
            **self._decoding,
        )
        if self.cache == "static" and not self.compile:
            # uncompiled, a static cache sized for this batch only (transformers keeps the largest size seen
            # so that compiled steps need not recompile; without compilation that only adds masked slots)
            model = self.lm.get_base_model() if hasattr(self.lm, "get_base_model") else self.lm  # PEFT
            model.__dict__.pop("_previous_max_cache_length", None)
        try:
            with torch.inference_mode():
                out = self.lm.generate(
                    input_ids=ids.to(self.device),
                    attention_mask=mask.to(self.device),
                    generation_config=config,
                    stopping_criteria=StoppingCriteriaList([stopper]),
                    logits_processor=processors,
                )
        except RuntimeError as exc:  # torch.cuda.OutOfMemoryError is a RuntimeError
            if "out of memory" in str(exc).lower():
                raise _OutOfMemory from exc  # the caller frees the cache once this traceback is gone
            if self.compile and type(exc).__module__.startswith("torch._dynamo"):
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                raise TuskError(f"hf backend: compile=true failed ({first}); use compile=false") from exc
            raise
        generated = out[:, width:].tolist()
        results = []
        for i, row in enumerate(batch):
            length = stopper.lengths[i] if stopper.lengths[i] is not None else len(generated[i])
            text = self.tokenizer.decode(generated[i][:length], skip_special_tokens=True)
            text, stopped = cut_at_stop(text, row.sampling.stop)
            ended = stopped or stopper.reasons[i] == "stop"
            results.append((text, "stop" if ended else "length", length))
        return results


class _OutOfMemory(Exception):
    pass


def _decode_key(sampling: SamplingParams) -> tuple[Any, ...]:
    """Rows with equal keys can share a ``generate`` call (max tokens and stops are per row)."""
    if sampling.greedy:
        return (0, 0.0, 1.0, 0)
    return (1, sampling.temperature, sampling.top_p, 0)  # the seed is in each row's key


def _generation(
    request: Request, samples: dict[int, tuple[str, str, int]], prompt_tokens: int, seconds: float
):
    ordered = [samples[i] for i in sorted(samples)]
    n = max(1, request.sampling.n)
    if request.sampling.greedy and n > 1:
        ordered = ordered * n
    return Generation(
        request_id=request.id,
        texts=tuple(text for text, _, _ in ordered),
        prompt_tokens=prompt_tokens,
        completion_tokens=sum(count for _, _, count in ordered),
        seconds=seconds,
        finish_reasons=tuple(reason for _, reason, _ in ordered),
    )


def _torch_dtype(name: str, device: str) -> Any:
    import torch

    if name == "auto":
        return torch.bfloat16 if device.startswith("cuda") else torch.float32
    try:
        dtype = getattr(torch, name)
    except AttributeError:
        dtype = None
    if not isinstance(dtype, torch.dtype):
        raise TuskError(f"hf backend: unknown dtype {name!r} (use auto, float32, bfloat16 or float16)")
    return dtype


def _choice_option(option: str, value: Any, choices: Sequence[str]) -> str:
    name = str(value).strip().lower() if isinstance(value, str) else value
    if name not in choices:
        raise TuskError(f"hf backend: option {option}={value!r} is not one of {', '.join(choices)}")
    return name


def _require_cpp_compiler() -> None:
    """compile=true on the CPU: inductor builds C++; fail now, clearly, if it cannot find a compiler."""
    try:
        from torch._inductor.cpp_builder import get_cpp_compiler

        get_cpp_compiler()
    except Exception as exc:  # the lookup raises its own error types
        raise TuskError(
            f"hf backend: compile=true on the CPU needs a C++ compiler for torch inductor ({exc}); "
            "install g++ or use compile=false"
        ) from exc


def _eos_ids(model: Any, tokenizer: Any) -> set[int]:
    ids: set[int] = set()
    configured = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    for value in (configured, tokenizer.eos_token_id):
        if isinstance(value, int):
            ids.add(value)
        elif isinstance(value, (list, tuple)):
            ids.update(int(v) for v in value)
    return ids


def _positive_int(name: str, value: Any) -> int | None:
    """An option that is unset (None) or a positive integer; anything else is a one-line error."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise TuskError(f"hf backend: option {name} must be a positive integer, got {value!r}")
    return value


def _context_length(model: Any) -> int | None:
    """The most positions the model can attend to, when its config says (None: unknown)."""
    config = getattr(model, "config", None)
    for name in ("max_position_embeddings", "n_positions"):
        value = getattr(config, name, None)
        if isinstance(value, int) and value > 0:
            return value
    return None
