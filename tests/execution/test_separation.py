"""Programs are separate from each other and run the way ``python prog.py`` runs them.

Nothing of an earlier program (its code, its output, the worker's bookkeeping about it) is reachable from
a later one, neither through live objects nor through freed memory; one program's threads or output do not
change what the next may do; a program ends as Python ends (non-daemon threads joined, atexit handlers
run), runs as the real ``__main__`` module and sees SIGINT as KeyboardInterrupt.
"""

from __future__ import annotations

import os
import resource
import textwrap
import threading
import time
import uuid

import pytest

from tusk.execution import ProgramPool, SandboxLimits
from tusk.execution.protocol import MAX_PROGRAM


@pytest.fixture(scope="module")
def solo():
    """One worker, so that consecutive programs are forks of the same worker."""
    with ProgramPool(workers=1, limits=SandboxLimits(timeout=20.0, memory_mb=256, max_output=16 << 20)) as p:
        yield p


def run(pool: ProgramPool, code: str, limits: SandboxLimits | None = None):
    return pool.run(textwrap.dedent(code), limits)


FRAME_SPY = """
import sys
seen = []
f = sys._getframe().f_back  # the frames above the program's own
while f is not None:
    for value in list(f.f_locals.values()):
        if value is globals() or value is sys.modules['__main__']:
            continue  # the program's own namespace
        try:
            seen.append(repr(value))
        except Exception:
            pass
    f = f.f_back
print(sum(MARKER in text for text in seen))
"""

HEAP_SPY = r"""
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
libc.write.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t]
libc.sbrk.restype = ctypes.c_void_p
r, w = os.pipe()
PAGE, needle, hits, seen = 4096, MARKER.encode(), set(), set()
def page(addr):  # copied through a pipe: EFAULT instead of SIGSEGV where nothing is mapped
    n = libc.write(w, addr, PAGE)
    return os.read(r, n) if n > 0 else None
for seed in (libc.sbrk(0), id(object()), id(os), id(1)):
    base = seed & ~(PAGE - 1)
    for step in (PAGE, -PAGE):
        addr, gap = base, 0
        while gap < 2048 and abs(addr - base) < (400 << 20):
            if addr not in seen:
                seen.add(addr)
                data = page(addr)
                gap = 0 if data is not None else gap + 1
                i = data.find(needle) if data else -1
                while i >= 0 and len(hits) < 200:
                    hits.add(data[i : i + 120])
                    i = data.find(needle, i + 1)
            addr += step
print(len(hits), sorted(hits))
"""


def test_a_program_cannot_reach_the_previous_result_through_frames(solo):
    marker = "frame-marker-" + uuid.uuid4().hex
    assert run(solo, f"print({marker!r})").stdout == marker + "\n"
    spy = run(solo, f"MARKER = {marker[:-1]!r} + {marker[-1]!r}\n" + FRAME_SPY)
    assert spy.status == "ok" and spy.stdout == "0\n", spy


def test_a_program_cannot_find_earlier_programs_in_freed_memory(solo):
    marker, secret = "heap-marker-" + uuid.uuid4().hex, uuid.uuid4().hex
    first = run(solo, f"print(({marker!r} + ' {secret} ') * 2000)")
    assert first.status == "ok" and first.stdout.startswith(marker)
    assert run(solo, "print('unrelated')").status == "ok"
    spy = run(solo, f"MARKER = {marker!r}\n" + HEAP_SPY)  # the spy knows the marker, not the secret
    assert spy.status == "ok" and not spy.stdout.startswith("0 "), spy  # it does find its own copies
    assert secret not in spy.stdout, spy.stdout[:2000]


MEMORY_PROBE = """
import mmap
def fits(n):
    try:
        m = mmap.mmap(-1, n << 20)
        m.close()
        return True
    except (MemoryError, OSError):
        return False
lo, hi = 0, 4096
while lo < hi:
    mid = (lo + hi + 1) // 2
    if fits(mid):
        lo = mid
    else:
        hi = mid - 1
print(lo)
"""


def test_memory_allowance_does_not_depend_on_the_previous_output(solo):
    before = run(solo, MEMORY_PROBE)
    big = run(solo, "import sys\nsys.stdout.write('a' * (16 << 20))\n")
    after = run(solo, MEMORY_PROBE)
    assert before.status == big.status == after.status == "ok"
    assert abs(int(after.stdout) - int(before.stdout)) <= 2, (before.stdout, after.stdout)


def test_program_too_large_is_an_error_and_the_worker_survives(solo):
    pid = solo._all[0].pid
    code = "x = 1\n#" + "\u00e9" * (12 << 20)  # 24 MB of UTF-8, 72 MB escaped
    r = solo.run(code)
    assert r.status == "error", r
    size = len(code.encode("utf-8"))
    assert r.error == f"program too large: {size} bytes, limit {MAX_PROGRAM}"
    just_over = solo.run("#" * MAX_PROGRAM + "\n")
    assert just_over.status == "error" and "program too large" in just_over.error
    assert solo._all[0].pid == pid
    assert solo.run("print(6 * 7)").stdout == "42\n"


def test_program_at_the_size_limit_runs(solo):
    code = "print('fits')\n#" + "\u00e9" * ((MAX_PROGRAM - 16) // 2)
    assert len(code.encode("utf-8")) <= MAX_PROGRAM
    r = solo.run(code)
    assert r.status == "ok" and r.stdout == "fits\n", r


def test_program_is_the_real_main_module(solo):
    r = run(
        solo,
        """
        import pickle, sys, typing
        from dataclasses import dataclass

        @dataclass
        class P:
            x: int
            other: "Q | None" = None

        @dataclass
        class Q:
            y: int

        print(pickle.loads(pickle.dumps(P(3))))
        print(sorted(typing.get_type_hints(P)))
        print(sys.modules['__main__'].__dict__ is globals(), __name__)
    """,
    )
    assert r.status == "ok", r
    assert r.stdout == "P(x=3, other=None)\n['other', 'x']\nTrue __main__\n"


def test_sigint_raises_keyboard_interrupt(solo):
    caught = run(
        solo,
        """
        import os, signal, time
        try:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(2)
            print('survived')
        except KeyboardInterrupt:
            print('caught')
    """,
    )
    assert caught.status == "ok" and caught.stdout == "caught\n", caught
    uncaught = run(
        solo, "import os, signal\nos.kill(os.getpid(), signal.SIGINT)\nimport time\ntime.sleep(2)\n"
    )
    assert uncaught.status == "error" and uncaught.error == "KeyboardInterrupt", uncaught


def test_non_daemon_threads_finish_before_the_program_ends(solo):
    r = run(
        solo,
        """
        import threading, time
        def work():
            time.sleep(0.3)
            print(sum(i * i for i in range(10**5)))
        threading.Thread(target=work).start()
        print('main done')
    """,
    )
    assert r.status == "ok" and r.stdout == "main done\n333328333350000\n", r


def test_threads_are_joined_after_an_exception_too(solo):
    r = run(
        solo,
        """
        import threading, time
        def work():
            time.sleep(0.2)
            print('thread done')
        threading.Thread(target=work).start()
        raise ValueError('main failed')
    """,
    )
    assert r.status == "error" and r.stdout == "thread done\n", r
    assert "ValueError: main failed" in r.stderr


def test_atexit_handlers_run(solo):
    r = run(
        solo,
        """
        import atexit, sys
        atexit.register(print, 'answer from atexit: 7')
        atexit.register(lambda: 1 / 0)
        print('main done')
        sys.exit(0)
    """,
    )
    assert r.status == "ok", r
    assert r.stdout == "main done\nanswer from atexit: 7\n"
    assert "ZeroDivisionError" in r.stderr


def test_a_thread_that_never_ends_is_a_timeout(solo):
    r = run(
        solo,
        """
        import threading, time
        def spin():
            while True:
                time.sleep(0.01)
        threading.Thread(target=spin).start()
        print('main done')
    """,
        SandboxLimits(timeout=1.0, memory_mb=256),
    )
    assert r.status == "timeout" and r.stdout == "main done\n", r


def test_fds_above_1024_in_the_harness():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 1200:
        pytest.skip(f"RLIMIT_NOFILE hard limit {hard} is too low to hold 1100 descriptors")
    resource.setrlimit(
        resource.RLIMIT_NOFILE, (max(soft, 2048) if hard == resource.RLIM_INFINITY else hard, hard)
    )
    held = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]
    try:
        with ProgramPool(workers=1, limits=SandboxLimits(timeout=3.0, memory_mb=256)) as pool:
            r = pool.run("print(6 * 7)")
            assert r.status == "ok" and r.stdout == "42\n", r
    finally:
        for fd in held:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="switching to a uid of the worker's own needs root")


@needs_root
def test_each_worker_runs_programs_under_its_own_uid():
    with ProgramPool(workers=2, limits=SandboxLimits(timeout=3.0, memory_mb=256)) as pool:
        if not pool.report["report"].get("worker_uid", {}).get("active"):
            pytest.skip("this machine cannot give each worker a uid of its own")
        uids = [
            worker.execute("import os\nprint(os.getuid(), os.getgid())", pool.limits) for worker in pool._all
        ]
        assert all(r.status == "ok" for r in uids), uids
        pairs = [tuple(map(int, r.stdout.split())) for r in uids]
        assert all(uid == gid for uid, gid in pairs)
        assert len({uid for uid, _ in pairs}) == 2
        assert all(uid not in (0, 65534) for uid, _ in pairs)


@needs_root
def test_one_programs_threads_do_not_reduce_anothers():
    limits = SandboxLimits(timeout=10.0, memory_mb=1024)
    with ProgramPool(workers=2, limits=limits) as pool:
        hog_worker, other_worker = pool._all
        result = {}

        def hog():
            result["hog"] = hog_worker.execute(
                textwrap.dedent(
                    """
                    import threading, time
                    threading.stack_size(1 << 16)
                    threads = []
                    try:
                        for i in range(2000):
                            t = threading.Thread(target=time.sleep, args=(3,), daemon=True)
                            t.start()
                            threads.append(t)
                    except RuntimeError as exc:
                        print('stopped at', len(threads), flush=True)
                    time.sleep(3)
                    """
                ),
                limits,
            )

        thread = threading.Thread(target=hog)
        thread.start()
        time.sleep(1.5)
        other = other_worker.execute(
            "from concurrent.futures import ThreadPoolExecutor\n"
            "with ThreadPoolExecutor(4) as ex:\n"
            "    print(sum(ex.map(lambda x: x * x, range(100))))\n",
            limits,
        )
        thread.join()
        assert result["hog"].status == "ok", result["hog"]
        assert other.status == "ok" and other.stdout == "328350\n", other
