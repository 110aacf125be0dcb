"""ProgramPool: ordering, concurrency from several threads, replacing dead workers, the one-off API."""

from __future__ import annotations

import concurrent.futures
import os
import signal
import threading
import time

import pytest

from tusk.execution import ProgramPool, SandboxLimits, isolation_report, run_program
from tusk.types import EXECUTION_STATUSES


@pytest.fixture(scope="module")
def pool():
    with ProgramPool(workers=2, limits=SandboxLimits(timeout=3.0, memory_mb=256)) as p:
        yield p


def test_map_keeps_input_order_with_uneven_durations(pool):
    codes = [f"import time\ntime.sleep({0.05 if i % 3 == 0 else 0})\nprint({i})" for i in range(24)]
    results = list(pool.map(codes))
    assert [r.stdout for r in results] == [f"{i}\n" for i in range(24)]
    assert all(r.status == "ok" for r in results)


def test_map_streams_lazily(pool):
    consumed = []

    def codes():
        for i in range(100):
            consumed.append(i)
            yield f"print({i})"

    stream = pool.map(codes())
    first = next(stream)
    assert first.stdout == "0\n"
    assert len(consumed) < 100  # only a few programs ahead of the consumer
    stream.close()


def test_run_from_another_thread_while_map_runs(pool):
    found: dict[str, object] = {}

    def background():
        found["map"] = [r.stdout for r in pool.map(f"print({i} * {i})" for i in range(30))]

    thread = threading.Thread(target=background)
    thread.start()
    singles = [pool.run(f"print('single {i}')").stdout for i in range(10)]
    thread.join()
    assert singles == [f"single {i}\n" for i in range(10)]
    assert found["map"] == [f"{i * i}\n" for i in range(30)]


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


def _programs(worker) -> set[int]:
    """The programs a worker runs now: its grandchildren, under its one-shot runner."""
    return {p for r in _children(worker.pid) for p in _children(r)} if worker.pid else set()


def _wait_for_a_running_program(pool: ProgramPool, timeout: float = 60.0) -> list:
    """The workers running a program seen in two polls 0.2 s apart (a slow one: quick ones end in ms)."""
    deadline = time.monotonic() + timeout
    seen: dict[int, set[int]] = {}
    while time.monotonic() < deadline:
        now = {id(w): _programs(w) for w in list(pool._all)}
        lasting = [w for w in list(pool._all) if now[id(w)] & seen.get(id(w), set())]
        if lasting:
            return lasting
        seen = now
        time.sleep(0.2)
    raise AssertionError("no program started running")


def test_killed_worker_is_replaced_and_no_result_is_lost(pool):
    codes = ["import time\ntime.sleep(2)\nprint('slow')"] + [f"print({i})" for i in range(6)]
    stream = pool.map(codes)
    first = concurrent.futures.ThreadPoolExecutor(1).submit(next, stream)  # map starts on first next()
    busy = _wait_for_a_running_program(pool)  # a worker an earlier test killed restarts lazily first
    for worker in busy:  # the slow program is certainly on one of them
        os.killpg(worker.pid, signal.SIGKILL)
    results = [first.result(timeout=60), *stream]
    assert len(results) == len(codes)
    assert results[0].status == "killed" and "worker died" in results[0].error
    for i, r in enumerate(results[1:]):
        assert r.status in ("ok", "killed")
        if r.status == "ok":
            assert r.stdout == f"{i}\n"
    assert pool.run("print('after')").stdout == "after\n"  # fresh workers took their places


def test_every_status_is_a_known_one(pool):
    codes = [
        "print(1)",
        "1/0",
        "while True: pass",
        "x = bytearray(10**12)",
        "print('x' * 5000)",
        "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)",
    ]
    limits = SandboxLimits(timeout=5.0, memory_mb=256, max_output=1000)
    short = SandboxLimits(timeout=0.5, memory_mb=256, max_output=1000)
    statuses = [pool.run(c, short if "while" in c else limits).status for c in codes]
    assert statuses == ["ok", "error", "timeout", "memory", "output_limit", "error"]  # self-kill: error
    assert set(statuses) | {"killed"} == set(EXECUTION_STATUSES)  # killed: a dying worker (test above)


def test_run_program_and_isolation_report():
    result = run_program("import fractions\nprint(fractions.Fraction(3, 4) + fractions.Fraction(1, 4))")
    assert result.status == "ok" and result.stdout == "1\n"
    report = isolation_report()
    for name in ("network_namespace", "landlock", "seccomp", "unprivileged_uid", "rlimits"):
        assert set(report[name]) == {"active", "detail"}


def test_closed_pool_refuses_work():
    p = ProgramPool(workers=1)
    p.close()
    with pytest.raises(Exception, match="closed"):
        p.run("print(1)")


@pytest.mark.slow
def test_abandoned_map_never_costs_a_later_program(pool):
    for _ in range(3):
        stream = pool.map(f"import time\ntime.sleep(0.2)\nprint({i})" for i in range(10))
        assert next(stream).stdout == "0\n"
        stream.close()  # kills the workers still running this map's programs
        results = [pool.run(f"print({i})") for i in range(4)]
        assert [(r.status, r.stdout) for r in results] == [("ok", f"{i}\n") for i in range(4)]


def test_a_worker_killed_while_it_restarts_is_started_once_more(caplog):
    with ProgramPool(workers=1, limits=SandboxLimits(timeout=3.0, memory_mb=256)) as pool:
        worker = pool._all[0]
        old = worker.pid
        worker.terminate()  # the next run restarts it lazily
        killed: list[int] = []

        def kill_the_first_new_process() -> None:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and not killed:
                pid = worker.pid
                if pid and pid != old:
                    os.killpg(pid, signal.SIGKILL)
                    killed.append(pid)
                time.sleep(0.005)

        watcher = threading.Thread(target=kill_the_first_new_process)
        watcher.start()
        result = pool.run("print('after')")
        watcher.join()
        assert killed and worker.pid not in (old, killed[0])
        assert result.status == "ok" and result.stdout == "after\n"
        assert "trying once more" in caplog.text


def test_a_worker_that_fails_to_start_twice_is_an_error(monkeypatch):
    from tusk.errors import TuskError
    from tusk.execution import pool as pool_module

    with ProgramPool(workers=1) as pool:
        pool._all[0].terminate()
        starts: list[int] = []

        def never_ready(self) -> None:
            starts.append(self.pid)
            self.stop()
            raise TuskError("the sandbox worker failed to start: it exited during start-up")

        monkeypatch.setattr(pool_module._Worker, "wait_ready", never_ready)
        with pytest.raises(TuskError, match="failed to start"):
            pool.run("print(1)")
        assert len(starts) == 2
