"""Landlock: confine a process's file-system access, TCP ports and signals, without privileges.

``restrict(read, write, files)`` lets the calling process (and everything it later creates) read only
beneath the ``read`` paths, read and write only beneath the ``write`` paths, and read/write the single
``files`` (such as /dev/null).  With ABI >= 4 every TCP bind and connect is refused; with ABI >= 6 the
process can no longer signal processes outside its own Landlock domain nor reach abstract Unix sockets
outside it.  Guarantees: the restriction cannot be lifted by the process; it raises OSError if the kernel
refuses any step (the caller must then fail closed).  Does not: restrict metadata such as ``stat``, or
access through file descriptors opened before the call.
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Iterable

from tusk.execution._linux import (
    SYS_LANDLOCK_ADD_RULE,
    SYS_LANDLOCK_CREATE_RULESET,
    SYS_LANDLOCK_RESTRICT_SELF,
    syscall,
)

EXECUTE, WRITE_FILE, READ_FILE, READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
REFER, TRUNCATE, IOCTL_DEV = 1 << 13, 1 << 14, 1 << 15
FILE_RIGHTS = EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE | IOCTL_DEV
NET_BIND_TCP, NET_CONNECT_TCP = 1 << 0, 1 << 1
SCOPE_ABSTRACT_UNIX_SOCKET, SCOPE_SIGNAL = 1 << 0, 1 << 1
_RULE_PATH_BENEATH = 1
_CREATE_RULESET_VERSION = 1


class _RulesetAttr(ctypes.Structure):
    _fields_ = [
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    ]


class _PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def abi_version() -> int:
    """The kernel's Landlock ABI version, 0 when Landlock is missing or disabled."""
    try:
        return syscall(SYS_LANDLOCK_CREATE_RULESET, None, 0, _CREATE_RULESET_VERSION)
    except OSError:
        return 0


def _fs_rights(abi: int) -> int:
    rights = (1 << 13) - 1  # ABI 1: execute .. make_sym
    if abi >= 2:
        rights |= REFER
    if abi >= 3:
        rights |= TRUNCATE
    if abi >= 5:
        rights |= IOCTL_DEV
    return rights


def restrict(abi: int, read: Iterable[str], write: Iterable[str], files: Iterable[str]) -> None:
    """Apply the policy described in the module docstring to the calling thread (fork before threads)."""
    handled = _fs_rights(abi)
    attr = _RulesetAttr(handled, 0, 0)
    size = 8
    if abi >= 4:
        attr.handled_access_net = NET_BIND_TCP | NET_CONNECT_TCP
        size = 16
    if abi >= 6:
        attr.scoped = SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL
        size = 24
    ruleset = syscall(
        SYS_LANDLOCK_CREATE_RULESET, ctypes.cast(ctypes.pointer(attr), ctypes.c_void_p), size, 0
    )
    try:
        read_rights = (EXECUTE | READ_FILE | READ_DIR) & handled
        for paths, rights in ((read, read_rights), (write, handled), (files, FILE_RIGHTS & handled)):
            for path in paths:
                _add_path_rule(ruleset, path, rights)
        syscall(SYS_LANDLOCK_RESTRICT_SELF, ruleset, 0)
    finally:
        os.close(ruleset)


def _add_path_rule(ruleset: int, path: str, rights: int) -> None:
    fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    try:
        if not os.path.isdir(path):
            rights &= FILE_RIGHTS
        rule = _PathBeneath(rights, fd)
        syscall(
            SYS_LANDLOCK_ADD_RULE,
            ruleset,
            _RULE_PATH_BENEATH,
            ctypes.cast(ctypes.pointer(rule), ctypes.c_void_p),
            0,
        )
    finally:
        os.close(fd)
