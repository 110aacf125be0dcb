"""The build config: a YAML file of values and registry names (never code) -> frozen dataclasses.

.. code-block:: yaml

    seed: 0
    components:                      # one entry per (source, mode) slice of the mixture
      - source: gsm8k                # a name from tusk.data.sources.SOURCES
        mode: cot                    # cot | pot
      - source: mathqa
        mode: pot
        files: [mathqa/dev.json]     # default: the source's own files (absolute, or relative: see below)
        cap: 2000                    # keep at most this many (seeded sample)
      - source: gsm8k
        mode: pot
        name: gsm8k/pot-qwen         # default: SOURCE/MODE
        limit: 200                   # first N problems of the source
        synthesise: {teacher: qwen2.5-coder-0.5b, k: 1, max_tokens: 400}
    verify: {grader: strict, timeout: 5}
    dedup: {exact: true, max_per_instruction: 1, near_threshold: 0.9}
    decontaminate: {ngram: 8, threshold: 0.5}    # or false; benchmarks: [] = the paper's nine
    mixture: {total: null, shuffle: true}         # total + per-component weight: proportional sizes
    export: {hf: false, parquet: false}

Unknown keys are errors that name the key and where it is, so a typo never silently changes a build.  Every
value is coerced to its field's type and checked against its range (``limit >= 0``, ``0 < threshold <= 1``,
...); a wrong one is a one-line :class:`~tusk.errors.DataError` naming the file and the key path, e.g.
``build.yaml: components[0].limit: expected an integer, got 'five'``.  Booleans must be YAML booleans
(``true``/``false``); a single string where a list is expected (``files: gsm8k/train.jsonl``) is a one-item list.

Relative paths in a config file are read from the config file's folder, wherever the build runs from:
``data_dir: ../data`` is next to the config's folder; a relative entry of ``files`` is looked for in the
config's folder first, then in the data dir (``--data-dir``, else the config's ``data_dir``, else
``TUSK_DATA_DIR``).  A ``synthesise.template`` may use only ``{question}`` and ``{choices}``; any other
placeholder is an error naming the key.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tusk.data.decontaminate import DecontamConfig
from tusk.data.dedup import DedupConfig
from tusk.data.synthesise import SynthesisSettings
from tusk.data.verify import VerifySettings
from tusk.errors import DataError, yaml_error


@dataclass(frozen=True)
class ComponentConfig:
    source: str
    mode: str
    name: str = ""
    files: tuple[str, ...] = ()
    limit: int | None = None
    """use only the first N problems of the source"""
    cap: int | None = None
    """keep at most N examples after verification, dedup and decontamination (seeded sample)"""
    weight: float = 1.0
    """share of mixture.total, when a total is set"""
    verify: bool = True
    """execute/grade this component's examples (human CoT is never graded)"""
    synthesise: SynthesisSettings | None = None


@dataclass(frozen=True)
class MixtureConfig:
    total: int | None = None
    shuffle: bool = True


@dataclass(frozen=True)
class ExportConfig:
    hf: bool = False
    parquet: bool = False


@dataclass(frozen=True)
class BuildConfig:
    components: tuple[ComponentConfig, ...]
    seed: int = 0
    data_dir: str | None = None
    verify: VerifySettings = field(default_factory=VerifySettings)
    dedup: DedupConfig | None = field(default_factory=DedupConfig)
    decontaminate: DecontamConfig | None = field(default_factory=DecontamConfig)
    mixture: MixtureConfig = field(default_factory=MixtureConfig)
    export: ExportConfig = field(default_factory=ExportConfig)
    raw: dict[str, Any] = field(default_factory=dict, compare=False)
    origin: str = field(default="config", compare=False)
    """the config file (or "config" for a mapping given in Python): error messages name it"""
    base_dir: str | None = field(default=None, compare=False)
    """the config file's folder: relative ``files`` are looked for there first"""

    @property
    def sha256(self) -> str:
        return hashlib.sha256(json.dumps(self.raw, sort_keys=True).encode()).hexdigest()


# Ranges and choices beyond the type: (lowest, highest, lowest excluded) per field, checked after coercion.
_RANGES: dict[str, tuple[float | None, float | None, bool]] = {
    "seed": (0, None, False), "limit": (0, None, False), "cap": (0, None, False), "weight": (0, None, True),
    "total": (1, None, False), "timeout": (0, None, True), "memory_mb": (16, None, False),
    "workers": (1, None, False), "chunk": (1, None, False), "choice_tolerance": (0, 1, False),
    "max_per_instruction": (1, None, False), "near_threshold": (0, 1, True), "shingle": (1, None, False),
    "bands": (1, None, False), "rows": (1, None, False), "ngram": (1, None, False), "threshold": (0, 1, True),
    "k": (1, None, False), "temperature": (0, None, False), "top_p": (0, 1, True), "max_tokens": (1, None, False),
    "batch": (1, None, False),
}
_CHOICES: dict[str, tuple[str, ...]] = {"mode": ("cot", "pot"), "prompt": ("alpaca", "chat", "auto")}


def _fail(path: str, message: str) -> DataError:
    return DataError(f"{path}: {message}")


def _number(kind: type, value: Any, path: str) -> int | float:
    """An int or float from a YAML number or a numeric string ("1e-5" is a string to YAML 1.1)."""
    want = "an integer" if kind is int else "a number"
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            raise _fail(path, f"expected {want}, got {value!r}") from None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise _fail(path, f"expected {want}, got {value!r}")
    if kind is int:
        if isinstance(value, float) and not value.is_integer():
            raise _fail(path, f"expected {want}, got {value!r}")
        return int(value)
    return float(value)


def coerce_value(hint: Any, value: Any, path: str) -> Any:
    """``value`` converted to the type ``hint`` (str, bool, int, float, dict, tuple[str, ...], Literal, X | None).

    Booleans must be YAML booleans; a single string where a list of strings is expected becomes a one-item list.
    """
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if typing.get_origin(hint) in (typing.Union, types.UnionType) and len(args) < len(typing.get_args(hint)):
        return None if value is None else coerce_value(args[0], value, path)
    if typing.get_origin(hint) is typing.Literal:
        hint = str
    if value is None:
        raise _fail(path, "needs a value")
    if hint is bool:
        if not isinstance(value, bool):
            raise _fail(path, f"expected true or false, got {value!r}")
        return value
    if hint in (int, float):
        return _number(hint, value, path)
    if hint is str:
        if not isinstance(value, str):
            raise _fail(path, f"expected text, got {value!r}")
        return value
    if hint is dict or typing.get_origin(hint) is dict:
        if not isinstance(value, dict):
            raise _fail(path, f"expected a mapping, got {value!r}")
        return dict(value)
    if typing.get_origin(hint) is tuple:
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, (list, tuple)):
            raise _fail(path, f"expected a list of text, got {value!r}")
        return tuple(coerce_value(str, item, f"{path}[{i}]") for i, item in enumerate(items))
    raise TypeError(f"no coercion for {hint!r}")  # pragma: no cover - a field type this module does not know


def _check_range(key: str, value: Any, path: str) -> None:
    if value is None:
        return
    if key in _CHOICES and value not in _CHOICES[key]:
        raise _fail(path, f"must be one of {', '.join(_CHOICES[key])}, got {value!r}")
    if key in _RANGES:
        low, high, open_low = _RANGES[key]
        if (low is not None and (value < low or (open_low and value == low))) or (high is not None and value > high):
            bounds = (f"> {low}" if open_low else f">= {low}") if low is not None else ""
            if high is not None:
                bounds = f"{bounds} and <= {high}" if bounds else f"<= {high}"
            raise _fail(path, f"must be {bounds}, got {value!r}")


def _build(cls, values: Any, where: str):
    """``cls(**values)`` with every value coerced to its field's type and range-checked; errors name the key.

    ``where`` is "FILE: PATH" (keys are appended as PATH.KEY) or "FILE: " for top-level keys."""
    if values is None:
        values = {}
    if not isinstance(values, dict):
        raise _fail(where, f"expected a mapping, got {values!r}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls) if f.name != "raw"]
    kwargs = {}
    for key, value in values.items():
        if key not in names:
            raise _fail(where, f"unknown key {key!r}; known: {', '.join(names)}")
        path = f"{where}{key}" if where.endswith(": ") else f"{where}.{key}"
        kwargs[key] = coerce_value(hints[key], value, path)
        _check_range(key, kwargs[key], path)
    return cls(**kwargs)


def parse_config(raw: dict[str, Any], where: str = "config", base_dir: str | Path | None = None) -> BuildConfig:
    """Check and convert a loaded YAML mapping; errors are :class:`DataError` naming ``where`` and the key.

    ``base_dir`` (the config file's folder): a relative ``data_dir`` is resolved against it, and relative
    ``files`` are looked for there first."""
    from tusk.data.sources import SOURCES

    if not isinstance(raw, dict):
        raise DataError(f"{where}: expected a mapping at the top level")
    raw = dict(raw)
    known = ("components", "seed", "data_dir", "verify", "dedup", "decontaminate", "mixture", "export")
    unknown = sorted(str(k) for k in set(raw) - set(known))
    if unknown:
        raise DataError(f"{where}: unknown key {unknown[0]!r}; known: {', '.join(known)}")
    items = raw.get("components")
    if not isinstance(items, list) or not items:
        raise DataError(f"{where}: components: must be a non-empty list")
    components = []
    seen: set[str] = set()
    for i, item in enumerate(items):
        path = f"components[{i}]"
        at = f"{where}: {path}"
        if not isinstance(item, dict):
            raise DataError(f"{at}: expected a mapping, got {item!r}")
        values = dict(item)
        synth = values.pop("synthesise", None)
        if synth is not None:
            if not isinstance(synth, dict):
                raise DataError(f"{at}.synthesise: expected a mapping of teacher settings, got {synth!r}")
            synth = dict(synth)
            synth.setdefault("mode", values.get("mode", "pot"))
            synth = _build(SynthesisSettings, synth, f"{at}.synthesise")
            _check_template(synth.template, f"{at}.synthesise.template")
        for key in ("source", "mode"):
            if key not in values:
                raise DataError(f"{at}: needs a '{key}'")
        component = dataclasses.replace(_build(ComponentConfig, values, at), synthesise=synth)
        if component.source not in SOURCES:
            raise DataError(f"{at}.source: unknown source {component.source!r}; known: {', '.join(SOURCES)}")
        source = SOURCES[component.source]
        if not component.files and not source.files:
            raise DataError(f"{at}: source {component.source} has no default file; list yours under 'files'")
        if component.synthesise is None and component.mode not in source.modes:
            have = ", ".join(source.modes) or "none"
            raise DataError(
                f"{at}: source {component.source} has no human {component.mode} rationales (has: {have}); "
                "add a 'synthesise' section to write them with a teacher model"
            )
        if component.synthesise is not None and component.synthesise.mode != component.mode:
            raise DataError(f"{at}.synthesise.mode: must match the component's mode")
        name = component.name or f"{component.source}/{component.mode}"
        if name in seen:
            raise DataError(f"{at}: component name {name!r} is used twice; give one a 'name'")
        seen.add(name)
        components.append(dataclasses.replace(component, name=name))
    top = _build(_TopLevel, {k: raw[k] for k in ("seed", "data_dir") if k in raw}, f"{where}: ")
    verify = _build(VerifySettings, raw.get("verify"), f"{where}: verify")
    _check_grader(verify.grader, f"{where}: verify.grader")
    dedup = _optional_section(DedupConfig, raw, "dedup", where)
    decontam = _optional_section(DecontamConfig, raw, "decontaminate", where)
    if decontam is not None:
        _check_benchmarks(decontam.benchmarks, f"{where}: decontaminate.benchmarks")
    data_dir = top.data_dir
    if data_dir is not None and base_dir is not None and not Path(data_dir).expanduser().is_absolute():
        data_dir = str((Path(base_dir) / data_dir).resolve())
    return BuildConfig(
        components=tuple(components),
        seed=top.seed,
        data_dir=data_dir,
        verify=verify,
        dedup=dedup,
        decontaminate=decontam,
        mixture=_build(MixtureConfig, raw.get("mixture"), f"{where}: mixture"),
        export=_build(ExportConfig, raw.get("export"), f"{where}: export"),
        raw=raw,
        origin=where,
        base_dir=None if base_dir is None else str(Path(base_dir).resolve()),
    )


@dataclass(frozen=True)
class _TopLevel:
    seed: int = 0
    data_dir: str | None = None


def _optional_section(cls, raw: dict[str, Any], key: str, where: str):
    """A section that ``false`` turns off and ``true`` / absent / empty leaves at its defaults."""
    value = raw.get(key)
    if value is False:
        return None
    return _build(cls, None if value is True else value, f"{where}: {key}")


def _check_template(template: str | None, path: str) -> None:
    if template is None:
        return
    try:
        template.format(question="", choices="")
    except (KeyError, IndexError) as exc:
        raise DataError(f"{path}: unknown placeholder {exc}; use {{question}} and {{choices}}") from None
    except ValueError as exc:
        raise DataError(f"{path}: {exc} (write a literal brace as {{{{ or }}}})") from None


def _check_grader(name: str, path: str) -> None:
    from tusk.grading import GRADERS

    if name.strip().lower() not in GRADERS:
        raise DataError(f"{path}: unknown grader {name!r}; known: {', '.join(GRADERS)}")


def _check_benchmarks(names: tuple[str, ...], path: str) -> None:
    from tusk.benchmarks import BENCHMARKS

    for i, name in enumerate(names):
        if name not in BENCHMARKS:
            raise DataError(f"{path}[{i}]: unknown benchmark {name!r}; known: {', '.join(BENCHMARKS)}")


def load_config(path: str | Path) -> BuildConfig:
    import yaml

    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise DataError(f"cannot read config {path}: {exc.strerror or exc}") from exc
    except yaml.YAMLError as exc:
        raise DataError(yaml_error(path, exc)) from None
    return parse_config(raw or {}, str(path), base_dir=path.parent)
