"""Progress for long work, on standard error: one bar for evaluation, training, data stages, downloads,
grading and program execution.

On a terminal it is a live rich bar: label, bar, done/total, rate, elapsed, ETA and a free-text ``info``
(accuracy, loss, ...).  Anywhere else (a log file, a batch job's output, a pipe) a live bar shows nothing until
the end, so the same numbers go out as one plain line every ``interval`` seconds (``TUSK_PROGRESS_INTERVAL``,
default 30) and a last line when the work ends; work shorter than one interval writes nothing there.

The rate counts only the work done since the bar started (a resumed run starts at ``done``), and the ETA is
the work left at that rate.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
import time
from collections.abc import Callable, Iterator
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    from typing_extensions import Self

DEFAULT_INTERVAL_S = 30.0


def interval_from_env() -> float:
    """Seconds between plain progress lines: ``TUSK_PROGRESS_INTERVAL``, else 30."""
    raw = os.environ.get("TUSK_PROGRESS_INTERVAL", "").strip()
    try:
        return max(0.0, float(raw)) if raw else DEFAULT_INTERVAL_S
    except ValueError:
        return DEFAULT_INTERVAL_S


def format_duration(seconds: float) -> str:
    """``m:ss`` or ``h:mm:ss``."""
    whole = max(0, round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class ProgressBar:
    """Progress of ``total`` units of work (``None``: unknown), ``done`` of them finished before it started.

    Use as a context manager and call :meth:`advance` as work finishes.  ``unit`` names one unit in the rate
    (``"prob"`` gives ``2.1 prob/s``, or ``3.4 s/prob`` when slower than one a second); ``as_bytes`` shows
    counts and rate in MB.  ``transient`` removes a terminal bar at the end.  Disabled, it does nothing.
    """

    def __init__(
        self,
        label: str,
        total: int | None = None,
        *,
        done: int = 0,
        unit: str = "",
        as_bytes: bool = False,
        enabled: bool = True,
        transient: bool = False,
        interval: float | None = None,
        stream: IO[str] | None = None,
        terminal: bool | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.label, self.total, self.done, self.unit, self.as_bytes = label, total, done, unit, as_bytes
        self.enabled, self.transient = enabled, transient
        self.interval = interval_from_env() if interval is None else interval
        self.info = ""
        self._stream = stream
        self._terminal = terminal
        self._clock = clock
        self._initial = done
        self._started: float | None = None
        self._ended: float | None = None
        self._last_line = 0.0
        self._lines = 0
        self._last_written: tuple[int, str] | None = None
        self._live = None
        self._task = None
        self._open = False

    # -- numbers ------------------------------------------------------------------------------------
    @property
    def elapsed(self) -> float:
        if self._started is None:
            return 0.0
        end = self._ended if self._ended is not None else self._clock()
        return max(end - self._started, 0.0)

    @property
    def rate(self) -> float:
        """Units per second since the bar started."""
        elapsed = self.elapsed
        return (self.done - self._initial) / elapsed if elapsed > 0 else 0.0

    @property
    def eta(self) -> float | None:
        """Seconds left at the current rate (None when the total or the rate is unknown)."""
        if self.total is None or self.rate <= 0:
            return None
        return max(self.total - self.done, 0) / self.rate

    def count_text(self) -> str:
        if self.as_bytes:
            shown = f"{self.done / 1e6:.1f}"
            return f"{shown}/{self.total / 1e6:.1f} MB" if self.total is not None else f"{shown} MB"
        if self.total is None:
            return f"{self.done}"
        percent = f" ({100 * self.done / self.total:.0f}%)" if self.total else ""
        return f"{self.done}/{self.total}{percent}"

    def rate_text(self) -> str:
        rate = self.rate
        if self.as_bytes:
            return f"{rate / 1e6:.1f} MB/s"
        unit = self.unit or "it"
        if rate <= 0:
            return f"- {unit}/s"
        return f"{rate:,.2f} {unit}/s" if rate >= 1 else f"{1 / rate:.1f} s/{unit}"

    def eta_text(self) -> str:
        eta = self.eta
        return "-" if eta is None else format_duration(eta)

    def line(self) -> str:
        """The plain progress line written where there is no terminal."""
        parts = [f"{self.label}: {self.count_text()}", self.rate_text(), f"elapsed {format_duration(self.elapsed)}"]
        if self.total is not None:
            parts.append("done" if self.done >= self.total else f"ETA {self.eta_text()}")
        if self.info:
            parts.append(self.info)
        return ", ".join(parts)

    # -- lifecycle ----------------------------------------------------------------------------------
    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        if not self.enabled or self._open:
            return
        self._open = True
        self._started = self._last_line = self._clock()
        self._ended = None
        stream = self._stream if self._stream is not None else sys.stderr
        terminal = self._terminal
        if terminal is None:
            terminal = bool(getattr(stream, "isatty", lambda: False)())
        if terminal:
            self._start_live(stream)

    def advance(self, n: int = 1, info: str | None = None) -> None:
        """``n`` more units are done; ``info`` replaces the free text shown after the numbers."""
        if not self._open:
            return
        self.done += n
        if info is not None:
            self.info = info
        if self._live is not None:
            self._refresh_live()
        elif self._clock() - self._last_line >= self.interval:
            self._write_line()

    def close(self) -> None:
        if not self._open:
            return
        self._ended = self._clock()
        if self._live is not None:
            self._refresh_live()
            self._live.stop()
            self._live = None
        elif (self._lines or self.elapsed >= self.interval) and self._last_written != (self.done, self.info):
            self._write_line()
        self._open = False

    # -- output -------------------------------------------------------------------------------------
    def _write_line(self) -> None:
        stream = self._stream if self._stream is not None else sys.stderr
        stream.write(self.line() + "\n")
        stream.flush()
        self._lines += 1
        self._last_line = self._clock()
        self._last_written = (self.done, self.info)

    def _start_live(self, stream: IO[str]) -> None:
        from rich.console import Console
        from rich.markup import escape
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        columns = [TextColumn(f"[bold]{escape(self.label)}")]
        if self.total is not None:
            columns.append(BarColumn())
        columns += [TextColumn("{task.fields[count]}", markup=False), TextColumn("{task.fields[rate]}", markup=False),
                    TimeElapsedColumn()]
        if self.total is not None:
            columns.append(TextColumn("ETA {task.fields[eta]}", markup=False))
        columns.append(TextColumn("{task.fields[info]}", markup=False))
        self._live = Progress(*columns, console=Console(file=stream, force_terminal=True),
                              transient=self.transient)
        self._live.start()
        self._task = self._live.add_task(self.label, total=self.total, completed=self.done, count="", rate="",
                                         eta="", info="")
        self._refresh_live()

    def _refresh_live(self) -> None:
        self._live.update(self._task, completed=self.done, count=self.count_text(), rate=self.rate_text(),
                          eta=self.eta_text(), info=self.info)


@contextlib.contextmanager
def library_bars_off(enabled: bool = True) -> Iterator[None]:
    """transformers' and datasets' own progress bars (those installed) off for the block, and switched back on
    afterwards if they were on; nothing when ``enabled`` is False.  tusk shows its own progress."""
    restore: list[Callable[[], None]] = []
    if enabled:
        for module in ("transformers.utils.logging", "datasets.utils.logging"):
            try:
                bars = importlib.import_module(module)
            except ImportError:
                continue
            if bars.is_progress_bar_enabled():
                bars.disable_progress_bar()
                restore.append(bars.enable_progress_bar)
    try:
        yield
    finally:
        for switch_on in restore:
            switch_on()
