"""Symbolic equivalence under a hard time limit, in a separate process that can be killed.

One persistent worker process (:mod:`tusk.grading._worker`) holds sympy and math-verify in memory; the
grader sends it one JSON request per check and waits for the answer with a deadline.  When the deadline
passes the worker is killed (SIGKILL) and a fresh one is started at once in the background, so the next
check does not wait for a hung one; the timed-out check is reported as ``timed_out=True`` and counts as
not equivalent.  The worker's memory is capped, so a runaway expression cannot take the machine down.

Guarantees:
- A check costs at most ``timeout`` seconds of the caller's time (plus the worker's start-up, at most
  ``startup_timeout``, which is paid once and not charged to any check).
- No SIGALRM and no threads: works from any thread and stops C-level loops inside sympy or GMP.
- Safe after ``fork``: a child process starts its own worker.
- Model text is never run as code: LaTeX goes through math-verify's parser, and Python-syntax answers reach
  sympy's ``parse_expr`` (which ends in ``eval``) only when they are plain arithmetic on numbers, short
  variable names and a few known functions.

Does not: decide what to compare (the strict grader calls it only for what plain string and number
comparison cannot settle, so common answers never pay for inter-process traffic).
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import selectors
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 3.0
DEFAULT_MEMORY_MB = 2048
STARTUP_TIMEOUT = 60.0


@dataclass(frozen=True)
class CheckResult:
    """What the worker said: ``value`` is its answer (None on timeout or error)."""

    value: dict[str, Any] | None
    timed_out: bool = False
    error: str | None = None
    seconds: float = 0.0


class SymbolicChecker:
    """A killable worker process answering ``equal`` and ``value`` requests (see :mod:`._worker`)."""

    def __init__(
        self,
        timeout: float = DEFAULT_TIMEOUT,
        memory_mb: int = DEFAULT_MEMORY_MB,
        startup_timeout: float = STARTUP_TIMEOUT,
    ):
        self.timeout = timeout
        self.memory_mb = memory_mb
        self.startup_timeout = startup_timeout
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._standby: subprocess.Popen[bytes] | None = None
        self._standby_ready = False
        self._ready = False
        self._buffer = b""
        self._pid = os.getpid()
        self.restarts = 0

    # -- process management -------------------------------------------------------------------------
    def _popen(self) -> subprocess.Popen[bytes]:
        src_root = str(Path(__file__).resolve().parents[2])
        env = dict(os.environ)
        env["PYTHONPATH"] = src_root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        args = [sys.executable, "-m", "tusk.grading._worker", str(self.memory_mb)]
        if threading.current_thread() is threading.main_thread():
            args.append("--die-with-parent")
        return subprocess.Popen(
            args,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
        )

    def _spawn(self) -> None:
        self._proc = self._popen()
        self._ready = False
        self._buffer = b""

    def _replace(self) -> None:
        """After a kill: promote the warm standby (started with the first worker) and start a new one, so a
        timeout does not make the next check wait for sympy to import."""
        standby, self._standby = self._standby, None
        if standby is not None and standby.poll() is None:
            self._proc, self._ready, self._buffer = standby, self._standby_ready, b""
            self._standby_ready = False
        else:
            self._spawn()
        self._standby = self._popen()

    def _kill(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        try:
            proc.kill()
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:  # pragma: no cover - a SIGKILLed process always exits
            log.warning("checker worker %s did not exit after SIGKILL", proc.pid)
        for stream in (proc.stdin, proc.stdout):
            try:
                stream and stream.close()
            except OSError:
                pass

    def _readline(self, deadline: float) -> bytes | None:
        assert self._proc is not None and self._proc.stdout is not None
        fd = self._proc.stdout.fileno()
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            with selectors.DefaultSelector() as sel:
                sel.register(fd, selectors.EVENT_READ)
                if not sel.select(left):
                    return None
            chunk = os.read(fd, 65536)
            if not chunk:
                raise EOFError("checker worker exited")
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line

    def _ensure_ready(self) -> None:
        if self._pid != os.getpid():  # forked: the workers belong to the parent
            self._proc, self._standby, self._pid, self._buffer = None, None, os.getpid(), b""
            self._standby_ready = False
        if self._proc is None or self._proc.poll() is not None:
            self._kill()
            if self._standby is not None and self._standby.poll() is None:
                self._replace()  # a worker died: the warm standby takes over
            else:
                self._spawn()
        if not self._ready:
            line = self._readline(time.monotonic() + self.startup_timeout)
            if line != b"ready":
                self._kill()
                raise RuntimeError(f"checker worker failed to start ({line!r})")
            self._ready = True
            if self._standby is None or self._standby.poll() is not None:
                self._standby = self._popen()  # warm spare: a timeout never waits for an import
                self._standby_ready = False

    def warm(self) -> None:
        """Start the worker and its standby and wait until both have imported sympy (call this before a
        long grading run, so that no check, not even the one after a first timeout, waits for an import)."""
        with self._lock:
            self._ensure_ready()
            standby = self._standby
            if standby is not None and not self._standby_ready and standby.stdout is not None:
                deadline = time.monotonic() + self.startup_timeout
                data = b""
                fd = standby.stdout.fileno()
                while b"\n" not in data and time.monotonic() < deadline:
                    with selectors.DefaultSelector() as sel:
                        sel.register(fd, selectors.EVENT_READ)
                        if not sel.select(deadline - time.monotonic()):
                            break
                    chunk = os.read(fd, 64)
                    if not chunk:
                        break
                    data += chunk
                self._standby_ready = data == b"ready\n"

    # -- requests -----------------------------------------------------------------------------------
    def request(self, payload: dict[str, Any], timeout: float | None = None) -> CheckResult:
        """Send one request; wait at most ``timeout`` seconds (default: the checker's limit).

        A worker found dead (crashed, or killed with the thread that started it) is replaced and the
        request sent once more, so a dead worker never turns into a wrong verdict by itself."""
        result = self._request_once(payload, timeout)
        if result.error is not None and result.error.startswith("checker worker died"):
            result = self._request_once(payload, timeout)
        return result

    def _request_once(self, payload: dict[str, Any], timeout: float | None) -> CheckResult:
        limit = self.timeout if timeout is None else timeout
        with self._lock:
            try:
                self._ensure_ready()
            except (RuntimeError, EOFError, OSError) as exc:
                return CheckResult(None, error=f"checker unavailable: {exc}")
            assert self._proc is not None and self._proc.stdin is not None
            start = time.monotonic()
            try:
                self._proc.stdin.write((json.dumps(payload) + "\n").encode())
                self._proc.stdin.flush()
                line = self._readline(start + limit)
            except (EOFError, OSError, BrokenPipeError) as exc:
                self._kill()
                self.restarts += 1
                return CheckResult(
                    None, error=f"checker worker died: {exc}", seconds=time.monotonic() - start
                )
            seconds = time.monotonic() - start
            if line is None:
                log.info("symbolic check passed %.1fs; killing the worker", limit)
                self._kill()
                self.restarts += 1
                self._replace()
                return CheckResult(None, timed_out=True, seconds=seconds)
            value = json.loads(line)
            if "error" in value:
                return CheckResult(None, error=value["error"], seconds=seconds)
            return CheckResult(value, seconds=seconds)

    def equal(self, gold: str, pred: str, timeout: float | None = None) -> CheckResult:
        return self.request({"op": "equal", "a": gold, "b": pred}, timeout)

    def value(self, text: str, timeout: float | None = None) -> CheckResult:
        return self.request({"op": "value", "a": text}, timeout)

    def close(self) -> None:
        with self._lock:
            if self._pid != os.getpid():  # a forked child: the workers belong to the parent, leave them
                self._proc = self._standby = None
                return
            self._kill()
            standby, self._standby = self._standby, None
            if standby is not None:
                self._proc = standby
                self._kill()


_SHARED: SymbolicChecker | None = None
_SHARED_LOCK = threading.Lock()


def shared_checker() -> SymbolicChecker:
    """The process-wide checker (started on first use, stopped at exit)."""
    global _SHARED
    with _SHARED_LOCK:
        if _SHARED is None:
            _SHARED = SymbolicChecker()
            atexit.register(_SHARED.close)
        return _SHARED
