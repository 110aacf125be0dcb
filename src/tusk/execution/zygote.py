"""The warm worker ("zygote"): imports the math stack once, then forks one fresh child per program.

Started by the harness as ``python -s -c ... main(REQ_FD RESP_FD ROOT)`` with a scrubbed environment.  It
enters private namespaces (``isolation.prepare_worker``), imports and warms sympy, numpy, math,
fractions, itertools and friends, freezes the heap (``gc.freeze``) so forks share it, then serves one
request at a time without ever reading one itself: it forks a one-shot *runner* and waits for it to
exit.  The runner reads the request, forks the program's child, confines it
(``isolation.enter_sandbox``), runs the program there, collects its stdout/stderr through capped pipes
until it exits or its wall-clock deadline passes, kills the child's process group when needed, reaps
it, empties the work area, sends one result and exits; the worker then forks the next runner.

Guarantees: a program never runs in the worker itself, never in a reused interpreter, and never sees the
worker's descriptors.  Nothing of an earlier program is in a later one's address space: the worker
never holds a program's code or output (only runners do, and each runner exits after its one program),
so a program's fork contains the pristine worker plus its own request, nothing else, and its address
space limit does not depend on what ran before.  One request gets exactly one answer, sent only after the
work area is empty again (emptied without recursion, so no directory tree can crash the runner; when it
cannot be emptied the answer carries ``retire`` and the worker exits, so the next program gets a fresh
worker and is not blamed); a runner that fails ends the worker too, and the harness sees the end of the
stream.  The worker, its runner and every program die with the harness: PR_SET_PDEATHSIG (SIGKILL) in
each (the program may not clear it), and a hang-up of the request pipe kills the running program and
ends the worker.

The program runs as Python runs a script: as the ``__main__`` module (``sys.modules["__main__"]``),
with SIGINT raising KeyboardInterrupt, and when its code ends (normally, by an exception or by
``sys.exit``) its non-daemon threads are joined and its atexit handlers run, within its deadline (a
thread that never ends gives ``timeout``, as ``python prog.py`` would hang).  Then the child exits at
once: daemon threads die with it, and module globals are not finalized (no ``__del__`` at exit).
``os._exit`` ends it at once, as in Python.

How a status is decided.  Only the worker's own observations count, never an exit code or text the
program chose:

1. ``timeout``: the worker's wall-clock deadline passed (it killed the group); or the kernel killed
   the child at RLIMIT_CPU, which the worker checks in the child's rusage (CPU seconds >= the limit).
2. ``output_limit``: the worker counted more than ``max_output`` bytes and killed the group.
3. ``killed``: the child's status channel (a pipe at descriptor 3) did not say "started" before any
   program code ran: the sandbox set-up failed (its reason is on the channel) or the child died first.
4. ``error``: the program died by any other signal (SIGSEGV, or one it sent itself), or exited with a
   code other than 0 (an uncaught exception: the last stderr line is the error; ``sys.exit(n)``; any
   ``os._exit(n)``, n != 0, whatever n is).
5. ``memory``: the program ended with an uncaught MemoryError, which the wrapper reports on the status
   channel (the program's own ``raise MemoryError`` counts, as it would anywhere).  Writing to
   descriptor 3 itself lets a program claim ``memory`` instead of ``error``, nothing else.
6. ``ok``: exit status 0.
"""

from __future__ import annotations

import atexit
import builtins
import gc
import io
import os
import select
import signal
import sys
import tempfile
import time
import traceback
import types
from typing import Any, NoReturn

from tusk.execution import _linux, protocol, seccomp
from tusk.execution.isolation import STATUS_FD, Plan, confine_worker, enter_sandbox, make_plan, prepare_worker
from tusk.execution.workarea import wipe as _wipe

EXIT_OK, EXIT_ERROR, EXIT_SETUP = 0, 101, 103
_STARTED, _SETUP_FAILED, _MEMORY = b"R", b"S", b"M"  # messages on the child's status channel
PRELOAD = (
    "math",
    "cmath",
    "fractions",
    "decimal",
    "itertools",
    "functools",
    "collections",
    "statistics",
    "random",
    "re",
    "datetime",
    "string",
    "heapq",
    "bisect",
    "operator",
    "numpy",
    "sympy",
)


def main(argv: list[str]) -> None:
    request_fd, response_fd, root = int(argv[0]), int(argv[1]), argv[2]
    _linux.prctl(_linux.PR_SET_PDEATHSIG, signal.SIGKILL)  # tusk dies (even SIGKILL): so do we
    if len(argv) > 3 and os.getppid() != int(argv[3]):
        return  # the harness died before the line above took effect
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the harness decides when we stop
    report, warnings = prepare_worker(root)
    os.chdir(root)
    _preload()
    plan = make_plan(report, warnings)
    if plan.seccomp:
        seccomp.prepare()
    gc.collect()
    gc.freeze()
    huge = _linux.collapse_to_huge_pages()  # faster fork and exit; reads /proc, so before Landlock
    plan.report["huge_pages"] = {
        "active": huge > 0,
        "detail": f"{huge >> 20} MiB of the worker on 2 MiB pages",
    }
    confine_worker(plan, root)
    protocol.send(
        response_fd,
        {
            "ready": True,
            "pid": os.getpid(),
            "report": plan.report,
            "warnings": list(plan.warnings),
            "worker_size": plan.worker_size,
        },
    )
    zygote = os.getpid()
    counter = 0
    while True:  # never reads a request itself: each runner reads its own, after the fork
        counter += 1
        runner = os.fork()
        if runner == 0:  # pragma: no cover - runs in the runner
            _runner(request_fd, response_fd, root, os.path.join(root, f"p{counter}"), plan, zygote)
        _, status = os.waitpid(runner, 0)
        if not (os.WIFEXITED(status) and os.WEXITSTATUS(status) == _RUNNER_NEXT):
            return  # the stream ended, the work area is dirty, or the runner failed: the harness sees EOF


_RUNNER_NEXT, _RUNNER_END, _RUNNER_FAILED = 0, 1, 2  # a runner's exit code: what the worker does next


def _runner(
    request_fd: int, response_fd: int, root: str, workdir: str, plan: Plan, zygote: int
) -> NoReturn:  # pragma: no cover - runs in the runner
    """Serve one request in a one-shot fork of the worker, then exit (see the module docstring)."""
    code = _RUNNER_FAILED
    try:
        _linux.prctl(_linux.PR_SET_PDEATHSIG, signal.SIGKILL)  # the worker dies: so do we
        if os.getppid() != zygote:
            code = _RUNNER_END
            return
        request = protocol.recv(request_fd)
        if request is None:
            code = _RUNNER_END
            return
        try:
            answer = run_one(request, plan, workdir, request_fd)
        except _Abandoned:
            code = _RUNNER_END
            return
        clean = _wipe(root)
        if not clean:  # never hand a dirty work area to the next program: ask to be replaced
            answer["retire"] = True
        protocol.send(response_fd, answer)
        code = _RUNNER_NEXT if clean else _RUNNER_END
    except BaseException:  # noqa: BLE001 - reported on the worker's stderr; the worker then exits
        traceback.print_exc()
        sys.stderr.flush()
    finally:
        os._exit(code)


class _Abandoned(Exception):
    """The harness closed the request pipe (it exited or died) while a program ran."""


def _preload() -> None:
    import importlib

    for name in PRELOAD:
        importlib.import_module(name)
    import numpy as np
    import sympy as sp

    x, y = sp.symbols("x y")
    sp.solve([x + y - 10, x - y - 2], [x, y])
    sp.simplify((x**2 - 1) / (x - 1))
    sp.Rational(3, 4) + sp.sqrt(8)
    sp.factorint(360)
    sp.N(sp.pi, 10)
    float(np.linalg.solve(np.array([[2.0, 1.0], [1.0, 3.0]]), np.array([3.0, 5.0])).sum())


def run_one(request: dict[str, Any], plan: Plan, workdir: str, request_fd: int = -1) -> dict[str, Any]:
    """Fork, confine and supervise one program; returns the result as a plain dict.

    Raises :class:`_Abandoned` (after killing and reaping the program) when ``request_fd`` hangs up.
    """
    code = request["code"]
    timeout = float(request["timeout"])
    max_output = int(request["max_output"])
    os.mkdir(workdir, 0o700)
    if plan.uid is not None:
        os.chown(workdir, plan.uid, plan.uid)
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    status_r, status_w = os.pipe()
    parent = os.getpid()
    start = time.monotonic()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        _child(code, plan, workdir, timeout, int(request["memory_mb"]), (out_w, err_w, status_w), parent)
    for fd in (out_w, err_w, status_w):
        os.close(fd)
    try:
        reason, outputs, end = _supervise(pid, out_r, err_r, start + timeout, max_output, request_fd)
        _, wait_status, usage = os.wait4(pid, 0)
        end = end or time.monotonic()
        channel = _read_all(status_r) if reason != "abandoned" else b""
    finally:
        for fd in (out_r, err_r, status_r):
            os.close(fd)
    if reason == "abandoned":
        raise _Abandoned
    stdout = bytes(outputs[0]).decode("utf-8", "replace")
    stderr = bytes(outputs[1]).decode("utf-8", "replace")
    cpu = usage.ru_utime + usage.ru_stime
    status, error = _classify(reason, wait_status, channel, cpu, stderr, timeout, max_output)
    if error is not None and len(error) > protocol.ERROR_CHARS:
        error = error[: protocol.ERROR_CHARS - 3] + "..."
    return {
        "status": status,
        "stdout": stdout,
        "stderr": stderr,
        "seconds": round(end - start, 6),
        "error": error,
    }


def _read_all(fd: int, limit: int = 1 << 16) -> bytes:
    """What the child wrote on its status channel (every writer is gone once it is reaped)."""
    data = bytearray()
    while len(data) < limit:
        chunk = os.read(fd, limit - len(data))
        if not chunk:
            break
        data += chunk
    return bytes(data)


def _supervise(
    pid: int, out_r: int, err_r: int, deadline: float, max_output: int, request_fd: int = -1
) -> tuple[str | None, tuple[bytearray, bytearray], float | None]:
    """Collect output until the child has exited and both pipes are closed, or a limit is hit.

    The reason is None (the child ended by itself), ``timeout``, ``output_limit`` or ``abandoned``
    (``request_fd`` hung up: the harness is gone); for the last three the child's group is killed.
    """
    buffers = {out_r: bytearray(), err_r: bytearray()}
    poller = select.poll()
    for fd in buffers:
        poller.register(fd, select.POLLIN)
    pidfd = os.pidfd_open(pid)
    poller.register(pidfd, select.POLLIN)
    if request_fd >= 0:
        poller.register(request_fd, select.POLLHUP | select.POLLERR)
    open_pipes, exited, total, reason, end = set(buffers), False, 0, None, None
    try:
        while open_pipes or not exited:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                reason = "timeout"
                break
            for fd, event in poller.poll(max(1, int(remaining * 1000) + 1)):
                if fd == request_fd:
                    if event & (select.POLLHUP | select.POLLERR):
                        reason = "abandoned"
                    continue
                if fd == pidfd:
                    exited, end = True, time.monotonic()
                    poller.unregister(pidfd)
                    continue
                data = os.read(fd, 1 << 16)
                if not data:
                    poller.unregister(fd)
                    open_pipes.discard(fd)
                    continue
                room = max_output - total
                buffers[fd] += data[:room]
                total += min(len(data), room)
                if len(data) > room:
                    reason = "output_limit"
            if reason:
                break
        if reason:
            end = time.monotonic()
            for kill in (os.killpg, os.kill):
                try:
                    kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
    finally:
        os.close(pidfd)
    return reason, (buffers[out_r], buffers[err_r]), end


def _classify(
    reason: str | None,
    wait_status: int,
    channel: bytes,
    cpu_seconds: float,
    stderr: str,
    timeout: float,
    max_output: int,
) -> tuple[str, str | None]:
    """The status, from what the worker observed; see the module docstring for the rules."""
    if reason == "timeout":
        return "timeout", f"timed out after {timeout:g} s"
    if reason == "output_limit":
        return "output_limit", f"output exceeded {max_output} bytes"
    if not channel.startswith(_STARTED):
        detail = channel[1:].decode("utf-8", "replace").strip() if channel.startswith(_SETUP_FAILED) else ""
        return "killed", f"sandbox setup failed: {detail or 'the child died before the program started'}"
    if os.WIFSIGNALED(wait_status):
        sig = os.WTERMSIG(wait_status)
        if sig in (signal.SIGKILL, signal.SIGXCPU) and cpu_seconds >= cpu_limit(timeout) - 0.05:
            return "timeout", f"CPU time limit exceeded ({cpu_seconds:.1f} s of CPU)"
        name = signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else str(sig)
        return "error", f"killed by signal {name}"
    code = os.WEXITSTATUS(wait_status)
    if code == EXIT_OK:
        return "ok", None
    if code == EXIT_ERROR and _MEMORY in channel[len(_STARTED) :]:
        return "memory", "MemoryError: memory limit exceeded"
    if code == EXIT_ERROR:
        last_line = next((line.strip() for line in reversed(stderr.splitlines()) if line.strip()), None)
        return "error", last_line or "error"
    return "error", f"exit code {code}"


def cpu_limit(timeout: float) -> int:
    """RLIMIT_CPU of a program with this wall-clock ``timeout`` (a backstop for multi-threaded spinning)."""
    return int(timeout) + 2


def _child(
    code: str,
    plan: Plan,
    workdir: str,
    timeout: float,
    memory_mb: int,
    fds: tuple[int, int, int],
    parent: int,
) -> NoReturn:  # pragma: no cover - runs in the child
    real_exit = os._exit
    try:
        enter_sandbox(plan, workdir, timeout, memory_mb, *fds, parent)
        sys.stdin = sys.__stdin__ = open(0, encoding="utf-8", closefd=False)  # noqa: SIM115
        sys.stdout = sys.__stdout__ = io.TextIOWrapper(
            open(1, "wb", closefd=False),  # noqa: SIM115
            encoding="utf-8",
            line_buffering=True,
        )
        sys.stderr = sys.__stderr__ = io.TextIOWrapper(
            open(2, "wb", closefd=False),  # noqa: SIM115
            encoding="utf-8",
            errors="backslashreplace",
            line_buffering=True,
        )
        sys.argv = ["<program>"]
        tempfile.tempdir = workdir

        def flushing_exit(status: int) -> NoReturn:
            _flush()
            real_exit(status)

        os._exit = flushing_exit
    except BaseException as exc:  # noqa: BLE001 - any setup failure fails closed
        try:
            os.write(STATUS_FD, _SETUP_FAILED + repr(exc).encode("utf-8", "replace"))
        finally:
            real_exit(EXIT_SETUP)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # the worker ignores it; Python does not
    os.write(STATUS_FD, _STARTED)  # before any of the program's code: it cannot fake a setup failure
    status = _execute(code)
    _shut_down()
    _flush()
    real_exit(status)


def _shut_down() -> None:  # pragma: no cover - runs in the child
    """What Python does once the main module has ended: join non-daemon threads, then run atexit handlers.

    Errors are reported on stderr as Python reports them and do not change the exit status; a thread that
    never ends keeps the program running until its deadline (status ``timeout``).
    """
    threading = sys.modules.get("threading")
    if threading is not None:
        try:
            threading._shutdown()
        except BaseException as exc:  # noqa: BLE001 - e.g. KeyboardInterrupt while waiting
            _write_stderr("Exception ignored on threading shutdown:\n" + _format(exc))
    atexit._run_exitfuncs()  # prints a handler's exception itself and goes on with the others


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:  # noqa: BLE001, S110 - a program may have broken its own streams
            pass


def _execute(code: str) -> int:  # pragma: no cover - runs in the child
    """Run ``code`` as the ``__main__`` module; returns the exit status (the traceback is on stderr)."""
    module = types.ModuleType("__main__")
    module.__file__ = "<program>"
    module.__builtins__ = builtins  # type: ignore[attr-defined]
    sys.modules["__main__"] = module  # pickle, typing and friends look classes up there
    namespace = module.__dict__
    try:
        exec(compile(code, "<program>", "exec"), namespace)  # noqa: S102 - the sandboxed child
        return EXIT_OK
    except SystemExit as exc:
        if exc.code is None or exc.code == 0:
            return EXIT_OK
        _write_stderr(f"SystemExit: {exc.code}\n")
        return EXIT_ERROR
    except MemoryError:
        namespace.clear()
        try:
            os.write(STATUS_FD, _MEMORY)
        except OSError:
            pass
        _write_stderr("MemoryError: memory limit exceeded\n")
        return EXIT_ERROR
    except BaseException as exc:  # noqa: BLE001 - every failure of the program is reported
        _write_stderr(_format(exc, skip_first=True))
        return EXIT_ERROR


def _format(exc: BaseException, skip_first: bool = False) -> str:
    """The traceback of ``exc`` (without the wrapper's own frame when ``skip_first``)."""
    try:
        tb = exc.__traceback__.tb_next if skip_first and exc.__traceback__ else exc.__traceback__
        return "".join(traceback.format_exception(type(exc), exc, tb))
    except BaseException:  # noqa: BLE001 - formatting can fail when memory is exhausted
        return f"{type(exc).__name__}\n"


def _write_stderr(text: str) -> None:
    _flush()
    try:
        os.write(2, text.encode("utf-8", "backslashreplace"))
    except OSError:
        pass


if __name__ == "__main__":  # pragma: no cover
    main(sys.argv[1:])
