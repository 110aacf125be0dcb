"""The run directory: resolved config, per-sample results appended as they finish, and the summary.

Layout of ``RUN_DIR``::

    config.json     the resolved run configuration (a rerun must match it; a resume adds its benchmarks and
                    limits, and the time spent is added up in its ``elapsed``)
    samples.jsonl   one JSON line per finished problem, appended, flushed and fsynced as each finishes
    pending.jsonl   generations of problems not finished yet (a hybrid run's PoT generations waiting for their
                    CoT fallback), reused by a resume; present only while such problems are left
    summary.json    totals per benchmark and the paper's averages, rewritten at the end (and on interrupt)

Guarantees: a finished sample is on disk before the next one starts, and a finished generation of an unfinished
problem is kept in ``pending.jsonl``, so a killed run loses at most the generations in flight; reopening the
directory resumes (finished ids are skipped, never redone); a torn last line left by a crash (one without its
newline) is cut off before anything new is appended, while a complete line that is not a valid record, or a
problem stored twice, is an error naming the file and line; a rerun whose settings would change the results
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
from tusk.types import Generation, SampleRecord, to_dict

if TYPE_CHECKING:
    from typing_extensions import Self

log = logging.getLogger(__name__)

CONFIG = "config.json"
SAMPLES = "samples.jsonl"
SUMMARY = "summary.json"
PENDING = "pending.jsonl"
PER_BENCHMARK = ("problem_sets",)  # config keys keyed by benchmark: a resume adds to them


def config_limits(config: Mapping[str, Any]) -> dict[str, int | None]:
    """Each benchmark's ``--limit`` in a saved run config (None: every problem).  Runs saved before limits were
    kept per benchmark have one ``limit`` for all of their benchmarks."""
    limits = config.get("limits")
    if isinstance(limits, Mapping):
        return dict(limits)
    return {name: config.get("limit") for name in config.get("benchmarks") or []}


def wider_limit(a: int | None, b: int | None) -> int | None:
    """The limit that selects more problems (None selects them all)."""
    return None if a is None or b is None else max(a, b)


def combine_limits(old: Mapping[str, int | None], new: Mapping[str, int | None]) -> dict[str, int | None]:
    """Per-benchmark limits of two sessions of one run: the wider of the two where both ran a benchmark (what
    is stored may reach the wider one, so a complete run must too)."""
    combined = dict(old)
    for name, limit in new.items():
        combined[name] = wider_limit(combined[name], limit) if name in combined else limit
    return combined


def recorded_problem_sets(config: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The problem files a run (or merge input) recorded per benchmark, ``{name: {"count", "sha256"}}``; entries
    without a sha256 (and whole configs written before they were recorded) are left out."""
    sets = config.get("problem_sets")
    if not isinstance(sets, Mapping):
        return {}
    return {name: dict(entry) for name, entry in sets.items()
            if isinstance(entry, Mapping) and isinstance(entry.get("sha256"), str)}


def with_limits(config: dict[str, Any], limits: Mapping[str, int | None]) -> dict[str, Any]:
    """``config`` with per-benchmark ``limits``, and ``limit`` the one they share (absent when they differ)."""
    config = {**config, "limits": dict(limits)}
    shared = set(limits.values())
    if len(shared) <= 1:
        config["limit"] = next(iter(shared), config.get("limit"))
    else:
        config.pop("limit", None)
    return config


def differences(saved: Mapping[str, Any], config: Mapping[str, Any], identity: tuple[str, ...],
                required: tuple[str, ...] = (), comparable: Callable[[str, Any], Any] | None = None) -> list[str]:
    """The identity keys whose values differ between a saved config and a new one.  A key the saved run did not
    save is not compared, unless it is in ``required``."""
    comparable = comparable or (lambda key, value: value)
    return [k for k in identity if (k in saved or k in required)
            and comparable(k, saved.get(k)) != comparable(k, config.get(k))]


def refusal(path: Path, saved: Mapping[str, Any], config: Mapping[str, Any], changed: list[str]) -> TuskError:
    diffs = ", ".join(f"{k}: {saved.get(k)!r} -> {config.get(k)!r}" for k in changed)
    return TuskError(f"{path} holds a run with other settings ({diffs}); use another --out to start a new run")


def check_resumable(path: str | Path, config: Mapping[str, Any], identity: tuple[str, ...],
                    required: tuple[str, ...] = (), comparable: Callable[[str, Any], Any] | None = None) -> None:
    """Raise what :class:`RunStore` would raise for ``config``, comparing only ``identity``, without opening
    the directory: lets a caller refuse a resume before slow work (loading a model)."""
    path = Path(path)
    saved = resumed_config(path)
    if saved is None:
        return
    changed = differences(saved, config, identity, required, comparable)
    if changed:
        raise refusal(path, saved, config, changed)


def resumed_config(path: str | Path) -> dict[str, Any] | None:
    """The saved config of the run in ``path`` when a new session would resume it (it has stored samples);
    None when it would start over."""
    path = Path(path)
    samples = path / SAMPLES
    if not (path / CONFIG).exists() or not samples.exists() or samples.stat().st_size == 0:
        return None
    return _read_config(path / CONFIG)


def _read_config(config_path: Path) -> dict[str, Any]:
    try:
        saved = json.loads(config_path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise DataError(f"{config_path}: not valid JSON ({exc})") from exc
    if not isinstance(saved, dict):
        raise DataError(f"{config_path}: not a run configuration (expected a JSON object)")
    return saved


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
            self._pending: dict[str, dict[str, Any]] = {}
            self._pending_fh: IO[str] | None = None
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
            saved = _read_config(config_path)
            changed = differences(saved, self.config, identity, required, comparable)
            if changed and not self._has_samples():
                log.info("%s: no samples stored yet; starting over with the new settings", self.path)
                saved, changed = {}, []
                (self.path / PENDING).unlink(missing_ok=True)  # generations made with the old settings
            if changed:
                raise refusal(self.path, saved, self.config, changed)
            merged = dict(saved)
            merged.update(self.config)
            # the benchmarks of a resumed run accumulate, so the summary covers everything stored
            benchmarks = list(saved.get("benchmarks", []))
            benchmarks += [b for b in self.config.get("benchmarks", []) if b not in benchmarks]
            merged["benchmarks"] = benchmarks
            if "limits" in self.config or "limit" in self.config:  # and so do their limits, per benchmark
                merged = with_limits(merged, combine_limits(config_limits(saved), config_limits(self.config)))
            for key in PER_BENCHMARK:  # what each benchmark's session recorded about it stays
                earlier, now = saved.get(key), self.config.get(key)
                if isinstance(earlier, Mapping) and isinstance(now, Mapping):
                    merged[key] = {**earlier, **now}
            self.config = merged
        _atomic_write_json(config_path, self.config)

    def update_config(self, **values: Any) -> None:
        """Save more keys in ``config.json`` (what a session adds up, such as the time spent)."""
        self.config.update(values)
        _atomic_write_json(self.path / CONFIG, self.config)

    # -- samples ------------------------------------------------------------------------------------
    def _has_samples(self) -> bool:
        return self._samples_path.exists() and self._samples_path.stat().st_size > 0

    def _repair_and_index(self) -> None:
        if not self._samples_path.exists():
            return
        good_bytes = 0
        lines: dict[str, int] = {}
        with open(self._samples_path, "rb") as fh:
            for number, raw in enumerate(fh, 1):
                if not raw.endswith(b"\n"):  # tusk writes the newline last: only a torn write lacks it
                    log.warning("%s: dropping a torn last line left by an interrupted run", self._samples_path)
                    break
                record = _sample(raw, self._samples_path, number)
                _check_unique(record["id"], lines, self._samples_path, number)
                good_bytes += len(raw)
        self._done.update(lines)
        if good_bytes != self._samples_path.stat().st_size:
            os.truncate(self._samples_path, good_bytes)
        self._load_pending()

    # -- generations of unfinished problems ----------------------------------------------------------
    def _load_pending(self) -> None:
        """Read ``pending.jsonl``, keeping what belongs to unfinished problems (torn or bad lines are dropped:
        the generation is simply made again)."""
        path = self.path / PENDING
        if not path.exists():
            return
        kept: dict[str, dict[str, Any]] = {}
        with open(path, "rb") as fh:
            for raw in fh:
                try:
                    entry = json.loads(raw)
                    if entry["id"] not in self._done:
                        kept[entry["id"]] = entry
                except (ValueError, KeyError, TypeError):
                    continue
        self._pending = kept
        if kept:
            _atomic_write_text(path, "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in kept.values()))
        else:
            path.unlink()

    def keep_generation(self, problem_id: str, prompt: str, generation: Generation) -> None:
        """Keep a finished generation of an unfinished problem (fsynced), for :meth:`kept_generation`."""
        entry = {"id": problem_id, "prompt": prompt, "generation": to_dict(generation)}
        if self._pending_fh is None:
            self._pending_fh = open(self.path / PENDING, "a", encoding="utf-8")  # noqa: SIM115 - until close()
        self._pending_fh.write(json.dumps(entry, ensure_ascii=False) + "\n")
        self._pending_fh.flush()
        os.fsync(self._pending_fh.fileno())
        self._pending[problem_id] = entry

    def kept_generation(self, problem_id: str, prompt: str) -> Generation | None:
        """The generation kept for ``problem_id`` from this very prompt, if any."""
        entry = self._pending.get(problem_id)
        if entry is None or entry.get("prompt") != prompt:
            return None
        try:
            g = entry["generation"]
            return Generation(request_id=problem_id, texts=tuple(g["texts"]),
                              prompt_tokens=int(g.get("prompt_tokens", 0)),
                              completion_tokens=int(g.get("completion_tokens", 0)),
                              seconds=float(g.get("seconds", 0.0)), finish_reasons=tuple(g.get("finish_reasons", ())))
        except (KeyError, TypeError, ValueError):
            return None

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
        self._pending.pop(record.id, None)

    def records(self) -> Iterator[dict[str, Any]]:
        return read_samples(self.path)

    def write_summary(self, summary: Mapping[str, Any]) -> Path:
        path = self.path / SUMMARY
        _atomic_write_json(path, summary)
        return path

    def close(self) -> None:
        if not self._fh.closed:
            self._fh.close()
        if self._pending_fh is not None and not self._pending_fh.closed:
            self._pending_fh.close()
        if not self._pending:  # every problem with a kept generation was finished
            (self.path / PENDING).unlink(missing_ok=True)
        self._lock.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_samples(run_dir: str | Path) -> Iterator[dict[str, Any]]:
    """Every sample record of a run directory.  A torn last line (one without its newline: a killed run) is
    skipped; a complete line that is not a valid sample record, or a problem stored twice, raises DataError
    naming the file and line."""
    path = Path(run_dir) / SAMPLES
    if not path.exists():
        return
    lines: dict[str, int] = {}
    with open(path, "rb") as fh:
        for number, raw in enumerate(fh, 1):
            if not raw.endswith(b"\n"):
                return
            record = _sample(raw, path, number)
            check_sample(record, f"{path} line {number}")
            _check_unique(record["id"], lines, path, number)
            yield record


def check_sample(record: Any, where: str) -> None:
    """Raise DataError (prefixed by ``where``) unless ``record`` has what a summary counts."""
    if not isinstance(record, Mapping):
        raise DataError(f"{where}: a sample record is {type(record).__name__}, not an object")
    for key, kinds in (("benchmark", str), ("correct", (bool, int))):
        if not isinstance(record.get(key), kinds):
            raise DataError(f"{where}: sample {record.get('id')!r}: missing or invalid {key!r}")


def _sample(raw: bytes, path: Path, number: int) -> dict[str, Any]:
    """One complete line's sample record; DataError naming the line when it is not one."""
    try:
        record = json.loads(raw)
    except ValueError:
        record = None
    if not (isinstance(record, dict) and isinstance(record.get("id"), str)):
        raise DataError(f"{path} line {number}: corrupt sample record")
    return record


def _check_unique(sample_id: str, lines: dict[str, int], path: Path, number: int) -> None:
    if sample_id in lines:
        raise DataError(f"{path} line {number}: sample {sample_id!r} is already stored on line {lines[sample_id]}")
    lines[sample_id] = number


def load_config(run_dir: str | Path) -> dict[str, Any]:
    """A run's config.json ({} when it has none)."""
    path = Path(run_dir) / CONFIG
    return _read_config(path) if path.exists() else {}


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
    _atomic_write_text(path, json.dumps(value, indent=2, ensure_ascii=False) + "\n")


def _atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
