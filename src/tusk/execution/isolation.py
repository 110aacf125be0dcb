"""Which kernel mechanisms confine a program, probed once per warm worker and applied in every child.

``prepare_worker(root)`` runs first in a fresh worker, before it imports anything heavy: it moves the
worker into new network, IPC and mount namespaces (so no child has any network, not even loopback) and
mounts a small tmpfs over ``root`` (programs' files live in memory, capped, and vanish with the worker);
as root it also makes the interpreter reachable for unprivileged uids (``_expose_interpreter``).

``make_plan(...)`` then probes Landlock, seccomp and whether an unprivileged uid can read the interpreter, and
returns a :class:`Plan`: what every child applies, and a report of what is active and why anything is
not (each missing mechanism also becomes a warning the harness logs).

``confine_worker(plan, root)`` applies Landlock to the worker once, after its imports: every child
inherits it (read-only system and Python paths, writes only beneath ``root``, no TCP, no signals or
abstract sockets outside the domain).

``enter_sandbox(plan, ...)`` runs in each forked child: new session and process group, stdin from
/dev/null, stdout/stderr to capped pipes, every other descriptor closed, private working directory,
scrubbed environment, rlimits (address space relative to the worker, file size, open files, no core
dumps, CPU time backstop), no_new_privs, then an unprivileged uid or, when the interpreter's own files
are not readable by others (e.g. Python installed under /root), uid 0 with every capability dropped, and
last the seccomp filter.  The unprivileged uid (and gid) is the worker's own, ``WORKER_UID_BASE`` + the
worker's pid: no other live process uses it, so per-uid kernel budgets (RLIMIT_NPROC counts every thread
of a uid, pending signals, pipe buffers) are not shared with another worker's programs, nor with other
tusk processes or host daemons.  Where that uid cannot be mapped (a user namespace with a narrow uid map)
programs run as ``nobody`` and share those budgets; the report says so.  Any failure in a child raises: the caller fails
closed (the program does not run), it never runs with less isolation than the plan says.
"""

from __future__ import annotations

import ctypes
import os
import resource
import signal
import stat
import sys
from dataclasses import dataclass, field

from tusk.execution import _linux, landlock, seccomp

NOBODY = 65534
WORKER_UID_BASE = 0x7F000000  # + the worker's pid (< 2**22, the kernel's largest pid_max): below 2**31
TMPFS_SIZE_MB = 64
TMPFS_INODES = 65536  # bounds what the worker must delete after a program (empty files cost no space)
FILE_SIZE_LIMIT = 16 << 20
OPEN_FILES_LIMIT = 256
THREADS_LIMIT = 512
STATUS_FD = 3  # the child's status channel to its worker (see zygote)
M_ARENA_MAX = -8  # mallopt: glibc reserves 64 MiB of address space per arena, one per thread otherwise
_SYSTEM_READ_PATHS = (
    "/usr",
    "/lib",
    "/lib32",
    "/lib64",
    "/bin",
    "/sbin",
    "/etc/localtime",
    "/etc/ld.so.cache",
)
_DEVICE_FILES = ("/dev/null", "/dev/zero", "/dev/urandom", "/dev/random")


@dataclass(frozen=True)
class Plan:
    """What each child applies. ``uid`` None means no uid switch; ``drop_caps`` then says what instead."""

    landlock_abi: int = 0
    seccomp: bool = False
    uid: int | None = None
    drop_caps: bool = False
    read_paths: tuple[str, ...] = ()
    device_files: tuple[str, ...] = ()
    worker_size: int = 0
    report: dict[str, dict[str, object]] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()


def child_environment(workdir: str) -> dict[str, str]:
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": workdir,
        "TMPDIR": workdir,
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }


def prepare_worker(root: str) -> tuple[dict[str, dict[str, object]], list[str]]:
    """Enter private namespaces and mount the tmpfs work area; returns (report, warnings)."""
    report: dict[str, dict[str, object]] = {}
    warnings: list[str] = []

    def note(name: str, active: bool, detail: str) -> None:
        report[name] = {"active": active, "detail": detail}
        if not active:
            warnings.append(f"sandbox: {name} unavailable: {detail}")

    flags = _linux.CLONE_NEWNET | _linux.CLONE_NEWNS | _linux.CLONE_NEWIPC
    try:
        if os.geteuid() == 0:
            _linux.unshare(flags)
        else:
            uid, gid = os.geteuid(), os.getegid()
            _linux.unshare(_linux.CLONE_NEWUSER | flags)
            for name, text in (
                ("setgroups", "deny"),
                ("uid_map", f"{uid} {uid} 1"),
                ("gid_map", f"{gid} {gid} 1"),
            ):
                with open(f"/proc/self/{name}", "w") as fh:
                    fh.write(text)
        note("network_namespace", True, "empty network namespace: no interfaces, loopback down")
        report["ipc_namespace"] = {"active": True, "detail": "private System V IPC and POSIX queue namespace"}
        namespaces = True
    except OSError as exc:
        note(
            "network_namespace", False, f"unshare failed ({exc}); relying on seccomp and Landlock for network"
        )
        report["ipc_namespace"] = {"active": False, "detail": "unshare failed; seccomp refuses IPC calls"}
        namespaces = False
    tmpfs = False
    if namespaces:
        try:
            _linux.mount("none", "/", None, _linux.MS_REC | _linux.MS_PRIVATE, None)
            _linux.mount(
                "tusk-sandbox",
                root,
                "tmpfs",
                _linux.MS_NOSUID | _linux.MS_NODEV,
                f"size={TMPFS_SIZE_MB}m,nr_inodes={TMPFS_INODES},mode=0711",
            )
            tmpfs = True
        except OSError as exc:
            detail = f"mount failed ({exc}); work directories on the host file system"
    else:
        detail = "no mount namespace; work directories on the host file system"
    if tmpfs:
        note("private_tmpfs", True, f"{TMPFS_SIZE_MB} MiB tmpfs per worker holds the work directories")
    else:
        note("private_tmpfs", False, detail)
    if tmpfs and os.geteuid() == 0:
        try:
            exposed = _expose_interpreter()
        except OSError as exc:
            exposed = f"failed ({exc})"
        if exposed:
            report["interpreter_view"] = {"active": True, "detail": exposed}
    return report, warnings


def _expose_interpreter() -> str:
    """Let unprivileged uids reach the interpreter inside this worker's private mount namespace.

    A directory on the way to Python's files that others cannot enter (typically /root, mode 0700, when
    Python was installed with pyenv) is covered by an empty tmpfs, and only the subdirectories Python
    needs are bound back.  Everything else in that directory disappears from the worker's view.  The host
    is unaffected.  Returns what was done ("" when nothing was needed).
    """
    blockers: dict[str, set[str]] = {}
    for path in _read_paths():
        parts = path.split("/")
        for i in range(2, len(parts)):
            ancestor = "/".join(parts[:i])
            if not os.stat(ancestor).st_mode & stat.S_IXOTH:
                blockers.setdefault(ancestor, set()).add("/".join(parts[: i + 1]))
                break
    done = []
    for blocker, children in sorted(blockers.items()):
        fds = {child: os.open(child, os.O_PATH | os.O_CLOEXEC) for child in sorted(children)}
        try:
            _linux.mount(
                "tusk-view", blocker, "tmpfs", _linux.MS_NOSUID | _linux.MS_NODEV, "size=1m,mode=0755"
            )
            for child, fd in fds.items():
                os.mkdir(child, 0o755)
                _linux.mount(f"/proc/self/fd/{fd}", child, None, _linux.MS_BIND | _linux.MS_REC, None)
        finally:
            for fd in fds.values():
                os.close(fd)
        done.append(f"{blocker} hidden except {', '.join(sorted(children))}")
    return "; ".join(done)


def make_plan(report: dict[str, dict[str, object]], warnings: list[str]) -> Plan:
    """Probe Landlock, seccomp and the uid switch (after imports), and record the worker's size."""
    report = dict(report)
    warnings = list(warnings)

    def note(name: str, active: bool, detail: str) -> None:
        report[name] = {"active": active, "detail": detail}
        if not active:
            warnings.append(f"sandbox: {name} unavailable: {detail}")

    abi = landlock.abi_version()
    note(
        "landlock",
        abi > 0,
        f"ABI {abi}: read-only system and Python paths, write only the work directory"
        + (", no TCP, no signals outside" if abi >= 6 else "")
        if abi
        else "kernel has no Landlock",
    )
    reason = seccomp.supported()
    note(
        "seccomp", reason is None, "no fork/exec/socket/ptrace/foreign signals" if reason is None else reason
    )
    read_paths = _read_paths()
    uid: int | None = None
    drop_caps = False
    if os.geteuid() == 0:
        blocked = [p for p in read_paths if p.startswith(tuple(_python_roots())) and not _world_readable(p)]
        if blocked:
            drop_caps = True
            note(
                "unprivileged_uid",
                False,
                f"{blocked[0]} is not readable by others; programs run as uid 0 "
                "with every capability dropped (Landlock and seccomp still confine them)",
            )
        else:
            uid = worker_uid()
            if uid is not None:
                note(
                    "unprivileged_uid", True, f"programs run as uid {uid}, this worker's own, no capabilities"
                )
                note("worker_uid", True, "no other process shares the programs' per-uid limits (threads)")
            else:
                uid = NOBODY
                note("unprivileged_uid", True, "programs run as nobody (65534), no capabilities")
                note(
                    "worker_uid",
                    False,
                    f"uid {WORKER_UID_BASE + os.getpid()} is not mapped in this user namespace; programs of "
                    "every worker share nobody's per-uid limits (RLIMIT_NPROC: threads)",
                )
    else:  # capabilities held inside our own user namespace are dropped too
        drop_caps = True
        note("unprivileged_uid", True, f"programs run as the caller's uid {os.geteuid()}, no capabilities")
    report["rlimits"] = {
        "active": True,
        "detail": "address space, file size, open files, no core, CPU backstop",
    }
    report["process_group_kill"] = {"active": True, "detail": "wall-clock limit kills the program's group"}
    report["environment"] = {"active": True, "detail": "scrubbed environment, stdin /dev/null, fresh fork"}
    devices = tuple(p for p in _DEVICE_FILES if os.path.exists(p))
    return Plan(
        abi, reason is None, uid, drop_caps, read_paths, devices, _address_space(), report, tuple(warnings)
    )


def worker_uid() -> int | None:
    """The uid (and gid) this worker's programs run as, or None when this user namespace cannot map it."""
    uid = WORKER_UID_BASE + os.getpid()
    for name in ("uid_map", "gid_map"):
        try:
            with open(f"/proc/self/{name}") as fh:
                ranges = [tuple(map(int, line.split())) for line in fh if line.strip()]
        except (OSError, ValueError):
            return None
        if not any(inside <= uid < inside + count for inside, _, count in ranges):
            return None
    return uid


def _python_roots() -> list[str]:
    return sorted(
        {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix)}
    )


def _read_paths() -> tuple[str, ...]:
    import tusk

    candidates = [
        *_SYSTEM_READ_PATHS,
        *_python_roots(),
        *(p for p in sys.path if p),
        os.path.dirname(os.path.abspath(tusk.__file__)),
    ]
    seen: dict[str, None] = {}
    for path in candidates:
        real = os.path.realpath(path)
        if os.path.exists(real):
            seen[real] = None
    return tuple(seen)


def _world_readable(path: str) -> bool:
    """True when a process with no privileges and an unrelated uid could read ``path``."""
    current = path
    while True:
        try:
            mode = os.stat(current).st_mode
        except OSError:
            return False
        need = stat.S_IXOTH if stat.S_ISDIR(mode) else stat.S_IROTH
        if current == path and stat.S_ISDIR(mode):
            need |= stat.S_IROTH
        if mode & need != need:
            return False
        parent = os.path.dirname(current)
        if parent == current:
            return True
        current = parent


def _address_space() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")


def confine_worker(plan: Plan, root: str) -> None:
    """Landlock the worker itself (its children inherit it): read the plan's paths, write only ``root``.

    Done once per worker rather than per program: every program's work directory lies under ``root``,
    programs run one at a time per worker, and the worker empties ``root`` after each one.
    """
    _linux.prctl(_linux.PR_SET_NO_NEW_PRIVS, 1)
    if plan.landlock_abi:
        landlock.restrict(plan.landlock_abi, read=plan.read_paths, write=(root,), files=plan.device_files)


def enter_sandbox(
    plan: Plan,
    workdir: str,
    timeout: float,
    memory_mb: int,
    stdout_fd: int,
    stderr_fd: int,
    status_fd: int,
    parent: int,
) -> None:
    """Confine the calling (freshly forked, single-threaded) child; raises on any failure.

    Leaves open only 0 (/dev/null), 1, 2 (the output pipes) and ``STATUS_FD`` (the status channel).
    """
    os.setsid()
    devnull = os.open("/dev/null", os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(stdout_fd, 1)
    os.dup2(stderr_fd, 2)
    if status_fd != STATUS_FD:
        os.dup2(status_fd, STATUS_FD)
    os.closerange(STATUS_FD + 1, max(resource.getrlimit(resource.RLIMIT_NOFILE)[0], 1024))
    os.chdir(workdir)
    os.environ.clear()
    os.environ.update(child_environment(workdir))
    memory = plan.worker_size + (memory_mb << 20)
    cpu = int(timeout) + 2  # zygote.cpu_limit
    _linux.libc().mallopt(ctypes.c_int(M_ARENA_MAX), ctypes.c_int(2))  # threads share 2 arenas
    for limit, value in (
        (resource.RLIMIT_AS, memory),
        (resource.RLIMIT_FSIZE, FILE_SIZE_LIMIT),
        (resource.RLIMIT_NOFILE, OPEN_FILES_LIMIT),
        (resource.RLIMIT_CORE, 0),
        (resource.RLIMIT_CPU, cpu),
        (resource.RLIMIT_NPROC, THREADS_LIMIT),
    ):
        resource.setrlimit(limit, (value, value))
    _linux.prctl(_linux.PR_SET_NO_NEW_PRIVS, 1)
    if plan.uid is not None:
        os.setgroups([])
        os.setresgid(plan.uid, plan.uid, plan.uid)
        os.setresuid(plan.uid, plan.uid, plan.uid)
    elif plan.drop_caps:
        _linux.drop_capabilities()
        if _linux.capabilities():
            raise OSError("capabilities still present after capset")
    _linux.prctl(_linux.PR_SET_PDEATHSIG, signal.SIGKILL)  # after the uid switch, which clears it
    if os.getppid() != parent:
        raise OSError("the worker died before the program started")
    if plan.seccomp:
        seccomp.install(os.getpid())
