"""The one interface every generation backend implements.

A backend turns :class:`~tusk.types.Request` objects into :class:`~tusk.types.Generation` objects.  It may
batch, reorder or run requests concurrently, but it yields exactly one Generation per request, carrying the
request's id, and it yields each as soon as it is finished so callers can store results as they go.
"""

from __future__ import annotations

import abc
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, Literal

from tusk.errors import TuskError
from tusk.types import Generation, Request

if TYPE_CHECKING:
    from typing_extensions import Self

PromptStyle = Literal["alpaca", "chat"]


class Backend(abc.ABC):
    """Base class for backends. Subclasses implement :meth:`generate`; the rest has defaults."""

    #: registry name of the backend ("llamacpp", "hf", "openai", "vllm", ...)
    kind: str = ""
    #: prompt style that suits the model when the user does not choose one (instruct models: "chat")
    preferred_prompt: PromptStyle = "alpaca"

    def __init__(self, model: str):
        self.model = model

    @abc.abstractmethod
    def generate(self, requests: Sequence[Request]) -> Iterator[Generation]:
        """Complete every request; yield one Generation per request as soon as it is done (any order)."""

    def chat_prompt(self, messages: Sequence[dict[str, str]]) -> str | None:
        """Render ``messages`` with the model's chat template, ending with the assistant turn's opening.

        Returns None when the model has no chat template.
        """
        return None

    def describe(self) -> dict[str, Any]:
        """What identifies this model and backend in a run's config (paths, hashes, versions)."""
        return {"backend": self.kind, "model": self.model}

    def preferred_chunk(self) -> int:
        """How many problems ``tusk eval`` hands over at once when ``--chunk-size`` is not given: enough for
        this backend to fill its batches or its concurrent requests (results are still stored one by one)."""
        return 16

    def close(self) -> None:
        """Release the model and any worker threads or connections."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


#: what a redacted secret option is saved and shown as
REDACTED = "***"
#: words that make an option name a secret (as a whole ``_``-separated part: ``max_tokens`` is no secret)
_SECRET_WORDS = frozenset({"key", "apikey", "token", "secret", "password", "passwd", "credential", "credentials"})


def is_secret_option(name: str) -> bool:
    """Whether a backend option holds a credential (``api_key``, ``hf_token``, ``client_secret``, ...): such an
    option is never saved, printed, compared between runs or part of a generation-cache key."""
    parts = str(name).lower().replace("-", "_").split("_")
    return parts[-1] == "key" or any(part in _SECRET_WORDS for part in parts)


def redacted_options(options: dict[str, Any]) -> dict[str, Any]:
    """``options`` with the values of secret options replaced by :data:`REDACTED`."""
    return {k: REDACTED if is_secret_option(k) else v for k, v in options.items()}


def bool_option(backend: str, option: str, value: Any) -> bool:
    """A yes/no backend option as YAML or the CLI gives it: a bool, 0/1, or true/false/yes/no/on/off."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = value.strip().lower()
        if word in ("true", "yes", "on", "1"):
            return True
        if word in ("false", "no", "off", "0", ""):
            return False
    raise TuskError(f"{backend} backend: option {option}={value!r} is not a boolean (use true or false)")


def int_option(backend: str, option: str, value: Any, minimum: int | None = None) -> int:
    """An integer backend option (YAML gives ints; the digits of a string are accepted too)."""
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise TuskError(f"{backend} backend: option {option}={value!r} is not an integer")
    if minimum is not None and value < minimum:
        raise TuskError(f"{backend} backend: option {option}={value} must be at least {minimum}")
    return value
