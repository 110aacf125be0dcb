"""One adversarial program per sandbox property, all through one real pool of warm workers.

Each test runs a hostile program and checks both its status and that nothing outside the sandbox moved.
The last test checks the aftermath of the whole battery: same workers alive, sentinel files untouched,
a normal program still right.
"""

from __future__ import annotations

import os
import socket
import textwrap
import uuid
from pathlib import Path

import pytest

from tusk.execution import ProgramPool, SandboxLimits

SECRET = "tusk-secret-" + uuid.uuid4().hex
QUICK = SandboxLimits(timeout=1.0, memory_mb=256, max_output=1 << 20)
STATE: dict[str, object] = {}


@pytest.fixture(scope="module")
def outside(tmp_path_factory) -> Path:
    """A directory outside every sandbox, holding a sentinel file and a secret."""
    root = tmp_path_factory.mktemp("outside")
    (root / "sentinel.txt").write_text("untouched")
    (root / "secret.txt").write_text(SECRET)
    STATE["outside"] = root
    return root


@pytest.fixture(scope="module")
def pool(outside):
    os.environ["TUSK_TEST_SECRET"] = SECRET
    try:
        with ProgramPool(workers=2, limits=SandboxLimits(timeout=3.0, memory_mb=256)) as p:
            STATE["pids"] = sorted(w.pid for w in p._all)
            yield p
    finally:
        os.environ.pop("TUSK_TEST_SECRET", None)


def run(pool: ProgramPool, code: str, limits: SandboxLimits | None = None):
    return pool.run(textwrap.dedent(code), limits)


def test_infinite_loop_times_out(pool):
    r = run(pool, "while True:\n    pass\n", QUICK)
    assert r.status == "timeout" and "timed out" in r.error


def test_loop_catching_every_exception_times_out(pool):
    r = run(
        pool,
        """
        while True:
            try:
                while True:
                    pass
            except BaseException:
                pass
    """,
        QUICK,
    )
    assert r.status == "timeout"


def test_sleep_times_out(pool):
    r = run(pool, "import time\nprint('before', flush=True)\ntime.sleep(1000)\n", QUICK)
    assert r.status == "timeout"
    assert r.stdout == "before\n"  # output printed before the kill is kept


def test_long_c_call_times_out(pool):
    assert run(pool, "x = pow(3, 10**10)\n", QUICK).status == "timeout"


def test_fork_bomb_cannot_fork(pool):
    r = run(
        pool,
        """
        import os, multiprocessing
        n = 0
        for _ in range(1000):
            try:
                if os.fork() == 0:
                    os._exit(0)
                n += 1
            except OSError:
                pass
        print(n)
        multiprocessing.Process(target=print).start()
    """,
    )
    assert r.stdout == "0\n"
    assert r.status == "error" and "PermissionError" in r.error


def test_memory_bomb(pool):
    r = run(pool, "x = bytearray(10**12)\n")
    assert r.status == "memory"


def test_creeping_allocation(pool):
    r = run(
        pool,
        "chunks = []\nwhile True:\n    chunks.append(bytearray(1 << 20))\n",
        SandboxLimits(timeout=5, memory_mb=128),
    )
    assert r.status == "memory"


def test_one_gib_of_stdout_stops_at_the_cap(pool):
    r = run(pool, "import sys\nchunk = 'x' * (1 << 20)\nfor _ in range(1024):\n    sys.stdout.write(chunk)\n")
    assert r.status == "output_limit"
    assert len(r.stdout) + len(r.stderr) == QUICK.max_output
    assert set(r.stdout) == {"x"}


def test_cannot_write_or_delete_outside_the_workdir(pool, outside):
    r = run(
        pool,
        f"""
        import os
        attempts = []
        for action in (
            lambda: open({str(outside / "sentinel.txt")!r}, 'w').write('changed'),
            lambda: os.remove({str(outside / "sentinel.txt")!r}),
            lambda: os.rename({str(outside / "sentinel.txt")!r}, {str(outside / "moved.txt")!r}),
            lambda: open({str(outside / "new.txt")!r}, 'w').write('new'),
            lambda: open('/tmp/tusk-escape-{uuid.uuid4().hex}', 'w').write('new'),
            lambda: os.mkdir({str(outside / "newdir")!r}),
            lambda: os.chmod({str(outside / "sentinel.txt")!r}, 0o777),
        ):
            try:
                action()
                attempts.append('done')
            except OSError as exc:
                attempts.append(type(exc).__name__)
        open('inside.txt', 'w').write('fine')
        print(attempts, open('inside.txt').read())
    """,
    )
    assert r.status == "ok", r.stderr
    assert "done" not in r.stdout and "fine" in r.stdout
    assert (outside / "sentinel.txt").read_text() == "untouched"
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt", "sentinel.txt"]


def test_cannot_read_secrets_or_the_environment(pool, outside):
    r = run(
        pool,
        f"""
        import os
        print(dict(os.environ))
        for path in ({str(outside / "secret.txt")!r}, '/proc/1/environ', f'/proc/{{os.getppid()}}/environ',
                     '/proc/self/environ', '/etc/shadow', '/root/.bash_history'):
            try:
                print(open(path, errors='replace').read())
            except OSError as exc:
                print(path, type(exc).__name__)
    """,
    )
    assert r.status == "ok"
    assert SECRET not in r.stdout and "TUSK_TEST_SECRET" not in r.stdout
    assert "PermissionError" in r.stdout or "FileNotFoundError" in r.stdout


def test_no_tcp_or_udp_to_loopback(pool):
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        tcp.bind(("127.0.0.1", 0))
        tcp.listen()
        tcp.setblocking(False)
        udp.bind(("127.0.0.1", 0))
        udp.settimeout(0.3)
        r = run(
            pool,
            f"""
            import socket
            results = []
            for kind, action in (
                ('tcp', lambda s: s.connect(('127.0.0.1', {tcp.getsockname()[1]}))),
                ('udp', lambda s: s.sendto(b'leak', ('127.0.0.1', {udp.getsockname()[1]}))),
            ):
                try:
                    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM if kind == 'tcp' else socket.SOCK_DGRAM)
                    action(s)
                    results.append(kind + ' sent')
                except OSError as exc:
                    results.append(kind + ' ' + type(exc).__name__)
            print(results)
        """,
        )
        assert r.status == "ok" and "sent" not in r.stdout, r.stdout
        with pytest.raises(BlockingIOError):
            tcp.accept()
        with pytest.raises(TimeoutError):
            udp.recvfrom(16)
    finally:
        tcp.close()
        udp.close()


def test_no_os_system_or_subprocess(pool, tmp_path):
    marker = tmp_path / "ran"
    r = run(
        pool,
        f"""
        import os, subprocess
        print(os.system('touch {marker}'))
        try:
            os.execv('/bin/touch', ['touch', {str(marker)!r}])
        except OSError as exc:
            print('exec', type(exc).__name__)
        subprocess.run(['touch', {str(marker)!r}])
    """,
    )
    assert r.status == "error" and "PermissionError" in r.error
    assert "exec PermissionError" in r.stdout
    assert not marker.exists()


@pytest.mark.parametrize(
    ("tail", "status"),
    [
        ("sys.exit(0)", "ok"),
        ("sys.exit(3)", "error"),
        ("sys.exit('bye')", "error"),
        ("os._exit(0)", "ok"),
        ("os._exit(7)", "error"),
    ],
)
def test_exit_after_partial_output_keeps_it(pool, tail, status):
    r = run(
        pool, f"import os, sys\nprint('partial')\nsys.stdout.write('no newline')\n{tail}\nprint('never')\n"
    )
    assert r.status == status
    assert r.stdout == "partial\nno newline"


def test_segfault_through_ctypes(pool):
    r = run(pool, "print('before')\nimport ctypes\nctypes.string_at(0)\n")
    assert r.status == "error" and "SIGSEGV" in r.error  # the program's own crash, not the sandbox's
    assert r.stdout == "before\n"


def test_deep_recursion(pool):
    r = run(pool, "def f(n):\n    return f(n + 1)\nf(0)\n")
    assert r.status == "error" and "RecursionError" in r.error
    r = run(
        pool, "import sys\nsys.setrecursionlimit(10**8)\ndef f(n):\n    return f(n + 1) + 1\nf(0)\n", QUICK
    )
    assert r.status in ("memory", "error", "timeout")  # whichever limit the interpreter hits first


def test_ignored_signals_still_time_out(pool):
    r = run(
        pool,
        """
        import signal
        for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGXCPU, signal.SIGALRM):
            signal.signal(s, signal.SIG_IGN)
        while True:
            pass
    """,
        QUICK,
    )
    assert r.status == "timeout"


def test_threads_left_running_do_not_outlive_the_program(pool):
    # Non-daemon threads are joined as Python joins them: one that never ends makes the program a timeout.
    r = run(
        pool,
        """
        import threading, time
        def spin():
            while True:
                time.sleep(0.01)
        for _ in range(4):
            threading.Thread(target=spin).start()
        print('main done')
    """,
        QUICK,
    )
    assert r.status == "timeout" and r.stdout == "main done\n"
    # Daemon threads die with the program: nothing they do comes after its result.
    r = run(
        pool,
        """
        import threading, time
        def chatter():
            while True:
                print('still here', flush=True)
                time.sleep(0.001)
        for _ in range(4):
            threading.Thread(target=chatter, daemon=True).start()
        time.sleep(0.05)
        print('main done', flush=True)
    """,
    )
    assert r.status == "ok" and r.stdout.startswith("still here\n")
    lines = r.stdout.splitlines()
    assert "main done" in lines and set(lines) == {"still here", "main done"}
    after = run(pool, "import threading, time\ntime.sleep(0.2)\nprint(threading.active_count())")
    assert after.status == "ok" and after.stdout == "1\n"


def test_invalid_utf8_output(pool):
    r = run(
        pool, "import sys\nsys.stdout.buffer.write(b'\\xff\\xfe ok\\n')\nsys.stderr.buffer.write(b'\\xc3(')\n"
    )
    assert r.status == "ok"
    assert r.stdout == "\ufffd\ufffd ok\n" and "\ufffd" in r.stderr


def test_monkeypatching_does_not_leak_into_the_next_program(pool):
    r = run(
        pool,
        """
        import builtins, math, sympy, numpy
        builtins.len = lambda x: -1
        builtins.print = lambda *a, **k: None
        math.pi = 3
        sympy.solve = lambda *a, **k: [42]
        numpy.sum = lambda *a, **k: 0
    """,
    )
    assert r.status == "ok"
    for _ in range(3):  # both workers, whichever runs next
        r = run(
            pool,
            """
            import math, sympy, numpy
            x = sympy.Symbol('x')
            print(sympy.solve(x - 3, x), len([1, 2]), math.pi, numpy.sum([1, 2]))
        """,
        )
        assert r.status == "ok" and r.stdout == f"[3] 2 {3.141592653589793} 3\n"


def test_cannot_raise_own_rlimits(pool):
    r = run(
        pool,
        """
        import resource
        for limit in (resource.RLIMIT_AS, resource.RLIMIT_CPU, resource.RLIMIT_NOFILE):
            try:
                resource.setrlimit(limit, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
                print('raised')
            except (ValueError, OSError) as exc:
                print(type(exc).__name__)
        x = bytearray(10**12)
    """,
    )
    assert r.status == "memory" and "raised" not in r.stdout


def test_cannot_kill_parent_or_everything(pool):
    r = run(
        pool,
        """
        import os, signal
        out = []
        for target in (os.getppid(), -1, 1, 0):
            try:
                os.kill(target, signal.SIGKILL)
                out.append('killed')
            except OSError as exc:
                out.append(type(exc).__name__)
        try:
            os.killpg(os.getpgid(os.getppid()), signal.SIGKILL)
        except OSError as exc:
            out.append(type(exc).__name__)
        print(out)
    """,
    )
    assert r.status == "ok" and "killed" not in r.stdout, r.stdout


def test_after_the_battery_everything_is_intact(pool, outside):
    assert sorted(w.pid for w in pool._all) == STATE["pids"]  # no worker was lost to the battery
    assert all(w.alive for w in pool._all)
    assert (outside / "sentinel.txt").read_text() == "untouched"
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt", "sentinel.txt"]
    results = list(pool.map([f"print(sum(range({n})) * 2)" for n in range(20)]))
    assert [r.stdout for r in results] == [f"{sum(range(n)) * 2}\n" for n in range(20)]
