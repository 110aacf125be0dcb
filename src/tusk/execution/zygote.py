"""The warm worker ("zygote"): imports the math stack once, then forks one fresh child per program.

Started by the harness as ``python -s -c ... main(REQ_FD RESP_FD ROOT)`` with a scrubbed environment.  It
enters private namespaces (``isolation.prepare_worker``), imports and warms sympy, numpy, math,
fractions, itertools and friends, freezes the heap (``gc.freeze``) so forks share it, then answers one
request at a time: fork, confine the child (``isolation.enter_sandbox``), run the program there, collect
its stdout/stderr through capped pipes until it exits or its wall-clock deadline passes, kill the
child's process group when needed, reap it, send one result, and empty the work area (a worker that
cannot empty it exits and is replaced).

Guarantees: a program never runs in the worker itself, never in a reused interpreter, and never sees the
worker's descriptors; one request gets exactly one answer.  Exit codes of the child: 0 ok,
101 error (the last stderr line is the error), 102 MemoryError, 103 sandbox setup failed.
"""

from __future__ import annotations

import builtins
import gc
import io
import os
import select
import shutil
import signal
import sys
import tempfile
import time
import traceback
from typing import Any, NoReturn

from tusk.execution import _linux, protocol, seccomp
from tusk.execution.isolation import Plan, confine_worker, enter_sandbox, make_plan, prepare_worker

EXIT_OK, EXIT_ERROR, EXIT_MEMORY, EXIT_SETUP = 0, 101, 102, 103
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
    counter = 0
    while True:
        request = protocol.recv(request_fd)
        if request is None:
            return
        counter += 1
        protocol.send(response_fd, run_one(request, plan, os.path.join(root, f"p{counter}")))
        if not _wipe(root):  # never hand a dirty work area to the next program: exit, get replaced
            return


def _wipe(root: str) -> bool:
    """Remove everything the last program left under ``root``; False if anything remains."""
    for entry in os.scandir(root):
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path, ignore_errors=True)
        else:
            try:
                os.unlink(entry.path)
            except OSError:
                pass
    return not any(os.scandir(root))


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


def run_one(request: dict[str, Any], plan: Plan, workdir: str) -> dict[str, Any]:
    """Fork, confine and supervise one program; returns the result as a plain dict."""
    code = request["code"]
    timeout = float(request["timeout"])
    max_output = int(request["max_output"])
    os.mkdir(workdir, 0o700)
    if plan.uid is not None:
        os.chown(workdir, plan.uid, plan.uid)
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    start = time.monotonic()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        _child(code, plan, workdir, timeout, int(request["memory_mb"]), out_w, err_w)
    os.close(out_w)
    os.close(err_w)
    try:
        reason, outputs, end = _supervise(pid, out_r, err_r, start + timeout, max_output)
        _, wait_status = os.waitpid(pid, 0)
        end = end or time.monotonic()
    finally:
        os.close(out_r)
        os.close(err_r)
    stdout = bytes(outputs[0]).decode("utf-8", "replace")
    stderr = bytes(outputs[1]).decode("utf-8", "replace")
    status, error = _classify(reason, wait_status, stderr, timeout, max_output)
    return {
        "status": status,
        "stdout": stdout,
        "stderr": stderr,
        "seconds": round(end - start, 6),
        "error": error,
    }


def _supervise(
    pid: int, out_r: int, err_r: int, deadline: float, max_output: int
) -> tuple[str | None, tuple[bytearray, bytearray], float | None]:
    """Collect output until the child has exited and both pipes are closed, or a limit is hit."""
    buffers = {out_r: bytearray(), err_r: bytearray()}
    poller = select.poll()
    for fd in buffers:
        poller.register(fd, select.POLLIN)
    pidfd = os.pidfd_open(pid)
    poller.register(pidfd, select.POLLIN)
    open_pipes, exited, total, reason, end = set(buffers), False, 0, None, None
    try:
        while open_pipes or not exited:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                reason = "timeout"
                break
            for fd, _event in poller.poll(max(1, int(remaining * 1000) + 1)):
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
    reason: str | None, wait_status: int, stderr: str, timeout: float, max_output: int
) -> tuple[str, str | None]:
    last_line = next((line.strip() for line in reversed(stderr.splitlines()) if line.strip()), None)
    if reason == "timeout":
        return "timeout", f"timed out after {timeout:g} s"
    if reason == "output_limit":
        return "output_limit", f"output exceeded {max_output} bytes"
    if os.WIFSIGNALED(wait_status):
        sig = os.WTERMSIG(wait_status)
        if sig == signal.SIGXCPU:
            return "timeout", "CPU time limit exceeded"
        if "MemoryError" in stderr[-4096:]:
            return "memory", "MemoryError (interpreter aborted)"
        return "killed", f"killed by signal {signal.Signals(sig).name}"
    code = os.WEXITSTATUS(wait_status)
    if code == EXIT_OK:
        return "ok", None
    if code == EXIT_ERROR:
        return "error", last_line or "error"
    if code == EXIT_MEMORY:
        return "memory", "MemoryError: memory limit exceeded"
    if code == EXIT_SETUP:
        return "killed", last_line or "sandbox setup failed"
    return "error", f"exit code {code}"


def _child(
    code: str, plan: Plan, workdir: str, timeout: float, memory_mb: int, out_w: int, err_w: int
) -> NoReturn:  # pragma: no cover - runs in the child
    real_exit = os._exit
    try:
        enter_sandbox(plan, workdir, timeout, memory_mb, out_w, err_w)
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
            os.write(2, f"sandbox setup failed: {exc!r}\n".encode())
        finally:
            real_exit(EXIT_SETUP)
    status = _execute(code)
    _flush()
    real_exit(status)


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:  # noqa: BLE001, S110 - a program may have broken its own streams
            pass


def _execute(code: str) -> int:  # pragma: no cover - runs in the child
    namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": builtins, "__file__": "<program>"}
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
        _write_stderr("MemoryError: memory limit exceeded\n")
        return EXIT_MEMORY
    except BaseException as exc:  # noqa: BLE001 - every failure of the program is reported
        try:
            text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__.tb_next))
        except BaseException:  # noqa: BLE001 - formatting can fail when memory is exhausted
            text = f"{type(exc).__name__}\n"
        _write_stderr(text)
        return EXIT_ERROR


def _write_stderr(text: str) -> None:
    _flush()
    try:
        os.write(2, text.encode("utf-8", "backslashreplace"))
    except OSError:
        pass


if __name__ == "__main__":  # pragma: no cover
    main(sys.argv[1:])
