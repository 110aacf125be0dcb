"""Evaluation: benchmark -> prompts -> backend -> decoding -> grades, streamed into a run directory.

:func:`evaluate` is what ``tusk eval`` runs.  Problems are processed in chunks: each chunk's requests go to the
backend together (so batching backends can batch), each problem is decoded and graded as soon as its last
generation arrives, and its record is appended to ``samples.jsonl`` before the next one.  In hybrid mode a
chunk's PoT failures are asked again in CoT within the same chunk; their PoT generations are kept in the run
directory meanwhile (``pending.jsonl``), so an interrupt does not lose them.  Rerunning with the same ``out``
skips every stored problem; an interrupt leaves a valid directory with a partial summary.  A summary is
complete when every selected problem of every benchmark the run directory holds (each under the widest
``--limit`` it was run with, and the run's shard) is stored; its times add up every session of the run.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field, replace
from itertools import chain
from pathlib import Path
from typing import Any, TypeVar

from tusk import __version__
from tusk.backends.base import REDACTED, Backend, is_secret_option, redacted_options
from tusk.backends.identity import model_identity, upgraded_identity
from tusk.decoding import (
    AnswerGrader,
    Executor,
    as_fallback,
    decode_cot,
    decode_pot,
    needs_fallback,
    vote,
)
from tusk.errors import TuskError
from tusk.progress import ProgressBar
from tusk.prompts import PROMPT_STYLES, build_prompt, stop_strings
from tusk.store import RunStore, check_resumable, config_limits, recorded_problem_sets, with_limits
from tusk.types import Generation, Mode, Prediction, Problem, Request, SampleRecord, SamplingParams

log = logging.getLogger(__name__)

MODES = ("cot", "pot", "hybrid")
_T = TypeVar("_T")
#: config keys whose change would change the results: a run directory refuses to mix them
IDENTITY_KEYS = ("model", "mode", "prompt", "max_tokens", "temperature", "top_p", "samples", "seed", "grader",
                 "grader_version", "timeout", "result_options", "model_identity")
#: characters of a program's stdout (head) and stderr (tail) kept in its sample record
OUTPUT_KEPT = 2000
#: backend options that do not change what a model generates, besides each backend's NEUTRAL_OPTIONS (description
#: keys that do not: tusk.backends.identity)
_NEUTRAL_OPTIONS = frozenset({"threads", "n_threads", "batch_size", "batching", "device"})  # dtype is in the identity


#: identity keys every run has saved: a run directory without them cannot be trusted to match
REQUIRED_KEYS = ("grader", "grader_version", "shard")


def comparable_setting(key: str, value: Any) -> Any:
    """A saved setting as a resume compares it: backend options that have since become neutral are dropped, and
    so are secrets (an API key saved by an older version: a rotated key resumes)."""
    if key == "result_options" and isinstance(value, dict):
        return _result_options(value)
    if key == "model" and isinstance(value, str):  # the weights are model_identity's: not the path or URL text
        from tusk.backends import comparable_spec

        return comparable_spec(value)
    if key == "model_identity":  # an older run's paths and mtimes, in today's content-based form
        return model_identity(upgraded_identity(value))
    return value


def _hint_earlier_sampling(out: Path, identity: Any) -> None:
    """A run made before the openai backend neutralised server sampling defaults differs only in that: say how
    to resume it (the generic refusal would only show the two identities)."""
    from tusk.store import resumed_config

    earlier = resumed_config(out)
    if earlier is None:
        return
    saved = comparable_setting("model_identity", earlier.get("model_identity"))
    if (isinstance(saved, dict) and isinstance(identity, dict) and "neutral_sampling" not in saved
            and identity.get("neutral_sampling") and {**saved, "neutral_sampling": True} == identity):
        raise TuskError(f"{out} was made with the server's own sampling defaults (before tusk neutralised "
                        "them); add --backend-option neutral_sampling=false to resume it, or use another --out")


def _result_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """The backend options that may change what a model generates: not the neutral ones, never a secret."""
    from tusk.backends import neutral_options

    neutral = _NEUTRAL_OPTIONS | neutral_options()  # each backend declares its own beside its options
    return {k: v for k, v in options.items() if k not in neutral and not is_secret_option(k)}


@dataclass(frozen=True)
class EvalConfig:
    """Everything that defines an evaluation run (saved as the run's ``config.json``)."""

    model: str = ""
    """Model spec (see tusk.backends); empty means the embedded default model."""
    benchmarks: tuple[str, ...] = ("smoke",)
    """Benchmark names (``tusk ls benchmarks``); ``paper`` stands for the paper's nine; repeats count once."""
    mode: str = "cot"
    """cot, pot, or hybrid (PoT first, one CoT fallback)."""
    out: str = "runs/latest"
    """Run directory; rerunning with the same directory resumes."""
    limit: int | None = None
    """Evaluate only the first N problems of each benchmark."""
    shard: tuple[int, int] | None = None
    """(i, n): evaluate only problems whose position p satisfies p % n == i (merge shards with tusk merge)."""
    data_dir: str | None = None
    """Folder laid out like the benchmark data store (else TUSK_DATA_DIR, the cache, a download)."""
    prompt: str = "auto"
    """alpaca (the paper's template), chat (the model's chat template), or auto (what suits the model)."""
    max_tokens: int = 1024
    """Maximum new tokens per generation."""
    temperature: float = 0.0
    """0 is greedy; self-consistency uses e.g. 0.7."""
    top_p: float = 1.0
    samples: int = 1
    """Samples per problem; more than one enables majority voting (self-consistency)."""
    seed: int = 0
    grader: str = "strict"
    """strict (default) or mammoth (the paper's original rules)."""
    timeout: float = 5.0
    """Wall-clock seconds per program in the sandbox."""
    workers: int | None = None
    """Sandbox worker processes (default: number of cores)."""
    chunk_size: int | None = None
    """Problems sent to the backend at once (default: the backend's ``preferred_chunk()``, enough to fill its
    batches); results are stored one by one whatever the size."""
    backend_options: dict[str, Any] = field(default_factory=dict)

    def resolved(self) -> EvalConfig:
        from tusk.models import DEFAULT_MODEL

        if self.mode not in MODES:
            raise TuskError(f"unknown mode {self.mode!r}; choose one of {', '.join(MODES)}")
        if self.prompt not in ("auto", *PROMPT_STYLES):
            raise TuskError(f"unknown prompt style {self.prompt!r}; choose auto, alpaca or chat")
        if self.samples < 1:
            raise TuskError("--samples must be at least 1")
        if self.samples > 1 and self.temperature <= 0:
            raise TuskError("--samples above 1 needs --temperature above 0 (greedy samples are identical)")
        benchmarks = benchmark_names(self.benchmarks)
        if not benchmarks:
            raise TuskError("--benchmarks is empty")
        if self.shard and not 0 <= self.shard[0] < self.shard[1]:
            raise TuskError(f"--shard {self.shard[0]}/{self.shard[1]}: need 0 <= i < n")
        checks = [
            (self.limit is None or self.limit >= 1, f"--limit must be at least 1, got {self.limit}"),
            (self.max_tokens >= 1, f"--max-tokens must be at least 1, got {self.max_tokens}"),
            (self.temperature >= 0, f"--temperature must be 0 (greedy) or more, got {self.temperature}"),
            (0 < self.top_p <= 1, f"--top-p must be in (0, 1], got {self.top_p}"),
            (self.timeout > 0, f"--timeout must be above 0 seconds, got {self.timeout}"),
            (self.workers is None or self.workers >= 1, f"--workers must be at least 1, got {self.workers}"),
            (self.chunk_size is None or self.chunk_size >= 1,
             f"--chunk-size must be at least 1, got {self.chunk_size}"),
        ]
        for ok, message in checks:
            if not ok:
                raise TuskError(message)
        return replace(self, model=self.model or DEFAULT_MODEL, benchmarks=benchmarks)


def benchmark_names(names: Sequence[str]) -> tuple[str, ...]:
    """Benchmark names in order, ``paper`` expanded to the paper's nine wherever it is, each name once."""
    from tusk.benchmarks import PAPER_BENCHMARKS

    expanded: dict[str, None] = {}
    for name in names:
        for one in PAPER_BENCHMARKS if name == "paper" else (name,):
            expanded[one] = None
    return tuple(expanded)


def evaluate(
    config: EvalConfig,
    backend: Backend | None = None,
    grader: AnswerGrader | None = None,
    executor: Executor | None = None,
    progress: bool = True,
    problems: Sequence[Problem] | None = None,
    cache: str | Path | None = None,
) -> dict[str, Any]:
    """Run (or resume) an evaluation and return its summary (also written to ``<out>/summary.json``).

    ``backend``, ``grader`` and ``executor`` are built from the config when not given.  ``problems`` replaces
    loading the config's benchmarks (to evaluate a custom list of problems from Python).  ``cache`` (a folder
    or ``.sqlite`` file) wraps the backend built from the config in a generation cache
    (:class:`tusk.backends.cached.CachedBackend`).  Settings are checked before the model is loaded: unknown
    benchmarks, and (for a resume) every setting that does not depend on the model.
    """
    from tusk.benchmarks import get_benchmark
    from tusk.report import summarize

    config = config.resolved()
    benchmarks = [get_benchmark(name) for name in config.benchmarks]  # unknown names fail before loading a model
    if cache is not None and backend is not None:
        raise TuskError("evaluate: a cache wraps the backend evaluate loads; give a backend or a cache, not both")
    with ExitStack() as stack:
        if grader is None:
            from tusk.grading import get_grader

            grader = get_grader(config.grader)
        loaded = {} if problems is not None else {name: bench.load(config.data_dir)
                                                  for name, bench in zip(config.benchmarks, benchmarks)}
        if problems is not None:
            pending = list(problems)
        else:
            pending = []
            for name, every in loaded.items():
                chosen = _selection(every, config.limit, config.shard)
                if not chosen:
                    log.warning("%s: %s selects no problem", name, _selection_text(len(every), config.limit,
                                                                                   config.shard))
                pending += chosen
        # what a resume must share, as far as it is known before the model is loaded
        known = _known_settings(config, grader)
        try:
            check_resumable(config.out, known, tuple(k for k in (*IDENTITY_KEYS, "shard") if k in known),
                            required=REQUIRED_KEYS, comparable=comparable_setting)
        except TuskError as exc:  # an older version saved API keys: do not print them
            raise TuskError(_hide_saved_secrets(str(exc), Path(config.out))) from None
        problem_sets = {name: problem_set(every) for name, every in loaded.items()}
        _check_same_problems(Path(config.out), problem_sets)
        if backend is None:
            backend = stack.enter_context(_load_backend(config, cache))
        style = backend.preferred_prompt if config.prompt == "auto" else config.prompt
        if style == "chat" and backend.chat_prompt([{"role": "user", "content": "1 + 1?"}]) is None:
            if backend.kind == "openai":
                raise TuskError("--prompt chat: the openai backend does not know the served model's chat template; "
                                "give it with --backend-option chat_template=SOURCE (a built-in model name, a .gguf "
                                "file, a model folder or a .jinja file), or use --prompt alpaca")
            raise TuskError(f"--prompt chat: the {backend.kind or 'given'} backend cannot render chat prompts (the "
                            "model has no chat template); use --prompt alpaca")
        run_config = {**asdict(config), **known, "benchmarks": list(config.benchmarks), "prompt": style,
                      "data_dir": data_folder(config.data_dir), "problem_sets": problem_sets,
                      "backend_options": redacted_options(config.backend_options)}  # no API key on disk
        description = backend.describe()
        run_config.update(
            tusk_version=__version__,
            backend=description,
            # what a resumed run must share: the weights (not library versions) and result-changing options
            model_identity=model_identity(description),
        )
        run_config = with_limits(run_config, {name: config.limit for name in config.benchmarks})
        _hint_earlier_sampling(Path(config.out), run_config["model_identity"])
        # one run directory holds one shard (shards of a split are joined by tusk merge)
        store = stack.enter_context(RunStore(config.out, run_config, (*IDENTITY_KEYS, "shard"),
                                             required=REQUIRED_KEYS, comparable=comparable_setting))
        selected = {p.id for p in pending}
        stored = [r for r in store.records() if r["id"] in selected]
        pending = [p for p in pending if p.id not in store.done_ids]
        if config.mode != "cot" and executor is None and pending:
            from tusk.execution import ProgramPool, SandboxLimits

            executor = stack.enter_context(
                ProgramPool(workers=config.workers, limits=SandboxLimits(timeout=config.timeout))
            )
        runner = _Runner(config, backend, grader, executor, style, store)
        started = time.perf_counter()
        try:
            runner.run(pending, progress, done=len(stored), correct=sum(bool(r["correct"]) for r in stored))
        finally:
            complete = runner.finished and (problems is not None or _all_stored(store, config, loaded))
            before = store.config.get("elapsed") if isinstance(store.config.get("elapsed"), Mapping) else {}
            elapsed = {
                "wall_seconds": float(before.get("wall_seconds") or 0) + time.perf_counter() - started,
                "generation_seconds": float(before.get("generation_seconds") or 0) + runner.generation_seconds,
                "sessions": int(before.get("sessions") or 0) + 1,
            }
            store.update_config(elapsed=elapsed)  # every session's time, for the summary
            summary = summarize(store.records(), {**store.config, **elapsed, "complete": complete})
            store.write_summary(summary)
        return summary


def _known_settings(config: EvalConfig, grader: AnswerGrader) -> dict[str, Any]:
    """The run settings known before the model is loaded (all but what the backend tells)."""
    known = {k: v for k, v in asdict(config).items() if k in IDENTITY_KEYS}
    known.update(
        shard=list(config.shard) if config.shard else None,
        grader_version=getattr(grader, "version", "?"),
        result_options=_result_options(config.backend_options),
    )
    if config.prompt == "auto":  # the backend decides
        known.pop("prompt", None)
    return known


def _hide_saved_secrets(message: str, out: Path) -> str:
    """``message`` without the values of secret options an older version saved in ``out``'s config."""
    from tusk.store import CONFIG

    try:
        saved = json.loads((out / CONFIG).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return message
    for key in ("backend_options", "result_options"):
        options = saved.get(key) if isinstance(saved, dict) else None
        for name, value in (options.items() if isinstance(options, dict) else ()):
            if is_secret_option(name) and value not in (None, "", REDACTED):
                message = message.replace(repr(value), repr(REDACTED)).replace(str(value), REDACTED)
    return message


def _load_backend(config: EvalConfig, cache: str | Path | None) -> Backend:
    from tusk.backends import load_backend

    backend = load_backend(config.model, **config.backend_options)
    if cache is None:
        return backend
    from tusk.backends.cached import CachedBackend

    try:
        return CachedBackend(backend, Path(cache))
    except BaseException:
        backend.close()
        raise


def _selection(problems: Sequence[_T], limit: int | None, shard: Sequence[int] | None) -> list[_T]:
    """The problems of one benchmark a run evaluates: the first ``limit``, then those of its shard."""
    chosen = list(problems if limit is None else problems[:limit])
    if shard:
        i, n = shard
        chosen = [p for position, p in enumerate(chosen) if position % n == i]
    return chosen


def _selection_text(count: int, limit: int | None, shard: Sequence[int] | None) -> str:
    what = f"{count} problems" if limit is None else f"the first {min(limit, count)} of {count} problems"
    return f"shard {shard[0]}/{shard[1]} of {what}" if shard else what


def problem_set(problems: Sequence[Problem]) -> dict[str, Any]:
    """What identifies the problem files a benchmark loaded: the number of problems and a sha256 of their ids,
    questions, choices and upstream gold answers (not the folder they came from: the same files reached
    through another path, machine or mirror give the same digest; nor a gold tusk reviewed, which the
    grader version covers)."""
    digest = hashlib.sha256()
    for p in problems:
        gold = p.meta.get("upstream_answer", p.answer) if isinstance(p.meta, Mapping) else p.answer
        digest.update(json.dumps([p.id, p.question, list(p.choices), gold], ensure_ascii=False).encode())
        digest.update(b"\n")
    return {"count": len(problems), "sha256": digest.hexdigest()}


def data_folder(data_dir: str | None) -> str | None:
    """The user data folder a run reads (``--data-dir``, else ``$TUSK_DATA_DIR``) as an absolute path; None
    when files come from tusk's cache or a download."""
    from tusk.datasets import DATA_DIR_ENV

    folder = data_dir or os.environ.get(DATA_DIR_ENV)
    return str(Path(folder).expanduser().resolve()) if folder else None


def _check_same_problems(out: Path, problem_sets: Mapping[str, Mapping[str, Any]]) -> None:
    """Refuse to resume a run whose benchmark files changed: its stored samples answer other problems."""
    from tusk.store import resumed_config

    saved = resumed_config(out)
    if saved is None:
        return  # nothing stored: the run starts over
    before = recorded_problem_sets(saved)
    changed = [name for name, now in problem_sets.items() if name in before and before[name]["sha256"] != now["sha256"]]
    if changed:
        where = saved.get("data_dir") or "tusk's data cache"
        details = "; ".join(f"{name}: {before[name].get('count')} problems read from {where} before, "
                            f"{problem_sets[name]['count']} now, with other contents" for name in changed)
        raise TuskError(f"{out} was run on other problem files ({details}); point --data-dir at the files it "
                        "was run on, or use another --out")


def _all_stored(store: RunStore, config: EvalConfig, loaded: Mapping[str, Sequence[Problem]]) -> bool:
    """Whether every selected problem of every benchmark in the run directory is stored (a warning names what
    is not: the run may have been resumed with a smaller ``--limit`` or fewer benchmarks).

    A benchmark of an earlier session that this one did not load is judged from the problem count the run
    config recorded for it (no file is read or downloaded); runs saved before counts were recorded load it.
    """
    from tusk.benchmarks import get_benchmark

    limits = config_limits(store.config)
    sets = recorded_problem_sets(store.config)
    stored_per_benchmark: dict[str, int] = {}
    if any(name not in loaded for name in store.config.get("benchmarks") or []):
        for record in store.records():
            stored_per_benchmark[record["benchmark"]] = stored_per_benchmark.get(record["benchmark"], 0) + 1
    complete = True
    for name in store.config.get("benchmarks") or []:
        limit = limits.get(name)
        recorded = sets.get(name, {})
        if name in loaded:
            count = len(loaded[name])
            missing = sum(p.id not in store.done_ids for p in _selection(loaded[name], limit, config.shard))
        elif isinstance(recorded.get("count"), int):
            count = recorded["count"]
            expected = len(_selection(range(count), limit, config.shard))
            missing = max(0, expected - stored_per_benchmark.get(name, 0))
        else:
            try:
                every = get_benchmark(name).load(store.config.get("data_dir") or config.data_dir)
            except TuskError as exc:
                log.warning("%s: cannot tell whether %s is complete (%s); the summary is marked partial",
                            config.out, name, exc)
                complete = False
                continue
            count = len(every)
            missing = sum(p.id not in store.done_ids for p in _selection(every, limit, config.shard))
        if missing:
            complete = False
            options = f"--benchmarks {name}" + ("" if limit is None else f" --limit {limit}")
            log.warning("%s: %d problems of %s are not stored yet (%s); the summary is marked partial; "
                        "rerun with %s to finish them", config.out, missing, name,
                        _selection_text(count, limit, config.shard), options)
    return complete


class _Runner:
    """Drives one run: chunks of problems through generation, decoding, grading and the store."""

    def __init__(self, config, backend, grader, executor, style, store):
        self.config: EvalConfig = config
        self.backend: Backend = backend
        self.grader: AnswerGrader = grader
        self.executor: Executor | None = executor
        self.style: str = style
        self.store: RunStore = store
        self.finished = False
        self.generation_seconds = 0.0
        self._tokens = 0  # completion tokens generated in this session (not cache hits or kept ones)
        self._seen = self._correct = self._waiting = 0
        self._bar: ProgressBar | None = None
        self.sampling = SamplingParams(
            max_tokens=config.max_tokens,
            temperature=config.temperature,
            top_p=config.top_p,
            n=config.samples,
            stop=stop_strings(style),
            seed=config.seed,
        )

    def prompt(self, problem: Problem, mode: Mode) -> str:
        return build_prompt(problem, mode, self.style, chat=self.backend.chat_prompt)

    def run(self, problems: Sequence[Problem], progress: bool, done: int = 0, correct: int = 0) -> None:
        """Evaluate ``problems``; ``done`` problems of the run were stored before, ``correct`` of them correct
        (a resumed run's progress starts there)."""
        self._seen, self._correct = done, correct
        with ProgressBar("eval", done + len(problems), done=done, unit="prob",
                         enabled=progress and bool(problems)) as bar:
            self._bar = bar
            size = self.config.chunk_size or max(1, self.backend.preferred_chunk())
            for start in range(0, len(problems), size):
                for record in self._chunk(problems[start : start + size]):
                    self.store.append(record)
                    self._correct += int(record.correct)
                    self._seen += 1
                    bar.advance(1, self._info())
        self._bar = None
        self.finished = True

    def _info(self) -> str:
        elapsed = self._bar.elapsed if self._bar is not None else 0.0
        parts = [f"{self._tokens / max(elapsed, 1e-9):,.0f} tok/s",
                 f"acc {self._correct / self._seen:.1%}" if self._seen else "acc -"]
        if self._waiting:
            parts.append(f"{self._waiting} waiting for a CoT fallback")
        return ", ".join(parts)

    def _generate(self, requests: list[Request]) -> Iterator[Generation]:
        for generation in self.backend.generate(requests):
            self.generation_seconds += generation.seconds
            if generation.seconds > 0:  # not a cache hit
                self._tokens += generation.completion_tokens
            yield generation

    def _show(self) -> None:
        if self._bar is not None:
            self._bar.advance(0, self._info())

    def _chunk(self, problems: Sequence[Problem]) -> Iterator[SampleRecord]:
        first: Mode = "cot" if self.config.mode == "cot" else "pot"
        hybrid = self.config.mode == "hybrid"
        by_id = {p.id: p for p in problems}
        prompts = {p.id: self.prompt(p, first) for p in problems}
        # a hybrid run's PoT generations kept by an interrupted session are not made again
        kept = {p.id: g for p in problems if hybrid and (g := self.store.kept_generation(p.id, prompts[p.id]))}
        requests = [Request(p.id, prompts[p.id], self.sampling) for p in problems if p.id not in kept]
        retry: list[tuple[Problem, Generation, list[Prediction]]] = []
        answers = chain(((g, False) for g in kept.values()), ((g, True) for g in self._generate(requests)))
        for generation, fresh in answers:
            problem = by_id[generation.request_id]
            predictions = self._decode(first, generation.texts, problem)
            failed = [i for i, pred in enumerate(predictions) if needs_fallback(pred)]
            if hybrid and failed:
                if fresh:  # kept until its fallback is stored, so an interrupt does not lose it
                    self.store.keep_generation(problem.id, prompts[problem.id], generation)
                retry.append((problem, generation, predictions))
                self._waiting += 1
                self._show()  # not stored yet, but the bar's rate and text move
                continue
            yield self._record(problem, prompts[problem.id], [generation], predictions)
        if not retry:
            return
        # hybrid fallback: ask every failed sample again in CoT, once
        cot_prompts = {p.id: self.prompt(p, "cot") for p, _, _ in retry}
        cot_requests = []
        for problem, _, predictions in retry:
            n_failed = sum(needs_fallback(pred) for pred in predictions)
            sampling = replace(self.sampling, n=n_failed)
            cot_requests.append(Request(problem.id, cot_prompts[problem.id], sampling))
        pending = {p.id: (p, g, preds) for p, g, preds in retry}
        for generation in self._generate(cot_requests):
            problem, pot_generation, predictions = pending.pop(generation.request_id)
            fallbacks = iter(decode_cot(generation.texts, problem, self.grader))
            merged = [as_fallback(next(fallbacks), pred) if needs_fallback(pred) else pred for pred in predictions]
            self._waiting -= 1
            yield self._record(
                problem,
                prompts[problem.id],
                [pot_generation, generation],
                merged,
                fallback_prompt=cot_prompts[problem.id],
            )

    def _decode(self, mode: Mode, texts: Sequence[str], problem: Problem) -> list[Prediction]:
        if mode == "cot":
            return decode_cot(texts, problem, self.grader)
        assert self.executor is not None
        return decode_pot(texts, problem, self.grader, self.executor)

    def _record(
        self,
        problem: Problem,
        prompt: str,
        generations: Sequence[Generation],
        predictions: Sequence[Prediction],
        fallback_prompt: str | None = None,
    ) -> SampleRecord:
        extra: dict[str, Any] = {}
        if len(predictions) > 1:
            outcome = vote(predictions, problem, self.grader)
            chosen = outcome.winner
            extra["votes"] = [list(c) for c in outcome.counts]
            extra["sample_modes"] = [p.mode for p in predictions]
        else:
            chosen = predictions[0]
        if fallback_prompt is not None:
            extra["fallback_prompt"] = fallback_prompt
            first = "cot" if self.config.mode == "cot" else "pot"
            extra["generation_modes"] = [first] * len(generations[0].texts) + ["cot"] * sum(
                len(g.texts) for g in generations[1:])
        reasons = [r for g in generations for r in g.finish_reasons]
        if "length" in reasons:  # a generation ran into --max-tokens: its answer may be a fragment
            extra["finish_reasons"] = reasons
        if chosen.execution is not None:  # what the program printed, to inspect (cut to a few kB)
            extra["stdout"] = chosen.execution.stdout[:OUTPUT_KEPT]
            if chosen.execution.status != "ok":
                extra["stderr"] = chosen.execution.stderr[-OUTPUT_KEPT:]
        grade = self.grader.judge(chosen.answer, problem)
        if grade.timed_out:
            extra["grade_timed_out"] = True
        return SampleRecord(
            id=problem.id,
            benchmark=problem.benchmark,
            prompt=prompt,
            generations=tuple(t for g in generations for t in g.texts),
            prediction=chosen.answer,
            gold=problem.answer,
            correct=grade.correct,
            mode=chosen.mode,
            fell_back=chosen.fell_back,
            program=chosen.program,
            execution_status=chosen.execution.status if chosen.execution else None,
            grade_rule=grade.rule,
            prompt_tokens=sum(g.prompt_tokens for g in generations),
            completion_tokens=sum(g.completion_tokens for g in generations),
            seconds=sum(g.seconds for g in generations),
            extra=extra,
        )
