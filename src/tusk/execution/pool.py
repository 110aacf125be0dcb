"""Many programs through warm workers: :class:`ProgramPool`.

A pool starts ``workers`` warm worker processes (see ``zygote``); each runs one program at a time in a
fresh fork of itself, so a pool runs up to ``workers`` programs at once.  ``run`` is thread-safe (any
number of threads may call it; each call borrows an idle worker), ``map`` streams results in input order
while keeping every worker busy.

Guarantees: exactly one :class:`~tusk.types.ExecutionResult` per program, in order, never another
program's; a worker that dies or stops answering is killed, its program gets status ``killed`` with the
reason, and a fresh worker takes its place.  Workers and their programs die with this process, even when
it is SIGKILLed (PR_SET_PDEATHSIG; every worker is started from one long-lived thread, since the kernel
ties that signal to the starting thread); the empty work-area directories such a death leaves are
removed by the next pool that starts.  A ``map`` that is interrupted or abandoned (an exception, Ctrl-C,
SIGTERM, ``close()``) kills the workers running its programs instead of waiting for them, and those
workers are never reused.  Each worker's isolation report is logged once as warnings
for every mechanism that is unavailable (nothing degrades silently).  Does not: retry a program, or share
anything between programs.
"""

from __future__ import annotations

import collections
import logging
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from typing import Any

from tusk.errors import TuskError
from tusk.execution import protocol
from tusk.execution.limits import DEFAULT_LIMITS, SandboxLimits
from tusk.types import ExecutionResult

log = logging.getLogger(__name__)
START_TIMEOUT = 120.0
ANSWER_GRACE = 30.0
_BOOT = "import sys; from tusk.execution.zygote import main; main(sys.argv[1:])"
_WARNED: set[str] = set()
_WARNED_LOCK = threading.Lock()


def _worker_environment() -> dict[str, str]:
    import tusk

    package_parent = os.path.dirname(os.path.dirname(os.path.abspath(tusk.__file__)))
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "PYTHONPATH": package_parent,
        "PYTHONDONTWRITEBYTECODE": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "NUMEXPR_NUM_THREADS": "1",
    }


_ROOT_PREFIX = "tusk-sandbox-"


def _remove_stale_roots() -> None:
    """Remove empty work-area directories left by tusk processes that were killed (their pid is gone)."""
    base = tempfile.gettempdir()
    try:
        names = os.listdir(base)
    except OSError:
        return
    for name in names:
        owner = name[len(_ROOT_PREFIX) :].split("-", 1)[0]
        if not name.startswith(_ROOT_PREFIX) or not owner.isdigit() or int(owner) == os.getpid():
            continue
        try:
            os.kill(int(owner), 0)
        except ProcessLookupError:
            try:
                os.rmdir(os.path.join(base, name))  # only ever an empty directory
            except OSError:
                pass
        except OSError:
            pass


_SPAWN_REQUESTS: queue.Queue[tuple[Any, dict[str, Any], queue.Queue[Any]]] = queue.Queue()
_SPAWNER: list[threading.Thread] = []


def _start_process(argv: list[str], **options: Any) -> subprocess.Popen:
    """``subprocess.Popen`` run on one long-lived daemon thread.

    A worker asks the kernel to kill it when its parent dies (PR_SET_PDEATHSIG), and "parent" means the
    thread that started it: a worker started from a short-lived thread (a ``map`` helper) would die with
    that thread.  This thread lives as long as the interpreter (it is never joined at shutdown).
    """
    with _WARNED_LOCK:
        if not _SPAWNER:
            thread = threading.Thread(target=_serve_spawns, name="tusk-spawn", daemon=True)
            thread.start()
            _SPAWNER.append(thread)
    answer: queue.Queue[Any] = queue.Queue(maxsize=1)
    _SPAWN_REQUESTS.put((argv, options, answer))
    result = answer.get()
    if isinstance(result, BaseException):
        raise result
    return result


def _serve_spawns() -> None:
    while True:
        argv, options, answer = _SPAWN_REQUESTS.get()
        try:
            answer.put(subprocess.Popen(argv, **options))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller, raised there
            answer.put(exc)


class _Worker:
    """One warm worker process and the two pipes that talk to it. Used by one thread at a time."""

    def __init__(self) -> None:
        self.process: subprocess.Popen | None = None
        self.root: str | None = None
        self.hello: dict[str, Any] = {}
        self.terminated = False  # set by terminate(): its next failure is expected, not news
        self._request_fd = -1
        self._response_fd = -1

    def spawn(self) -> None:
        _remove_stale_roots()
        self.terminated = False
        self.root = tempfile.mkdtemp(prefix=f"{_ROOT_PREFIX}{os.getpid()}-")
        os.chmod(self.root, 0o711)
        request_r, self._request_fd = os.pipe()
        self._response_fd, response_w = os.pipe()
        try:
            argv = [sys.executable, "-s", "-c", _BOOT, str(request_r), str(response_w), self.root]
            self.process = _start_process(
                [*argv, str(os.getpid())],
                pass_fds=(request_r, response_w),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                env=_worker_environment(),
                cwd=self.root,
                start_new_session=True,
            )
        finally:
            os.close(request_r)
            os.close(response_w)

    def wait_ready(self) -> None:
        try:
            hello = protocol.recv(self._response_fd, time.monotonic() + START_TIMEOUT)
        except (TimeoutError, EOFError, ValueError) as exc:
            hello = None
            reason = str(exc)
        else:
            reason = "it exited during start-up"
        if not hello or not hello.get("ready"):
            self.stop()
            raise TuskError(f"the sandbox worker failed to start: {reason}")
        self.hello = hello
        for warning in hello.get("warnings", ()):
            with _WARNED_LOCK:
                if warning in _WARNED:
                    continue
                _WARNED.add(warning)
            log.warning("%s", warning)

    def execute(self, code: str, limits: SandboxLimits) -> ExecutionResult:
        size = len(code.encode("utf-8", "surrogatepass"))
        if size > protocol.MAX_PROGRAM:  # never sent: the worker's frame could not hold it
            return ExecutionResult(
                status="error", error=f"program too large: {size} bytes, limit {protocol.MAX_PROGRAM}"
            )
        request = {
            "code": code,
            "timeout": limits.timeout,
            "memory_mb": limits.memory_mb,
            "max_output": limits.max_output,
        }
        started = time.monotonic()
        try:
            protocol.send(self._request_fd, request)
            answer = protocol.recv(
                self._response_fd,
                started + limits.timeout + ANSWER_GRACE,
                protocol.frame_limit(limits.max_output),
            )
            if answer is None:
                raise EOFError("the sandbox worker exited")
        except (OSError, EOFError, TimeoutError, ValueError) as exc:
            level = logging.DEBUG if self.terminated else logging.WARNING  # we killed it on purpose
            log.log(level, "sandbox worker %s failed (%s); replacing it", self.pid, exc)
            self.stop()
            return ExecutionResult(
                status="killed", seconds=time.monotonic() - started, error=f"sandbox worker died: {exc}"
            )
        except BaseException:  # interrupted mid-request: its answer must never reach the next caller
            self.stop()
            raise
        if answer.get("retire"):  # it could not empty its work area: replace it before the next program
            log.info("sandbox worker %s could not clean up after a program; replacing it", self.pid)
            self.stop()
        return ExecutionResult(
            status=answer["status"],
            stdout=answer["stdout"],
            stderr=answer["stderr"],
            seconds=answer["seconds"],
            error=answer["error"],
        )

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def terminate(self) -> None:
        """Kill the worker's process group; a thread waiting on it sees the end of the stream."""
        self.terminated = True
        if self.process is not None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass

    def stop(self) -> None:
        for fd in (self._request_fd, self._response_fd):
            if fd >= 0:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self._request_fd = self._response_fd = -1
        if self.process is not None:
            try:  # closing the request pipe asks it to exit; the group kill makes sure
                self.process.wait(timeout=0.5)
            except subprocess.TimeoutExpired:
                pass
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            self.process.wait()
            self.process = None
        if self.root:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None


class _Batch:
    """The workers one ``map`` call is using, so that an interrupted ``map`` can kill them at once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._workers: set[_Worker] = set()
        self._abandoned = False

    def enter(self, worker: _Worker) -> None:
        with self._lock:
            if self._abandoned:
                raise TuskError("the batch of programs was abandoned")
            self._workers.add(worker)

    def leave(self, worker: _Worker) -> None:
        with self._lock:
            self._workers.discard(worker)

    def abandon(self) -> None:
        with self._lock:
            self._abandoned = True
            for worker in self._workers:
                worker.terminate()


class ProgramPool:
    """Warm sandbox workers; use as a context manager or call :meth:`close`."""

    def __init__(self, workers: int | None = None, limits: SandboxLimits = DEFAULT_LIMITS):
        self.workers = max(1, workers if workers is not None else (os.cpu_count() or 1))
        self.limits = limits
        self._idle: queue.Queue[_Worker] = queue.Queue()
        self._all: list[_Worker] = []
        self._closed = False
        self._lock = threading.Lock()
        started = [_Worker() for _ in range(self.workers)]
        try:
            for worker in started:
                worker.spawn()
                self._all.append(worker)
            for worker in started:
                worker.wait_ready()
        except BaseException:
            self.close()
            raise
        for worker in started:
            self._idle.put(worker)

    def __enter__(self) -> ProgramPool:  # noqa: PYI034
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def report(self) -> dict[str, Any]:
        """The isolation report of a running worker (what is active and why anything is not)."""
        for worker in list(self._all):
            if worker.hello:
                return worker.hello
        return {}

    def run(self, code: str, limits: SandboxLimits | None = None) -> ExecutionResult:
        """Run one program in a fresh sandboxed fork of an idle worker (blocks while all are busy)."""
        return self._run(code, limits, None)

    def _run(self, code: str, limits: SandboxLimits | None, batch: _Batch | None) -> ExecutionResult:
        if self._closed:
            raise TuskError("the program pool is closed")
        worker = self._idle.get()
        try:
            if self._closed:
                raise TuskError("the program pool is closed")
            if worker.terminated or not worker.alive:  # a kill may not have landed yet: never reuse it
                self._restart(worker)
            if batch is not None:
                batch.enter(worker)
            return worker.execute(code, limits or self.limits)
        finally:
            if batch is not None:
                batch.leave(worker)
            self._idle.put(worker)

    @staticmethod
    def _restart(worker: _Worker) -> None:
        """A fresh process for ``worker``; one failed start (say, killed while starting) is tried again."""
        for attempt in (1, 2):
            worker.stop()
            worker.spawn()
            try:
                worker.wait_ready()
                return
            except TuskError as exc:
                if attempt == 2:
                    raise
                log.warning("%s; trying once more", exc)

    def map(self, codes: Iterable[str], limits: SandboxLimits | None = None) -> Iterator[ExecutionResult]:
        """Results in input order, streamed; ``codes`` is consumed lazily, a few programs ahead."""
        from concurrent.futures import Future, ThreadPoolExecutor

        pending: collections.deque[Future[ExecutionResult]] = collections.deque()
        window = 2 * self.workers
        batch = _Batch()
        with ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="tusk-exec") as executor:
            finished = False
            try:
                for code in codes:
                    pending.append(executor.submit(self._run, code, limits, batch))
                    while len(pending) >= window or (pending and pending[0].done()):
                        yield pending.popleft().result()
                while pending:
                    yield pending.popleft().result()
                finished = True
            finally:
                for future in pending:
                    future.cancel()
                if not finished:  # interrupted or abandoned: do not wait for programs nobody will read
                    batch.abandon()

    def close(self) -> None:
        """Stop every worker; a program still running in another thread ends with status ``killed``."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        for worker in self._all:
            worker.terminate()
        for _ in self._all:
            try:
                self._idle.get(timeout=ANSWER_GRACE).stop()
            except queue.Empty:
                break
