"""One-off execution: :func:`run_program` and :func:`isolation_report`.

Both use one shared warm worker, started on first use and stopped at interpreter exit, so repeated calls
cost a fork, not an interpreter start.  Calls from several threads are safe and run one at a time; use
:class:`~tusk.execution.pool.ProgramPool` for throughput.
"""

from __future__ import annotations

import atexit
import threading
from typing import Any

from tusk.execution.limits import DEFAULT_LIMITS, SandboxLimits
from tusk.execution.pool import ProgramPool
from tusk.types import ExecutionResult

_SHARED: list[ProgramPool] = []
_SHARED_LOCK = threading.Lock()


def _shared_pool() -> ProgramPool:
    with _SHARED_LOCK:
        if not _SHARED:
            _SHARED.append(ProgramPool(workers=1))
            atexit.register(_close_shared)
        return _SHARED[0]


def _close_shared() -> None:
    with _SHARED_LOCK:
        while _SHARED:
            _SHARED.pop().close()


def run_program(code: str, limits: SandboxLimits = DEFAULT_LIMITS) -> ExecutionResult:
    """Run ``code`` once in a fresh sandboxed process; see the package docstring for what is protected."""
    return _shared_pool().run(code, limits)


def isolation_report() -> dict[str, Any]:
    """What confines programs on this machine: ``{mechanism: {"active": bool, "detail": str}}``."""
    return dict(_shared_pool().report.get("report", {}))
