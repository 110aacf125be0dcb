"""A small seccomp-BPF filter, written out by hand, that removes the system calls a program never needs.

Installed in the forked child just before the program runs.  Refused with EPERM: creating processes
(fork, vfork, clone without CLONE_THREAD) and exec (execve, execveat); sending signals to any process but
itself (kill/tkill/tgkill with another pid, sigqueue, pidfd signals); socket(2) of any family; ptrace and
cross-process memory access; changing credentials; namespaces, mounts, chroot; io_uring (it would bypass
the filter), bpf, perf, keyrings, userfaultfd, modules, kexec, reboot, swap, handle-based opens;
prlimit64 on another process; prctl(PR_SET_PDEATHSIG) (the program dies with its worker); setpriority other than
PRIO_PROCESS of itself, sched_set* on another process and ioprio_set (a uid's other processes are
other programs); changing modes, owners, times or extended attributes of any file
(Landlock does not cover metadata, and a uid-0 program would own the host's files); System V IPC
(shm*, sem*, msg*) and POSIX message queues (their objects outlive the program and hold memory that
RLIMIT_AS does not count); inotify and fanotify (events name files Landlock hides); memfd_create and
memfd_secret (memory outside RLIMIT_AS).  clone3 answers
ENOSYS so the C library falls back to clone, where the CLONE_THREAD check applies (threads stay
allowed).  A foreign system-call ABI (x32 or another
architecture) kills the process.

Guarantees: the filter is immutable once installed and inherited by every thread.  Does not: filter
read/write/open (Landlock and the uid do that), or exist on architectures other than x86_64
(``supported()`` says why, and the caller degrades with a warning).
"""

from __future__ import annotations

import ctypes
import errno
import platform
import struct

from tusk.execution._linux import (
    PR_GET_SECCOMP,
    PR_SET_NO_NEW_PRIVS,
    PR_SET_SECCOMP,
    SECCOMP_MODE_FILTER,
    prctl,
)

AUDIT_ARCH_X86_64 = 0xC000003E
_RET_KILL_PROCESS = 0x80000000
_RET_ERRNO = 0x00050000
_RET_ALLOW = 0x7FFF0000
_LD_ABS_W, _JEQ, _JGE, _JSET, _RET = 0x20, 0x15, 0x35, 0x45, 0x06
_OFF_NR, _OFF_ARCH, _OFF_ARG0, _OFF_ARG1 = 0, 4, 16, 24
CLONE_THREAD = 0x00010000

# x86_64 numbers (arch/x86/entry/syscalls/syscall_64.tbl)
_X86_64_DENY = {
    "fork": 57,
    "vfork": 58,
    "execve": 59,
    "execveat": 322,
    "socket": 41,
    "ptrace": 101,
    "process_vm_readv": 310,
    "process_vm_writev": 311,
    "rt_sigqueueinfo": 129,
    "rt_tgsigqueueinfo": 297,
    "pidfd_open": 434,
    "pidfd_send_signal": 424,
    "pidfd_getfd": 438,
    "setuid": 105,
    "setgid": 106,
    "setreuid": 113,
    "setregid": 114,
    "setgroups": 116,
    "setresuid": 117,
    "setresgid": 119,
    "setfsuid": 122,
    "setfsgid": 123,
    "capset": 126,
    "mount": 165,
    "umount2": 166,
    "pivot_root": 155,
    "chroot": 161,
    "unshare": 272,
    "setns": 308,
    "fsopen": 430,
    "fsmount": 432,
    "move_mount": 429,
    "open_tree": 428,
    "io_uring_setup": 425,
    "io_uring_enter": 426,
    "io_uring_register": 427,
    "bpf": 321,
    "perf_event_open": 298,
    "keyctl": 250,
    "add_key": 248,
    "request_key": 249,
    "userfaultfd": 323,
    "init_module": 175,
    "finit_module": 313,
    "delete_module": 176,
    "kexec_load": 246,
    "kexec_file_load": 320,
    "reboot": 169,
    "swapon": 167,
    "swapoff": 168,
    "acct": 163,
    "personality": 135,
    "open_by_handle_at": 304,
    "name_to_handle_at": 303,
    "quotactl": 179,
    "sethostname": 170,
    "setdomainname": 171,
    "settimeofday": 164,
    "clock_settime": 227,
    "chmod": 90,
    "fchmod": 91,
    "fchmodat": 268,
    "fchmodat2": 452,
    "chown": 92,
    "fchown": 93,
    "lchown": 94,
    "fchownat": 260,
    "utime": 132,
    "utimes": 235,
    "utimensat": 280,
    "futimesat": 261,
    "setxattr": 188,
    "lsetxattr": 189,
    "fsetxattr": 190,
    "removexattr": 197,
    "lremovexattr": 198,
    "fremovexattr": 199,
    # System V and POSIX IPC: objects outlive the program, hold memory outside RLIMIT_AS, carry state
    "shmget": 29,
    "shmat": 30,
    "shmctl": 31,
    "semget": 64,
    "semop": 65,
    "semctl": 66,
    "semtimedop": 220,
    "msgget": 68,
    "msgsnd": 69,
    "msgrcv": 70,
    "msgctl": 71,
    "mq_open": 240,
    "mq_unlink": 241,
    "mq_timedsend": 242,
    "mq_timedreceive": 243,
    "mq_notify": 244,
    "mq_getsetattr": 245,
    # file-system watches report names that Landlock hides
    "inotify_init": 253,
    "inotify_add_watch": 254,
    "inotify_init1": 294,
    "fanotify_init": 300,
    "fanotify_mark": 301,
    # anonymous files: memory beyond RLIMIT_AS
    "memfd_create": 319,
    "memfd_secret": 447,
    # I/O priority of processes (of the same uid: other programs)
    "ioprio_set": 251,
}
_X86_64_SPECIAL = {
    "clone": 56,
    "clone3": 435,
    "kill": 62,
    "tkill": 200,
    "tgkill": 234,
    "prlimit64": 302,
    "prctl": 157,
    "setpriority": 141,
    "sched_setparam": 142,
    "sched_setscheduler": 144,
    "sched_setaffinity": 203,
    "sched_setattr": 314,
}
PR_SET_PDEATHSIG = 1


def supported() -> str | None:
    """None when the filter can be installed here, else the reason it cannot."""
    if platform.machine() != "x86_64":
        return f"no system-call table for {platform.machine()}"
    try:
        prctl(PR_GET_SECCOMP)
    except OSError as exc:
        return f"kernel has no seccomp ({exc})"
    return None


def build_filter(own_pid: int) -> bytes:
    """The BPF program (array of ``struct sock_filter``) for a process whose pid is ``own_pid``."""
    code: list[tuple[int, int | str, int | str, int]] = []  # (op, jt, jf, k); jt/jf may be labels
    labels: dict[str, int] = {}

    def emit(op: int, k: int, jt: int | str = 0, jf: int | str = 0) -> None:
        code.append((op, jt, jf, k))

    def label(name: str) -> None:
        labels[name] = len(code)

    special = _X86_64_SPECIAL
    emit(_LD_ABS_W, _OFF_ARCH)
    emit(_JEQ, AUDIT_ARCH_X86_64, 0, "kill")
    emit(_LD_ABS_W, _OFF_NR)
    emit(_JGE, 0x40000000, "kill", 0)  # x32 ABI
    for number in sorted(_X86_64_DENY.values()):
        emit(_JEQ, number, "deny", 0)
    emit(_JEQ, special["clone3"], "enosys", 0)
    emit(_JEQ, special["clone"], "clone", 0)
    for name in ("kill", "tkill", "tgkill"):
        emit(_JEQ, special[name], "own_pid", 0)
    emit(_JEQ, special["prctl"], "prctl", 0)
    emit(_JEQ, special["setpriority"], "setpriority", 0)
    for name in ("prlimit64", "sched_setparam", "sched_setscheduler", "sched_setaffinity", "sched_setattr"):
        emit(_JEQ, special[name], "own_pid_or_zero", 0)
    emit(_RET, _RET_ALLOW)
    label("setpriority")  # only PRIO_PROCESS (0) of itself; PRIO_USER would reach every program
    emit(_LD_ABS_W, _OFF_ARG0)
    emit(_JEQ, 0, 0, "deny")
    emit(_LD_ABS_W, _OFF_ARG1)
    emit(_JEQ, 0, "allow", 0)
    emit(_JEQ, own_pid & 0xFFFFFFFF, "allow", "deny")
    label("own_pid_or_zero")
    emit(_LD_ABS_W, _OFF_ARG0)
    emit(_JEQ, 0, "allow", 0)
    emit(_JEQ, own_pid & 0xFFFFFFFF, "allow", "deny")
    label("prctl")
    emit(_LD_ABS_W, _OFF_ARG0)
    emit(_JEQ, PR_SET_PDEATHSIG, "deny", "allow")
    label("clone")
    emit(_LD_ABS_W, _OFF_ARG0)
    emit(_JSET, CLONE_THREAD, "allow", "deny")
    label("own_pid")
    emit(_LD_ABS_W, _OFF_ARG0)
    emit(_JEQ, own_pid & 0xFFFFFFFF, "allow", "deny")
    label("allow")
    emit(_RET, _RET_ALLOW)
    label("deny")
    emit(_RET, _RET_ERRNO | errno.EPERM)
    label("enosys")
    emit(_RET, _RET_ERRNO | errno.ENOSYS)
    label("kill")
    emit(_RET, _RET_KILL_PROCESS)

    out = bytearray()
    for index, (op, jt, jf, k) in enumerate(code):
        offsets = []
        for target in (jt, jf):
            offset = labels[target] - index - 1 if isinstance(target, str) else target
            if not 0 <= offset <= 255:
                raise ValueError(f"seccomp jump out of range at instruction {index}")
            offsets.append(offset)
        out += struct.pack("=HBBI", op, offsets[0], offsets[1], k)
    return bytes(out)


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


_PID_PLACEHOLDER = 0x7FFFFFF3  # above any pid_max; the program's own pid is put in its place
_TEMPLATE: list[bytes] = []


def prepare() -> None:
    """Build the filter once (in the warm worker) so that each child only patches in its pid."""
    if not _TEMPLATE:
        _TEMPLATE.append(build_filter(_PID_PLACEHOLDER))


def filter_for(own_pid: int) -> bytes:
    """The filter for ``own_pid``: the prepared template with the pid patched in, or a fresh build."""
    if not _TEMPLATE:
        return build_filter(own_pid)
    placeholder = struct.pack("=I", _PID_PLACEHOLDER)
    pid = struct.pack("=I", own_pid & 0xFFFFFFFF)
    program = bytearray(_TEMPLATE[0])
    for offset in range(4, len(program), 8):  # the k field of every instruction
        if program[offset : offset + 4] == placeholder:
            program[offset : offset + 4] = pid
    return bytes(program)


def install(own_pid: int) -> None:
    """Install the filter on the calling thread (and its future threads); sets no_new_privs first."""
    program = filter_for(own_pid)
    buffer = ctypes.create_string_buffer(program, len(program))
    fprog = _SockFprog(len(program) // 8, ctypes.cast(buffer, ctypes.c_void_p))
    prctl(PR_SET_NO_NEW_PRIVS, 1)
    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.cast(ctypes.pointer(fprog), ctypes.c_void_p).value)
