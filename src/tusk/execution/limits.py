"""The limits every sandboxed program runs under (defaults from the paper: 5 s per program)."""

from __future__ import annotations

from dataclasses import dataclass


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
        if not self.timeout > 0:
            raise ValueError(f"SandboxLimits.timeout must be > 0, got {self.timeout!r}")
        if self.memory_mb < 1:
            raise ValueError(f"SandboxLimits.memory_mb must be >= 1, got {self.memory_mb!r}")
        if self.max_output < 0:
            raise ValueError(f"SandboxLimits.max_output must be >= 0, got {self.max_output!r}")


DEFAULT_LIMITS = SandboxLimits()
