"""``tusk exec`` killed or interrupted mid-run: no worker or program outlives it, and it does not wait.

Real subprocesses: the CLI runs a program that would sleep for ten minutes; the test signals the CLI
once that program is running, then checks every process it had started is gone.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

import pytest

from tusk.execution.pool import _remove_stale_roots

SLEEPER = json.dumps({"id": 1, "code": "import time\ntime.sleep(600)\nprint('woke')"}) + "\n"


def _descendants(pid: int) -> set[int]:
    found: set[int] = set()
    todo = [pid]
    while todo:
        current = todo.pop()
        try:
            tasks = os.listdir(f"/proc/{current}/task")
        except OSError:
            continue
        for tid in tasks:
            try:
                with open(f"/proc/{current}/task/{tid}/children") as fh:
                    children = {int(c) for c in fh.read().split()}
            except OSError:
                continue
            todo.extend(children - found)
            found |= children
    return found


def _children(pid: int) -> set[int]:
    found: set[int] = set()
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as fh:
                found |= {int(c) for c in fh.read().split()}
        except OSError:
            continue
    return found


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _start_and_wait_for_the_program() -> tuple[subprocess.Popen, set[int]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tusk.cli", "exec", "--workers", "1", "--timeout", "900", "-"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    proc.stdin.write(SLEEPER.encode())
    proc.stdin.close()
    for _ in range(1200):  # the worker starts (a few seconds), then forks the program
        # tusk -> worker -> runner -> program: three levels below tusk once the program runs
        if any(_descendants(runner) for worker in _children(proc.pid) for runner in _children(worker)):
            return proc, _descendants(proc.pid)
        time.sleep(0.05)
    proc.kill()
    pytest.fail("the program never started")


def _reap(proc: subprocess.Popen | None, tree: set[int]) -> list[int]:
    """Wait (bounded) for every process of ``tree`` to go; kill and return those that stayed."""
    for _ in range(300):
        if not any(_alive(pid) for pid in tree):
            return []
        time.sleep(0.05)
    left = [pid for pid in tree if _alive(pid)]
    for pid in left:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    return left


@pytest.mark.slow
def test_sigkill_of_tusk_takes_workers_and_programs_with_it():
    proc, tree = _start_and_wait_for_the_program()
    proc.kill()
    proc.wait()
    assert _reap(proc, tree) == []
    base = tempfile.gettempdir()
    left = [name for name in os.listdir(base) if name.startswith(f"tusk-sandbox-{proc.pid}-")]
    assert left  # its work-area directory (empty) outlived it; the next pool to start removes it
    _remove_stale_roots()
    assert not [name for name in os.listdir(base) if name.startswith(f"tusk-sandbox-{proc.pid}-")]


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_interrupt_stops_running_programs_instead_of_waiting(sig):
    proc, tree = _start_and_wait_for_the_program()
    proc.send_signal(sig)
    try:
        code = proc.wait(timeout=60)  # the program would sleep for 600 s
    finally:
        proc.kill()
        left = _reap(proc, tree)
    assert code == (128 + signal.SIGTERM if sig == signal.SIGTERM else 130)
    assert left == []
    assert proc.stdout.read() == b""
    assert b"Traceback" not in proc.stderr.read()


def test_worker_ends_its_program_when_the_request_pipe_closes():
    from concurrent.futures import ThreadPoolExecutor

    from tusk.execution import ProgramPool, SandboxLimits

    with ProgramPool(workers=1, limits=SandboxLimits(timeout=900)) as pool, ThreadPoolExecutor(1) as ex:
        worker = pool._all[0]
        future = ex.submit(pool.run, "import time\ntime.sleep(600)")
        programs: set[int] = set()
        for _ in range(600):
            programs = _descendants(worker.pid)  # the worker's runner, and the program it forked
            if any(_children(runner) for runner in _children(worker.pid)):
                break
            time.sleep(0.05)
        assert programs
        fd, worker._request_fd = worker._request_fd, -1
        os.close(fd)  # as if the harness were gone; the worker itself is not signalled
        result = future.result(timeout=60)
        assert result.status == "killed" and "exited" in result.error
        assert _reap(None, programs) == []
