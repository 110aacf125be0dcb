"""Generation backends behind one interface, imported lazily by name.

Model specs (see DESIGN.md): ``llamacpp:PATH.gguf``, ``hf:PATH_OR_ID``, ``openai:MODEL@http://host:port/v1``,
``vllm:PATH_OR_ID``, a bare ``PATH.gguf``, or a built-in model name such as ``qwen2.5-coder-0.5b``
(see :mod:`tusk.models`).  A backend whose optional dependency is missing raises
:class:`~tusk.errors.MissingExtraError` naming the pip extra.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
from dataclasses import dataclass
from typing import Any

from tusk.backends.base import Backend
from tusk.errors import MissingExtraError, TuskError


@dataclass(frozen=True)
class BackendInfo:
    """Where a backend lives and what it needs: ``path`` is ``module:Class``; ``extra`` is the pip extra
    that installs ``needs`` (top-level modules); ``spec`` shows the model spec form."""

    path: str
    extra: str
    needs: tuple[str, ...]
    spec: str

    def missing(self) -> tuple[str, ...]:
        """The modules of ``needs`` that cannot be found (checked without importing them)."""
        return tuple(name for name in self.needs if importlib.util.find_spec(name) is None)


BACKENDS: dict[str, BackendInfo] = {
    "llamacpp": BackendInfo("tusk.backends.llamacpp:LlamaCppBackend", "cpu", ("llama_cpp",),
                            "llamacpp:PATH.gguf"),
    "hf": BackendInfo("tusk.backends.hf:HFBackend", "hf", ("torch", "transformers"), "hf:DIR_OR_HUB_ID"),
    "openai": BackendInfo("tusk.backends.openai:OpenAIBackend", "openai", ("httpx",), "openai:MODEL@URL"),
    "vllm": BackendInfo("tusk.backends.vllm:VLLMBackend", "vllm", ("vllm",), "vllm:DIR_OR_HUB_ID"),
    # data-parallel replicas of another spec on a Ray cluster: ray:hf:/path, ray:vllm:org/model, ...
    "ray": BackendInfo("tusk.parallel.ray_backend:RayBackend", "ray", ("ray",), "ray:SPEC"),
    # canned responses for tests and dry runs (not listed by `tusk ls backends`)
    "scripted": BackendInfo("tusk.backends.scripted:ScriptedBackend", "", (), "scripted:TABLE.jsonl"),
}


@dataclass(frozen=True)
class ModelSpec:
    """A parsed ``--model`` value: which backend, and what it should load."""

    backend: str
    target: str
    raw: str


def parse_model_spec(spec: str) -> ModelSpec:
    """Split a model spec into backend and target; built-in names resolve to the llamacpp backend."""
    from tusk import models

    spec = spec.strip()
    if not spec:
        raise TuskError("empty model spec")
    if spec in models.BUILTIN_MODELS:
        return ModelSpec("llamacpp", spec, spec)
    prefix, sep, rest = spec.partition(":")
    if sep and prefix in BACKENDS:
        if not rest:
            raise TuskError(f"model spec {spec!r} names backend {prefix!r} but no model")
        return ModelSpec(prefix, rest, spec)
    if spec.endswith(".gguf"):
        return ModelSpec("llamacpp", spec, spec)
    known = ", ".join(sorted(models.BUILTIN_MODELS))
    raise TuskError(
        f"unknown model {spec!r}: use a built-in name ({known}), a .gguf path, "
        "or BACKEND:TARGET with BACKEND one of " + ", ".join(b for b in BACKENDS if b != "scripted")
    )


@functools.cache
def neutral_options() -> frozenset[str]:
    """Backend options that change how generation is scheduled or transported, never what is generated: the
    union of every backend's ``NEUTRAL_OPTIONS`` (declared beside its options).  A run resumes and shards
    merge whatever their values (``tusk.evaluate`` leaves them out of ``result_options``)."""
    names: set[str] = set()
    for info in BACKENDS.values():
        module_name = info.path.partition(":")[0]
        try:
            module = importlib.import_module(module_name)  # backends import their libraries lazily
        except ImportError:  # pragma: no cover - a broken install; its options cannot be told apart
            continue
        names |= set(getattr(module, "NEUTRAL_OPTIONS", ()))
    return frozenset(names)


def comparable_spec(spec: str) -> str:
    """A ``--model`` spec as runs compare it: what it names, not how it is spelled or where it is served.

    ``openai:NAME@URL`` is ``openai:NAME`` (another server or port of the same model is the same model);
    a file, folder or hub target of llamacpp, hf or vllm is the backend's name alone (its weights are
    compared by the run's model identity, so ``./m.gguf``, ``m.gguf`` and a copy elsewhere agree); a built-in
    model keeps its name (two built-ins are refused before either is loaded); ``ray:SPEC`` is ``ray:`` and
    SPEC's form.
    """
    from tusk import models

    try:
        parsed = parse_model_spec(spec)
    except TuskError:
        return spec
    if parsed.backend == "openai":
        model, sep, url = parsed.target.rpartition("@")
        return f"openai:{model if sep and url.startswith(('http://', 'https://')) else parsed.target}"
    if parsed.backend == "ray":
        return "ray:" + comparable_spec(parsed.target)
    if parsed.backend == "scripted":
        return parsed.raw
    if parsed.target in models.BUILTIN_MODELS:
        return f"{parsed.backend}:{parsed.target}"
    return parsed.backend


def backend_class(name: str) -> type[Backend]:
    """Import and return the backend class registered under ``name``."""
    try:
        info = BACKENDS[name]
    except KeyError:
        raise TuskError(f"unknown backend {name!r}; known: {', '.join(BACKENDS)}") from None
    module_name, _, cls_name = info.path.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        if exc.name and exc.name.startswith("tusk"):
            raise
        raise MissingExtraError(f"the {name} backend", info.extra or "dev", exc) from exc
    return getattr(module, cls_name)


def load_backend(spec: str | ModelSpec, **options: Any) -> Backend:
    """Build the backend for a model spec; ``options`` go to the backend's constructor."""
    parsed = spec if isinstance(spec, ModelSpec) else parse_model_spec(spec)
    return backend_class(parsed.backend)(parsed.target, **options)
