"""The run directory: resolved config, per-sample results appended as they finish, and the summary.

Layout of ``RUN_DIR``::

    config.json     the resolved run configuration (written once; a rerun must match it)
    samples.jsonl   one JSON line per finished problem, appended, flushed and fsynced as each finishes
    summary.json    totals per benchmark and the paper's averages, rewritten at the end (and on interrupt)

Guarantees: a finished sample is on disk before the next one starts, so a killed run loses at most the
problems in flight; reopening the directory resumes (finished ids are skipped, never redone); a torn last line
left by a crash is cut off before anything new is appended; a rerun whose settings would change the results
(model, mode, grader, decoding) is refused instead of mixing incompatible samples, unless no sample was stored
yet; one process at a time writes a run directory (a lock file, ``.lock``); while a run is open its
``summary.json`` is absent, so a summary on disk always describes the samples beside it.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from tusk.errors import DataError, TuskError
from tusk.types import SampleRecord, to_dict

if TYPE_CHECKING:
    from typing_extensions import Self

log = logging.getLogger(__name__)

CONFIG = "config.json"
SAMPLES = "samples.jsonl"
SUMMARY = "summary.json"


class RunStore:
    """An open run directory. ``identity`` holds the config keys that must match to resume.

    A key an older run did not save is not compared, unless it is in ``required`` (then its absence is a
    difference).  ``comparable(key, value)``, when given, maps both sides' values before they are compared (to
    drop parts of a value that no longer matter)."""

    def __init__(self, path: str | Path, config: Mapping[str, Any], identity: tuple[str, ...] = (),
                 required: tuple[str, ...] = (), comparable: Callable[[str, Any], Any] | None = None):
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        self._lock = _lock_run_dir(self.path)
        try:
            self.config = dict(config)
            self._samples_path = self.path / SAMPLES
            self._check_config(identity, required, comparable or (lambda key, value: value))
            self._done: set[str] = set()
            self._repair_and_index()
            (self.path / SUMMARY).unlink(missing_ok=True)  # rewritten when the run ends or is interrupted
            self._fh = open(self._samples_path, "a", encoding="utf-8")  # noqa: SIM115 - held until close()
        except BaseException:
            self._lock.close()
            raise

    # -- config -------------------------------------------------------------------------------------
    def _check_config(self, identity: tuple[str, ...], required: tuple[str, ...],
                      comparable: Callable[[str, Any], Any]) -> None:
        config_path = self.path / CONFIG
        if config_path.exists():
            try:
                saved = json.loads(config_path.read_text(encoding="utf-8"))
            except ValueError as exc:
                raise DataError(f"{config_path}: not valid JSON ({exc})") from exc
            if not isinstance(saved, dict):
                raise DataError(f"{config_path}: not a run configuration (expected a JSON object)")
            # keys a run saved before they existed are not compared, unless required
            changed = [k for k in identity if (k in saved or k in required)
                       and comparable(k, saved.get(k)) != comparable(k, self.config.get(k))]
            if changed and not self._has_samples():
                log.info("%s: no samples stored yet; starting over with the new settings", self.path)
                saved, changed = {}, []
            if changed:
                diffs = ", ".join(f"{k}: {saved.get(k)!r} -> {self.config.get(k)!r}" for k in changed)
                raise TuskError(
                    f"{self.path} holds a run with other settings ({diffs}); use another --out to start a new run"
                )
            merged = dict(saved)
            merged.update(self.config)
            # the benchmarks of a resumed run accumulate, so the summary covers everything stored
            benchmarks = list(saved.get("benchmarks", []))
            benchmarks += [b for b in self.config.get("benchmarks", []) if b not in benchmarks]
            merged["benchmarks"] = benchmarks
            self.config = merged
        _atomic_write_json(config_path, self.config)

    # -- samples ------------------------------------------------------------------------------------
    def _has_samples(self) -> bool:
        return self._samples_path.exists() and self._samples_path.stat().st_size > 0

    def _repair_and_index(self) -> None:
        if not self._samples_path.exists():
            return
        good_bytes = 0
        with open(self._samples_path, "rb") as fh:
            for number, raw in enumerate(fh, 1):
                record = _sample(raw)
                if record is None:
                    if fh.read().strip():
                        raise DataError(f"{self._samples_path} line {number}: corrupt sample record")
                    log.warning("%s: dropping a torn last line left by an interrupted run", self._samples_path)
                    break
                self._done.add(record["id"])
                good_bytes += len(raw)
        if good_bytes != self._samples_path.stat().st_size:
            os.truncate(self._samples_path, good_bytes)

    @property
    def done_ids(self) -> frozenset[str]:
        return frozenset(self._done)

    def append(self, record: SampleRecord) -> None:
        if record.id in self._done:
            raise TuskError(f"sample {record.id} is already stored in {self._samples_path}")
        self._fh.write(json.dumps(to_dict(record), ensure_ascii=False) + "\n")
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self._done.add(record.id)

    def records(self) -> Iterator[dict[str, Any]]:
        return read_samples(self.path)

    def write_summary(self, summary: Mapping[str, Any]) -> Path:
        path = self.path / SUMMARY
        _atomic_write_json(path, summary)
        return path

    def close(self) -> None:
        if not self._fh.closed:
            self._fh.close()
        self._lock.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_samples(run_dir: str | Path) -> Iterator[dict[str, Any]]:
    """Every complete sample record of a run directory.  A torn last line (a killed run) is skipped; a corrupt
    line with records after it raises DataError naming it, rather than dropping what follows."""
    path = Path(run_dir) / SAMPLES
    if not path.exists():
        return
    with open(path, "rb") as fh:
        for number, raw in enumerate(fh, 1):
            record = _sample(raw)
            if record is None:
                if fh.read().strip():
                    raise DataError(f"{path} line {number}: corrupt sample record")
                return
            yield record


def _sample(raw: bytes) -> dict[str, Any] | None:
    """One complete line's sample record, or None for a torn or corrupt line."""
    if not raw.endswith(b"\n"):
        return None
    try:
        record = json.loads(raw)
    except ValueError:
        return None
    return record if isinstance(record, dict) and isinstance(record.get("id"), str) else None


def read_json(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TuskError(f"{path} not found") from None
    except ValueError as exc:
        raise DataError(f"{path}: not valid JSON ({exc})") from exc


def _lock_run_dir(run_dir: Path) -> IO[str]:
    """An exclusive, non-blocking lock on ``RUN_DIR/.lock``: the open file holds it until it is closed (or the
    process dies)."""
    lock = open(run_dir / ".lock", "a+", encoding="utf-8")  # noqa: SIM115 - held until the store closes
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX: no lock
        return lock
    try:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        lock.close()
        raise TuskError(f"{run_dir} is in use by another tusk process; wait for it or use another --out") from None
    return lock


def _atomic_write_json(path: Path, value: Any) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(value, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)
