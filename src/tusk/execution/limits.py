"""The limits every sandboxed program runs under (defaults from the paper: 5 s per program)."""

from __future__ import annotations

import math
from dataclasses import dataclass

MAX_TIMEOUT = 86400.0
MAX_MEMORY_MB = 1 << 22  # 4 TiB: anything larger is a typo, and must still fit an rlimit
MAX_OUTPUT = 16 << 20  # every answer, escaped, must fit a protocol frame


@dataclass(frozen=True)
class SandboxLimits:
    """Per-program limits.

    ``memory_mb`` is counted above the warm worker's own size (the program's address space may grow by
    this much); ``max_output`` caps stdout and stderr together: a program that prints more is killed,
    gets status ``output_limit`` and keeps the head of its output.
    """

    timeout: float = 5.0
    """Wall-clock seconds before the program (its whole process group) is killed: status ``timeout``."""
    memory_mb: int = 1024
    """Address-space allowance in MiB above the warm worker's size; beyond it: status ``memory``."""
    max_output: int = 1 << 20
    """Bytes of stdout + stderr kept; more: status ``output_limit``, the head is kept."""

    def __post_init__(self) -> None:
        timeout = self.timeout
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not math.isfinite(timeout):
            raise ValueError(f"SandboxLimits.timeout must be a finite number of seconds, got {timeout!r}")
        if not 0 < timeout <= MAX_TIMEOUT:
            raise ValueError(f"SandboxLimits.timeout must be > 0 and <= {MAX_TIMEOUT:g} s, got {timeout!r}")
        for name, low, high in (("memory_mb", 1, MAX_MEMORY_MB), ("max_output", 0, MAX_OUTPUT)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise ValueError(
                    f"SandboxLimits.{name} must be an integer from {low} to {high}, got {value!r}"
                )


DEFAULT_LIMITS = SandboxLimits()
