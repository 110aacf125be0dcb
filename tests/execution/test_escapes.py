"""Escapes and robustness gaps found by an adversarial audit; each test failed before its fix.

Every test cleans up what it might have created on the host (IPC objects, processes, directories).
"""

from __future__ import annotations

import ast
import ctypes
import os
import textwrap

import pytest

from tusk.execution import ProgramPool, SandboxLimits

LIMITS = SandboxLimits(timeout=5.0, memory_mb=256, max_output=1 << 20)
IPC_KEY = 0x7475736B  # "tusk"
_IPC_RMID = 0


@pytest.fixture(scope="module")
def pool():
    with ProgramPool(workers=1, limits=LIMITS) as p:
        yield p


def run(pool: ProgramPool, code: str, limits: SandboxLimits | None = None):
    return pool.run(textwrap.dedent(code), limits)


def _libc() -> ctypes.CDLL:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.shmat.restype = ctypes.c_void_p
    libc.shmat.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_int]
    libc.shmdt.argtypes = [ctypes.c_void_p]
    libc.shmctl.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_void_p]
    return libc


def _remove_host_ipc(key: int) -> list[str]:
    """Remove any System V object with ``key`` from the host's namespace; names what was found."""
    libc = _libc()
    found = []
    for kind, get, ctl, args in (
        ("shm", libc.shmget, libc.shmctl, (0, 0)),
        ("sem", libc.semget, libc.semctl, (0, 0)),
        ("msg", libc.msgget, libc.msgctl, (0,)),
    ):
        ident = get(key, *args)
        if ident >= 0:
            found.append(kind)
            if kind == "sem":
                ctl(ident, 0, _IPC_RMID)
            else:
                ctl(ident, _IPC_RMID, None)
    return found


_IPC_PROGRAM = """
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
libc.shmat.restype = ctypes.c_void_p
results = {}
sid = libc.shmget(KEY, 1 << 20, 0o1666)
results["shmget"] = ctypes.get_errno() if sid < 0 else 0
if sid >= 0:
    libc.shmat(sid, None, 0)
results["semget"] = ctypes.get_errno() if libc.semget(KEY, 1, 0o1666) < 0 else 0
results["msgget"] = ctypes.get_errno() if libc.msgget(KEY, 0o1666) < 0 else 0
host = libc.shmget(HOST_KEY, 0, 0)
results["host"] = ctypes.get_errno() if host < 0 else 0
print(results)
"""


def test_system_v_ipc_is_neither_shared_with_the_host_nor_allowed(pool):
    libc = _libc()
    host_key = IPC_KEY + 1
    _remove_host_ipc(IPC_KEY)
    _remove_host_ipc(host_key)
    host = libc.shmget(host_key, 4096, 0o1644)
    assert host >= 0
    try:
        code = _IPC_PROGRAM.replace("HOST_KEY", str(host_key)).replace("KEY", str(IPC_KEY))
        r = run(pool, code)
        leaked = _remove_host_ipc(IPC_KEY)
    finally:
        libc.shmctl(host, _IPC_RMID, None)
    assert r.status == "ok", r
    assert leaked == [], f"the program created host IPC objects: {leaked}"
    results = ast.literal_eval(r.stdout)
    assert all(results[k] != 0 for k in ("shmget", "semget", "msgget", "host")), results


def test_inotify_is_refused(pool):
    r = run(
        pool,
        """
        import ctypes, os
        libc = ctypes.CDLL(None, use_errno=True)
        fd = libc.inotify_init1(0)
        print(fd, os.strerror(ctypes.get_errno()) if fd < 0 else "")
        if fd >= 0:
            print(libc.inotify_add_watch(fd, b"/tmp", 0x100 | 0x2 | 0x20))
        """,
    )
    assert r.status == "ok" and r.stdout.startswith("-1 "), r


def test_memfd_cannot_hold_memory_past_the_limit(pool):
    r = run(
        pool,
        """
        import os
        chunk, fds = b"x" * (1 << 20), []
        for i in range(40):  # 40 files of 8 MiB: under RLIMIT_FSIZE each, 320 MiB > memory_mb together
            fds.append(os.memfd_create(f"m{i}"))
            for _ in range(8):
                os.write(fds[-1], chunk)
        print("held 320 MiB")
        """,
    )
    assert "held" not in r.stdout and r.status == "error" and "PermissionError" in r.error, r


def test_deep_directory_tree_is_cleaned_and_blames_nobody(pool):
    worker = pool._all[0].pid
    inodes = "import os\ns = os.statvfs('.')\nprint(os.listdir('.'), s.f_files - s.f_ffree)"
    before = run(pool, inodes)
    r = run(
        pool,
        """
        import os
        for _ in range(5000):
            os.mkdir("d")
            os.chdir("d")
        os.mkdir("locked", 0)
        print("deep")
        """,
    )
    assert r.status == "ok" and r.stdout == "deep\n", r
    after = run(pool, inodes)
    assert after.status == "ok" and after.stdout == before.stdout, (before, after)  # all 5001 dirs gone
    assert pool._all[0].pid == worker  # cleaned up by the same worker, not by a crash and a restart


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("import os\nos._exit(102)", "error"),
        ("import os, sys\nsys.stderr.write('looks like a setup failure\\n')\nos._exit(103)", "error"),
        ("import os, signal\nprint('MemoryError')\nos.kill(os.getpid(), signal.SIGKILL)", "error"),
        ("import os, signal\nos.kill(os.getpid(), signal.SIGXCPU)", "error"),
        ("raise MemoryError", "memory"),
        ("x = bytearray(10**12)", "memory"),
    ],
)
def test_a_program_cannot_fake_its_status(pool, code, status):
    r = run(pool, code)
    assert r.status == status, r


def test_large_non_ascii_output_keeps_its_status(pool):
    limits = SandboxLimits(timeout=10.0, memory_mb=256, max_output=12_000_000)
    r = run(pool, "import sys\nsys.stdout.buffer.write(b'\\xff' * 12_000_000)", limits)
    assert r.status == "ok", (r.status, r.error)
    assert len(r.stdout) == 12_000_000 and set(r.stdout) == {"\ufffd"}
    assert run(pool, "print(1)").stdout == "1\n"


def test_limits_are_validated():
    for bad in (
        {"timeout": float("inf")},
        {"timeout": float("nan")},
        {"timeout": 0},
        {"memory_mb": 100_000_000_000_000},
        {"memory_mb": 1.5},
        {"max_output": 1 << 40},
    ):
        with pytest.raises(ValueError, match=next(iter(bad))):
            SandboxLimits(**bad)


def test_many_threads_fit_in_a_modest_memory_limit(pool):
    r = run(
        pool,
        """
        import threading
        done, together = [], threading.Barrier(16)
        def work():
            together.wait()  # all alive at once, each allocating: one malloc arena each by default
            done.append([bytearray(1 << 12) for _ in range(64)])
            together.wait()
        threads = [threading.Thread(target=work) for _ in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        print(len(done))
        """,
    )
    assert r.status == "ok" and r.stdout == "16\n", r


def test_cannot_change_the_priority_of_other_processes(pool):
    r = run(
        pool,
        """
        import os
        os.setpriority(os.PRIO_PROCESS, 0, 1)
        os.setpriority(os.PRIO_PROCESS, os.getpid(), 2)
        print(os.getpriority(os.PRIO_PROCESS, 0))
        for which, who in ((os.PRIO_USER, 0), (os.PRIO_PGRP, 0), (os.PRIO_PROCESS, os.getppid())):
            try:
                os.setpriority(which, who, 19)
                print("changed", which)
            except PermissionError:
                pass
        """,
    )
    assert r.status == "ok" and r.stdout == "2\n", r


def test_file_count_is_capped_and_cleaned(pool):
    r = run(
        pool,
        """
        n = 0
        try:
            while n < 100_000:
                open(f"f{n}", "w").close()
                n += 1
        except OSError as exc:
            print(n < 70_000, exc.errno)
        """,
        SandboxLimits(timeout=20.0, memory_mb=256),
    )
    assert r.status == "ok" and r.stdout == "True 28\n", r  # ENOSPC: out of inodes
    assert run(pool, "open('x', 'w').close()\nprint('ok')").stdout == "ok\n"


def test_wipe_needs_no_recursion_and_never_raises(tmp_path):
    from tusk.execution.workarea import wipe as _wipe

    root = tmp_path / "root"
    root.mkdir()
    fd = os.open(root, os.O_RDONLY)
    try:
        for _ in range(3000):  # deeper than the recursion limit and longer than PATH_MAX
            os.mkdir("d", dir_fd=fd)
            child = os.open("d", os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = child
        with open(os.open("f", os.O_WRONLY | os.O_CREAT, 0o600, dir_fd=fd), "w") as fh:
            fh.write("x")
        os.symlink("/etc", "link", dir_fd=fd)
    finally:
        os.close(fd)
    assert _wipe(str(root)) is True
    assert os.listdir(root) == []
    assert os.path.isdir("/etc")
    assert _wipe(str(tmp_path / "missing")) is False


def test_resource_limits_of_other_processes_are_out_of_reach(pool):
    r = run(
        pool,
        """
        import os, resource
        print(resource.prlimit(0, resource.RLIMIT_NOFILE) == resource.prlimit(os.getpid(), resource.RLIMIT_NOFILE))
        try:
            resource.prlimit(os.getppid(), resource.RLIMIT_NOFILE)
            print("reached the parent")
        except PermissionError:
            print("denied")
        """,
    )
    assert r.status == "ok" and r.stdout.split() == ["True", "denied"], r
