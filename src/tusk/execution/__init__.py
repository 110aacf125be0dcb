"""Run untrusted, model-written programs safely and fast.

    from tusk.execution import ProgramPool, SandboxLimits, run_program, isolation_report

    with ProgramPool(workers=2, limits=SandboxLimits(timeout=5.0)) as pool:
        for result in pool.map(programs):          # ExecutionResult per program, in input order
            ...
    run_program("print(6 * 7)")                    # one-off, through a shared warm worker

How it runs.  Each worker is a separate Python process started with a scrubbed environment.  It enters an
empty network namespace and a private mount namespace with a 64 MiB tmpfs as its work area, imports and
warms sympy, numpy, math, fractions, itertools (and a few more), freezes its heap and moves it onto huge
pages, Landlocks itself, then, for each program, forks a one-shot runner that reads the program, forks a
fresh child to run it, answers and exits: a program never runs in a reused interpreter, anything it
changes (builtins, sympy, files in its work directory) is gone for the next, and nothing of an earlier
program (its code, its output) is in a later one's memory, since the worker itself never holds either.
A program runs as ``python prog.py`` would run it: as the real ``__main__`` module, SIGINT raises
KeyboardInterrupt, and when its code ends its non-daemon threads are joined and its atexit handlers run
(within its deadline); programs over 8 MiB of UTF-8 are refused (status ``error``, "program too large").

Every result has an explicit status (``tusk.types.ExecutionResult``), decided from what the worker
observed, never from an exit code or text the program controls (exact rules: ``zygote``): ``ok`` (exit
0); ``error`` (uncaught exception, with its last traceback line; ``sys.exit(n)`` or ``os._exit(n)`` with
n != 0; death by a signal such as SIGSEGV or one the program sent itself); ``timeout`` (the worker's
wall clock, or the CPU-time backstop seen in the child's rusage); ``memory`` (an uncaught MemoryError at
the address-space limit); ``output_limit`` (stdout + stderr over ``max_output``: killed, the head is
kept); ``killed`` (the sandbox set-up failed, or the worker died: never the program's own doing).
Output printed before a failure is kept (stdout is line-buffered and flushed on ``os._exit``).  Output
is decoded as UTF-8 with replacement characters.

What is protected (each item names the mechanism; ``isolation_report()`` says which are active here):

- Time: at the deadline the worker SIGKILLs the child's process group, which stops long C calls such as
  ``pow(3, 10**10)`` and ignores signal handlers; RLIMIT_CPU is a second line.
- Memory: RLIMIT_AS = the worker's size + ``memory_mb`` (the same whatever ran before); files live on the 64 MiB tmpfs (at most 65,536 of
  them); each file is capped at 16 MiB (RLIMIT_FSIZE); no core dumps; at most 256 open files.  Threads share two malloc
  arenas (``mallopt(M_ARENA_MAX, 2)``), but each thread's stack (8 MiB by default,
  ``threading.stack_size`` changes it) counts against RLIMIT_AS: about 115 threads fit in 1024 MiB.
- Processes: no fork, vfork, clone without CLONE_THREAD, execve or execveat (seccomp), so no
  ``os.system``, ``subprocess`` or ``multiprocessing``; threads are allowed and die with the program.
  Workers and programs die with the harness, even when it is SIGKILLed (PR_SET_PDEATHSIG).
- IPC and anonymous memory: each worker has its own IPC namespace, and seccomp refuses System V shared
  memory, semaphores and message queues, POSIX message queues, memfd_create and memfd_secret, so nothing
  outlives a program or holds memory outside its RLIMIT_AS.  inotify and fanotify are refused (their
  events would name files Landlock hides).
- Signals: only to itself (seccomp compares the pid; Landlock >= ABI 6 scopes signals to the program's
  domain; with a uid of the worker's own the kernel's own permission check as well).  ``kill(-1)``, killing the
  parent or the worker fail with EPERM.
- Network: none.  Empty network namespace, socket(2) refused by seccomp, TCP bind/connect refused by
  Landlock (ABI >= 4).
- Files: Landlock allows reading only beneath /usr, /lib*, /bin, /sbin, /etc/localtime,
  /etc/ld.so.cache, Python's prefixes and ``sys.path`` and the tusk package, plus /dev/null, /dev/zero,
  /dev/urandom, /dev/random; writing only beneath the worker's tmpfs, where the program's private work
  directory (also ``HOME`` and ``TMPDIR``) is, and which the worker empties after every program.
  Changing modes, owners, times or extended attributes of any file is refused (seccomp).  /proc, /sys,
  /tmp, /home, /root (outside Python's own installation) and the rest of /etc cannot be read.
- Identity: no_new_privs; an unprivileged uid and gid of the worker's own (a high base + the worker's
  pid, used by no other process while it lives) with no capabilities, so one program's threads never
  count against another's RLIMIT_NPROC (nor other per-uid budgets); where the user namespace cannot map
  such a uid, ``nobody``, whose budgets all workers share (the report says so); without root, the
  caller's own uid (and its budgets).  When a directory on the
  way to Python's own files is closed to others (an interpreter under /root, mode 0700), the worker
  covers that directory in its private mount namespace with an empty tmpfs and binds back only the
  interpreter, so an unprivileged uid can run it and the rest of /root is not even visible.  If that is impossible, programs run
  as uid 0 with every capability dropped, a logged warning says so, and files are then protected by
  Landlock and seccomp, not by file permissions.
- Secrets: the environment is replaced (PATH, HOME, TMPDIR, locale, thread counts), the worker was started
  without the caller's environment, stdin is /dev/null, every descriptor but 0-2 is closed.
- The harness: a worker that dies or stops answering is killed and replaced; its program gets
  ``killed``; nothing is retried, lost or attributed to another program.

What is not protected:

- The kernel is shared: a kernel exploit escapes.  The seccomp filter is a deny-list of dangerous calls,
  not an allow-list.
- Metadata: ``stat`` and directory listings of readable paths work; whether a path exists anywhere can
  be probed; files readable by design (the Python installation, site-packages, the tusk source) can be
  read.
- Resources are limited per program, not by cgroups: ``workers`` programs may together use ``workers``
  times the memory and all the CPUs; kernel memory (pipes, page tables) is not counted.
- No PID namespace: process ids of the host are visible through error codes (/proc itself is unreadable).
- Timing and other side channels.
- Linux only, kernel 5.3 or newer (the worker waits on ``pidfd_open``); Landlock needs 5.13+, its TCP
  rules 6.7+, its signal scoping 6.12+.
- Where a mechanism is missing (older kernels, non-x86_64 has no seccomp table here, no namespaces
  without root or user namespaces) the pool runs without it and logs one warning per mechanism;
  ``isolation_report()`` lists the state of each.
"""

from tusk.execution.limits import SandboxLimits
from tusk.execution.pool import ProgramPool
from tusk.execution.sandbox import isolation_report, run_program

__all__ = ["ProgramPool", "SandboxLimits", "isolation_report", "run_program"]
