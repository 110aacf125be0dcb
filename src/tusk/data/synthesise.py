"""Write CoT or PoT rationales for problems with any tusk backend as the teacher.

Each problem is rendered as a prompt (the paper's Alpaca prompt, the teacher's own chat template, or a
template from the config with ``{question}`` and ``{choices}``), sent with ``k`` samples, and every completion
becomes a :class:`~tusk.data.records.Candidate`: for PoT the program found in the completion
(:func:`tusk.programs.extract_program`; empty when there is none, which verification reports as
``no-program``), for CoT the text.  The training example always uses the Alpaca instruction the student will
see at evaluation (question, choices, PoT trigger), whatever prompt the teacher got.

Resumable: every finished generation is appended to a JSONL cache keyed by teacher, prompt and sampling
settings, so a killed build asks the teacher only for what is missing.  Guarantees nothing about quality:
candidates are verified afterwards (:mod:`tusk.data.verify`).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tusk.data.records import Candidate, SourceItem
from tusk.errors import TuskError
from tusk.types import Mode, Request, SamplingParams, TrainingExample

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SynthesisSettings:
    teacher: str = "qwen2.5-coder-0.5b"
    """model spec of the teacher (any tusk backend: built-in name, llamacpp:, hf:, openai:MODEL@URL, ...)"""
    teacher_options: dict = field(default_factory=dict)
    """keyword options for the teacher's backend, e.g. {n_threads: 1} for llama.cpp on a busy CPU"""
    mode: Mode = "pot"
    k: int = 1
    """samples per problem"""
    temperature: float = 0.0
    top_p: float = 1.0
    max_tokens: int = 512
    prompt: str = "auto"
    """alpaca | chat | auto (the teacher's preferred style)"""
    template: str | None = None
    """custom prompt text with {question} and {choices} (sent through the chat template when prompt is chat)"""
    prefill: str = ""
    """text appended to the prompt and counted as the start of every completion, e.g. "```python\n" so a chat
    model answers with code at once (no preamble tokens to pay for)"""
    stop: tuple[str, ...] = ()
    """extra stop strings, e.g. "```" to end at the closing fence (no epilogue tokens)"""
    seed: int = 0
    batch: int = 8
    """requests handed to the backend at a time (each finished generation is cached at once)"""


class GenerationCache:
    """Append-only JSONL: key -> completions.  A torn last line (a killed build) is ignored."""

    def __init__(self, path: Path | None):
        self.path = path
        self.entries: dict[str, list[str]] = {}
        if path and path.exists():
            for line in path.read_text(encoding="utf-8").splitlines():
                try:
                    row = json.loads(line)
                    self.entries[row["key"]] = list(row["texts"])
                except (ValueError, KeyError, TypeError):
                    log.warning("%s: ignoring an unreadable cache line", path)

    def get(self, key: str) -> list[str] | None:
        return self.entries.get(key)

    def put(self, key: str, texts: Sequence[str], **info: object) -> None:
        self.entries[key] = list(texts)
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps({"key": key, "texts": list(texts), **info}) + "\n")


def render_prompt(item: SourceItem, settings: SynthesisSettings, backend) -> tuple[str, str]:
    """(prompt, style) for one problem."""
    from tusk.prompts import build_prompt, render_choices

    style = backend.preferred_prompt if settings.prompt == "auto" else settings.prompt
    if settings.template is None:
        return build_prompt(item.problem, settings.mode, style, chat=backend.chat_prompt) + settings.prefill, style
    try:
        text = settings.template.format(
            question=item.problem.question, choices=render_choices(item.problem.choices).strip()
        )
    except (KeyError, IndexError) as exc:
        raise TuskError(f"synthesis template: unknown placeholder {exc}; use {{question}} and {{choices}}") from exc
    if style == "chat":
        rendered = backend.chat_prompt([{"role": "user", "content": text}])
        if rendered is None:
            raise TuskError(f"teacher {settings.teacher} has no chat template; set prompt: alpaca")
        return rendered + settings.prefill, style
    return text + settings.prefill, style


def teacher_identity(backend) -> dict:
    """What identifies the teacher for the cache: its description without where its file happens to lie
    (the same built-in model resolved through another cache folder is the same teacher; its sha256 is kept)."""
    return {k: v for k, v in backend.describe().items() if k != "path"}


def generation_key(teacher: dict, prompt: str, sampling: SamplingParams) -> str:
    blob = json.dumps([teacher, prompt, sampling.__dict__], sort_keys=True, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:32]


def with_prefill(prefill: str, text: str) -> str:
    """The whole completion: the prefill plus the generated text, with a code fence the prefill opened closed."""
    full = prefill + text
    if prefill and full.count("```") % 2 == 1:
        full = full.rstrip() + "\n```"
    return full


def to_candidates(item: SourceItem, texts: Sequence[str], component: str, mode: Mode, *, source: str) -> list[Candidate]:
    """One candidate per text; ``source`` is the data source the problem came from (the record's ``source``)."""
    from tusk.programs import extract_program
    from tusk.prompts import instruction_for

    out = []
    for index, text in enumerate(texts):
        output = (extract_program(text) or "") if mode == "pot" else text.strip()
        example = TrainingExample(
            instruction=instruction_for(item.problem, mode),
            output=output,
            mode=mode,
            source=source,
            answer=item.problem.answer or None,
            provenance={"problem": item.problem.id, "sample": index, "origin": "synthetic"},
        )
        out.append(Candidate(f"{component}/{item.problem.id}#{index}", component, "synthetic", item.problem, example))
    return out


def synthesise(
    items: Sequence[SourceItem],
    settings: SynthesisSettings,
    backend,
    component: str,
    cache: GenerationCache | None = None,
    progress: Callable[[int], None] | None = None,
    *,
    source: str,
    on_cached: Callable[[int], None] | None = None,
) -> Iterator[Candidate]:
    """Candidates for every item (``k`` each), in item order; cached generations are reused.

    ``component`` names the candidates (keys); ``source`` (the component's data source, e.g. ``gsm8k``) is
    what their training records carry as ``source``; ``on_cached`` (default: ``progress``) is told how many
    problems came from the cache, so a progress bar can leave them out of its rate."""
    from tusk.prompts import stop_strings

    cache = cache or GenerationCache(None)
    teacher = teacher_identity(backend)
    pending: list[tuple[int, str, Request]] = []
    texts_for: dict[int, list[str]] = {}
    for index, item in enumerate(items):
        prompt, style = render_prompt(item, settings, backend)
        sampling = SamplingParams(
            max_tokens=settings.max_tokens,
            temperature=settings.temperature,
            top_p=settings.top_p,
            n=settings.k,
            stop=stop_strings(style) + tuple(settings.stop),
            seed=settings.seed,
        )
        key = generation_key(teacher, prompt, sampling)
        cached = cache.get(key)
        if cached is not None and len(cached) == settings.k:
            texts_for[index] = cached
        else:
            pending.append((index, key, Request(id=str(index), prompt=prompt, sampling=sampling)))
    if texts_for and (on_cached or progress):
        (on_cached or progress)(len(texts_for))
    log.info("synthesis %s: %d cached, %d to generate", component, len(texts_for), len(pending))
    next_index = 0
    for start in range(0, len(pending), settings.batch):
        batch = pending[start : start + settings.batch]
        by_id = {request.id: (index, key) for index, key, request in batch}
        for generation in backend.generate([request for _, _, request in batch]):
            index, key = by_id[generation.request_id]
            cache.put(key, generation.texts, problem=items[index].problem.id)
            texts_for[index] = list(generation.texts)
            if progress:
                progress(1)
        while next_index < len(items) and next_index in texts_for:
            yield from _candidates(items[next_index], texts_for[next_index], component, settings, source)
            next_index += 1
    while next_index < len(items):
        yield from _candidates(items[next_index], texts_for[next_index], component, settings, source)
        next_index += 1


def _candidates(item: SourceItem, texts: Sequence[str], component: str, settings: SynthesisSettings, source: str):
    texts = [with_prefill(settings.prefill, t) for t in texts]
    return to_candidates(item, texts, component, settings.mode, source=source)
