"""Work-arounds for the libraries tusk runs on, kept in one place so they can go when the libraries change."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator


@contextlib.contextmanager
def quiet_peft_deprecations() -> Iterator[None]:
    """peft asks transformers 5 a deprecated question (``is_gradient_checkpointing``) when it wraps, loads or
    saves an adapter; the FutureWarning is not the user's concern."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
        yield
