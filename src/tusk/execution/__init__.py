"""Run untrusted model-written programs safely and fast (placeholder docstring, replaced below)."""

from tusk.execution.limits import SandboxLimits
from tusk.execution.pool import ProgramPool
from tusk.execution.sandbox import isolation_report, run_program

__all__ = ["ProgramPool", "SandboxLimits", "isolation_report", "run_program"]
