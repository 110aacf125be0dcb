"""Thin ctypes access to the Linux calls the sandbox needs and the standard library lacks.

Guarantees: every wrapper raises :class:`OSError` with the kernel's errno on failure and never returns a
silent -1.  Does not: decide policy (see ``isolation``), or work on anything but Linux.
"""

from __future__ import annotations

import ctypes
import os
import platform

# prctl options and flags (include/uapi/linux/prctl.h, sched.h, mount.h)
PR_SET_PDEATHSIG = 1
PR_GET_SECCOMP = 21
PR_SET_SECCOMP = 22
PR_SET_NO_NEW_PRIVS = 38
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
SECCOMP_MODE_FILTER = 2
CLONE_NEWNS = 0x00020000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000
MS_NOSUID = 2
MS_NODEV = 4
MS_BIND = 4096
MS_REC = 0x4000
MS_PRIVATE = 1 << 18

# syscall numbers that are the same on every architecture (added after the tables were unified)
SYS_LANDLOCK_CREATE_RULESET = 444
SYS_LANDLOCK_ADD_RULE = 445
SYS_LANDLOCK_RESTRICT_SELF = 446

_CAPSET = {"x86_64": 126, "aarch64": 91}
_CAPGET = {"x86_64": 125, "aarch64": 90}
_LIBC: ctypes.CDLL | None = None


def libc() -> ctypes.CDLL:
    global _LIBC
    if _LIBC is None:
        _LIBC = ctypes.CDLL(None, use_errno=True)
    return _LIBC


def _check(result: int) -> int:
    if result == -1:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return result


def syscall(number: int, *args: int | ctypes._SimpleCData | ctypes.Array | None) -> int:
    """``syscall(2)``; integer arguments are passed as C longs, ``None`` as a NULL pointer."""
    converted = []
    for arg in args:
        if arg is None:
            converted.append(ctypes.c_void_p(None))
        elif isinstance(arg, int):
            converted.append(ctypes.c_long(arg))
        else:
            converted.append(arg)
    fn = libc().syscall
    fn.restype = ctypes.c_long
    return _check(fn(ctypes.c_long(number), *converted))


def prctl(option: int, arg2: int | ctypes.c_void_p = 0, arg3: int = 0, arg4: int = 0, arg5: int = 0) -> int:
    fn = libc().prctl
    fn.restype = ctypes.c_int
    a2 = arg2 if isinstance(arg2, ctypes.c_void_p) else ctypes.c_ulong(arg2)
    return _check(
        fn(ctypes.c_int(option), a2, ctypes.c_ulong(arg3), ctypes.c_ulong(arg4), ctypes.c_ulong(arg5))
    )


def unshare(flags: int) -> None:
    _check(libc().unshare(ctypes.c_int(flags)))


def mount(source: str, target: str, fstype: str | None, flags: int, data: str | None) -> None:
    fn = libc().mount
    fn.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
    enc = lambda s: None if s is None else s.encode()
    _check(fn(enc(source), enc(target), enc(fstype), flags, enc(data)))


def umount(target: str) -> None:
    _check(libc().umount2(target.encode(), ctypes.c_int(2)))  # MNT_DETACH


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    ]


def _capability_call(table: dict[str, int], data: ctypes.Array) -> None:
    number = table.get(platform.machine())
    if number is None:
        raise OSError(f"capabilities: unsupported architecture {platform.machine()}")
    header = _CapHeader(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3
    syscall(number, ctypes.cast(ctypes.pointer(header), ctypes.c_void_p), ctypes.cast(data, ctypes.c_void_p))


def collapse_to_huge_pages() -> int:
    """Ask the kernel to back this process's private anonymous memory with 2 MiB pages (MADV_COLLAPSE).

    A forking server whose heap sits on huge pages forks and exits much faster (one page-table entry per
    2 MiB instead of 512).  Best effort: returns the bytes now on huge pages (0 when unsupported).
    """
    madvise = libc().madvise
    madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    huge = 2 << 20
    with open("/proc/self/maps") as fh:
        lines = fh.read().splitlines()
    for line in lines:
        parts = line.split()
        perms, path = parts[1], (parts[5] if len(parts) > 5 else "")
        if not perms.startswith("rw") or perms[3] != "p" or path not in ("", "[heap]"):
            continue
        low, high = (int(v, 16) for v in parts[0].split("-"))
        start, end = (low + huge - 1) // huge * huge, high // huge * huge
        if end > start:
            madvise(start, end - start, 25)  # MADV_COLLAPSE (Linux 6.1+); errors leave small pages
    with open("/proc/self/smaps_rollup") as fh:
        for line in fh:
            if line.startswith("AnonHugePages:"):
                return int(line.split()[1]) * 1024
    return 0


def drop_capabilities() -> None:
    """Clear the effective, permitted and inheritable capability sets (and the ambient set)."""
    try:
        prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)
    except OSError:
        pass  # kernels without ambient capabilities have nothing to clear
    _capability_call(_CAPSET, (_CapData * 2)())


def capabilities() -> int:
    """The effective and permitted capability bits of this process, OR-ed (0 when it holds none)."""
    data = (_CapData * 2)()
    _capability_call(_CAPGET, data)
    return sum((d.effective | d.permitted) << (32 * i) for i, d in enumerate(data))
