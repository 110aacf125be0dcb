"""Chat templates rendered by tusk, for backends whose server does not render them (``openai``).

A served instruct model expects its chat template, but ``/v1/completions`` takes plain text and the server does
not say which template its model has.  :func:`load_chat_template` reads the template from where the model's
files are: a built-in model name, a ``.gguf`` file (its ``tokenizer.chat_template`` metadata), a model folder
(``chat_template.jinja``, ``chat_template.json`` or ``tokenizer_config.json``), a ``tokenizer_config.json``, or a
``.jinja`` file.  :class:`ChatTemplate` renders it as transformers does (a sandboxed Jinja environment with loop
controls, the ``generation`` block, ``raise_exception``, ``strftime_now`` and transformers' ``tojson``;
``add_generation_prompt=True``; the model's BOS and EOS token texts), so the prompt sent is the one stored in the
run's samples.  A template that prints today's date (Llama 3.x) gives prompts, and so generation-cache keys,
that change from day to day, as with transformers.  A file that renders without the conversation in it (not
a chat template) is refused when loaded.

Does not: read templates from a model hub, or pick one of several named templates (the default one is used).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tusk.errors import MissingExtraError, TuskError


@dataclass(frozen=True)
class ChatTemplate:
    """A chat template and the special-token texts it may refer to."""

    source: str
    template: str
    bos_token: str = ""
    eos_token: str = ""

    def render(self, messages: Sequence[dict[str, str]], bos: bool = True) -> str:
        """The prompt for ``messages``; ``bos=False`` renders ``{{ bos_token }}`` as nothing (for servers that add
        the BOS token themselves; a template that writes its first turn marker literally keeps it)."""
        from jinja2 import TemplateError

        try:
            return _compiled(self.template).render(
                messages=list(messages), add_generation_prompt=True, bos_token=self.bos_token if bos else "",
                eos_token=self.eos_token, tools=None, documents=None,
            )
        except TemplateError as exc:
            raise TuskError(f"chat template from {self.source}: {exc}") from None


@functools.lru_cache(maxsize=8)
def _compiled(template: str) -> Any:
    """``template`` compiled once (a run renders it for every prompt)."""
    return _environment().from_string(template)


def _environment() -> Any:
    """A sandboxed Jinja environment with what chat templates use in transformers."""
    from datetime import datetime

    from jinja2 import TemplateError, nodes
    from jinja2.ext import Extension, loopcontrols
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    class Generation(Extension):
        """``{% generation %}...{% endgeneration %}`` marks the assistant's part; rendered as its body."""

        tags = frozenset({"generation"})

        def parse(self, parser: Any) -> Any:
            lineno = next(parser.stream).lineno
            body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
            return nodes.Scope(body, lineno=lineno)

    def raise_exception(message: str) -> None:
        raise TemplateError(message)

    def tojson(value: Any, ensure_ascii: bool = False, indent: int | None = None, separators: Any = None,
               sort_keys: bool = False) -> str:
        return json.dumps(value, ensure_ascii=ensure_ascii, indent=indent, separators=separators,
                          sort_keys=sort_keys)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[Generation, loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = lambda format: datetime.now().strftime(format)
    return env


def load_chat_template(source: str) -> ChatTemplate:
    """The chat template at ``source`` (see the module docstring), checked by rendering a probe conversation."""
    template = _load(source)
    probe = "tusk-probe-7f3a: what is 2 + 3?"
    if probe not in template.render([{"role": "user", "content": probe}]):
        raise TuskError(f"chat_template={source}: {template.source} is not a chat template (a rendered "
                        "conversation does not contain its message)")
    return template


def _load(source: str) -> ChatTemplate:
    """The chat template found at ``source`` (see the module docstring); a one-line error when there is none."""
    try:
        import jinja2  # noqa: F401 - rendering needs it; fail at load time, not at the first prompt
    except ImportError as exc:
        raise MissingExtraError("chat templates for served models", "openai", exc) from exc
    from tusk import models

    path = models.resolve_model_path(source) if source in models.BUILTIN_MODELS else Path(source).expanduser()
    if path.is_dir():
        for name in ("chat_template.jinja", "chat_template.json", "tokenizer_config.json"):
            if (path / name).is_file():
                return _from_file(path / name, path / "tokenizer_config.json")
        raise TuskError(f"chat_template={source}: the folder has no chat_template.jinja or tokenizer_config.json")
    if not path.is_file():
        raise TuskError(f"chat_template={source}: no such file, folder or built-in model")
    if path.suffix == ".gguf":
        return _from_gguf(path)
    return _from_file(path, path.with_name("tokenizer_config.json"))


def _from_file(path: Path, tokenizer_config: Path) -> ChatTemplate:
    try:
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".json":
            data = json.loads(text)
            template = data.get("chat_template") if isinstance(data, dict) else None
        else:
            template = text
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise TuskError(f"chat template {path}: cannot read it ({exc})") from None
    if isinstance(template, list):  # several named templates: take the default one
        named = {t.get("name"): t.get("template") for t in template if isinstance(t, dict)}
        template = named.get("default")
    if not isinstance(template, str) or not template.strip():
        raise TuskError(f"chat template {path}: no chat template in it")
    bos = eos = ""
    if tokenizer_config.is_file():
        try:
            config = json.loads(tokenizer_config.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise TuskError(f"{tokenizer_config}: cannot read it ({exc})") from None
        bos, eos = _token_text(config.get("bos_token")), _token_text(config.get("eos_token"))
    return ChatTemplate(str(path), template, bos, eos)


def _token_text(value: Any) -> str:
    """A special token as tokenizer_config.json writes it: a string or ``{"content": ...}``."""
    if isinstance(value, dict):
        value = value.get("content")
    return value if isinstance(value, str) else ""


def _from_gguf(path: Path) -> ChatTemplate:
    from tusk.backends.llamacpp import check_gguf
    from tusk.gguf_convert import read_gguf

    check_gguf(path)  # "is not a GGUF file" rather than numpy's words about dtypes
    reader = read_gguf(path, "reading a chat template from a GGUF file")

    def scalar(key: str) -> Any:
        field = reader.fields.get(key)
        return None if field is None else field.parts[field.data[0]]

    raw = scalar("tokenizer.chat_template")
    if raw is None:
        raise TuskError(f"{path}: the GGUF file holds no chat template (tokenizer.chat_template)")
    tokens = reader.fields.get("tokenizer.ggml.tokens")

    def token(key: str) -> str:
        index = scalar(key)
        if index is None or tokens is None or int(index[0]) >= len(tokens.data):
            return ""
        return bytes(tokens.parts[tokens.data[int(index[0])]]).decode("utf-8", "replace")

    template = bytes(raw).decode("utf-8", "replace")
    return ChatTemplate(str(path), template, token("tokenizer.ggml.bos_token_id"), token("tokenizer.ggml.eos_token_id"))
