"""The build config: a YAML file of values and registry names (never code) -> frozen dataclasses.

.. code-block:: yaml

    seed: 0
    components:                      # one entry per (source, mode) slice of the mixture
      - source: gsm8k                # a name from tusk.data.sources.SOURCES
        mode: cot                    # cot | pot
      - source: mathqa
        mode: pot
        files: [mathqa/dev.json]     # default: the source's own files (data dir relative or absolute)
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

Unknown keys are errors that name the key and where it is, so a typo never silently changes a build.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tusk.data.decontaminate import DecontamConfig
from tusk.data.dedup import DedupConfig
from tusk.data.synthesise import SynthesisSettings
from tusk.data.verify import VerifySettings
from tusk.errors import TuskError


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

    @property
    def sha256(self) -> str:
        return hashlib.sha256(json.dumps(self.raw, sort_keys=True).encode()).hexdigest()


def _build(cls, values: Any, where: str):
    if not isinstance(values, dict):
        raise TuskError(f"{where}: expected a mapping, got {type(values).__name__}")
    names = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - set(names))
    if unknown:
        raise TuskError(f"{where}: unknown key {unknown[0]!r}; known: {', '.join(n for n in names if n != 'raw')}")
    kwargs = {}
    for key, value in values.items():
        if isinstance(value, list):
            value = tuple(value)
        kwargs[key] = value
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise TuskError(f"{where}: {exc}") from exc


def parse_config(raw: dict[str, Any], where: str = "config") -> BuildConfig:
    """Check and convert a loaded YAML mapping."""
    from tusk.data.sources import SOURCES

    if not isinstance(raw, dict):
        raise TuskError(f"{where}: expected a mapping at the top level")
    raw = dict(raw)
    items = raw.get("components")
    if not isinstance(items, list) or not items:
        raise TuskError(f"{where}: 'components' must be a non-empty list")
    components = []
    seen: set[str] = set()
    for i, item in enumerate(items):
        at = f"{where}: components[{i}]"
        if not isinstance(item, dict):
            raise TuskError(f"{at}: expected a mapping")
        values = dict(item)
        synth = values.pop("synthesise", None)
        if synth is not None:
            synth = dict(synth)
            synth.setdefault("mode", values.get("mode", "pot"))
            values["synthesise"] = _build(SynthesisSettings, synth, f"{at}.synthesise")
        component = _build(ComponentConfig, values, at)
        if component.source not in SOURCES:
            raise TuskError(f"{at}: unknown source {component.source!r}; known: {', '.join(SOURCES)}")
        if component.mode not in ("cot", "pot"):
            raise TuskError(f"{at}: mode must be cot or pot, got {component.mode!r}")
        source = SOURCES[component.source]
        if not component.files and not source.files:
            raise TuskError(f"{at}: source {component.source} has no default file; list yours under 'files'")
        if component.synthesise is None and component.mode not in source.modes:
            have = ", ".join(source.modes) or "none"
            raise TuskError(
                f"{at}: source {component.source} has no human {component.mode} rationales (has: {have}); "
                "add a 'synthesise' section to write them with a teacher model"
            )
        if component.synthesise is not None and component.synthesise.mode != component.mode:
            raise TuskError(f"{at}: synthesise.mode must match the component's mode")
        name = component.name or f"{component.source}/{component.mode}"
        if name in seen:
            raise TuskError(f"{at}: component name {name!r} is used twice; give one a 'name'")
        seen.add(name)
        components.append(dataclasses.replace(component, name=name))
    dedup = raw.get("dedup", {})
    decontam = raw.get("decontaminate", {})
    known = {"components", "seed", "data_dir", "verify", "dedup", "decontaminate", "mixture", "export"}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise TuskError(f"{where}: unknown key {unknown[0]!r}; known: {', '.join(sorted(known))}")
    return BuildConfig(
        components=tuple(components),
        seed=int(raw.get("seed", 0)),
        data_dir=raw.get("data_dir"),
        verify=_build(VerifySettings, raw.get("verify", {}) or {}, f"{where}: verify"),
        dedup=None if dedup is False else _build(DedupConfig, dedup or {}, f"{where}: dedup"),
        decontaminate=None if decontam is False else _build(DecontamConfig, decontam or {}, f"{where}: decontaminate"),
        mixture=_build(MixtureConfig, raw.get("mixture", {}) or {}, f"{where}: mixture"),
        export=_build(ExportConfig, raw.get("export", {}) or {}, f"{where}: export"),
        raw=raw,
    )


def load_config(path: str | Path) -> BuildConfig:
    import yaml

    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise TuskError(f"cannot read config {path}: {exc.strerror or exc}") from exc
    except yaml.YAMLError as exc:
        raise TuskError(f"{path}: invalid YAML ({exc})".replace("\n", " ")) from exc
    return parse_config(raw or {}, str(path))
