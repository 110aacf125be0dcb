"""Shared pieces of the source loaders: the :class:`Source` record, file readers, and small text helpers.

Readers raise :class:`~tusk.errors.DataError` naming the file and where in it: "line N" (1-based) in a JSON
lines file, "record N (0-based)" in a JSON array.  An empty question is an error; so is a directory given as
a file.  Relative ``files`` in a build config are looked for in the config file's folder first, then in the
data dir.
"""

from __future__ import annotations

import importlib
import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tusk.data.records import SourceItem
from tusk.errors import DataError, TuskError

log = logging.getLogger(__name__)

Loader = Callable[[Path], Iterator[SourceItem]]


@dataclass(frozen=True)
class Source:
    """One upstream dataset the builder can read.

    ``files`` are the default paths relative to the data dir (``tusk.datasets.resolve_file`` finds them);
    ``url`` is where users get the file when it is not in the data dir (sources too large to ship);
    ``modes`` are the rationale modes the upstream file itself provides (empty: questions and answers only,
    rationales must be synthesised); ``benchmark`` is the evaluation set whose grading rules fit the source;
    ``eval_set`` names the evaluation benchmark that the default files *are* (the shared NumGLUE and TheoremQA
    copies): the builder always decontaminates such a component against that benchmark.
    """

    name: str
    description: str
    loader: str  # "module:function" inside tusk.data.sources
    files: tuple[str, ...]
    modes: tuple[str, ...]
    benchmark: str
    licence: str
    url: str = ""
    note: str = ""
    eval_set: str = ""

    def load_file(self, path: Path) -> Iterator[SourceItem]:
        """Read one file in this source's upstream format."""
        module_name, _, func = self.loader.partition(":")
        module = importlib.import_module(f"tusk.data.sources.{module_name}")
        loader: Loader = getattr(module, func)
        if not Path(path).is_file():
            raise DataError(f"source {self.name}: {path} is not a file")
        return loader(Path(path))

    def resolve(
        self,
        files: tuple[str, ...] | list[str] | None = None,
        data_dir: str | Path | None = None,
        base: str | Path | None = None,
    ) -> list[Path]:
        """Absolute paths of ``files`` (default: the source's own), found as ``tusk.datasets`` finds data;
        ``base`` is the folder of the config that lists them (relative paths are looked for there first)."""
        wanted = tuple(files) if files else self.files
        return [resolve_source_file(self, rel, data_dir, base=base if files else None) for rel in wanted]

    def load(
        self, files: tuple[str, ...] | list[str] | None = None, data_dir: str | Path | None = None
    ) -> Iterator[SourceItem]:
        for path in self.resolve(files, data_dir):
            yield from self.load_file(path)


def resolve_source_file(source: Source, rel: str, data_dir: str | Path | None, base: str | Path | None = None) -> Path:
    """An absolute path as given; a relative one in ``base`` (the config file's folder) when given, else in the
    working folder; then the data dir / cache / pinned download lookup."""
    candidate = Path(rel).expanduser()
    local = candidate if candidate.is_absolute() or base is None else Path(base) / candidate
    if local.is_dir():
        raise DataError(f"source {source.name}: {local} is a directory, not a file")
    if local.is_file():
        return local.resolve()
    if candidate.is_absolute():
        raise DataError(f"source {source.name}: {candidate} does not exist")
    try:
        from tusk.datasets import resolve_file
    except ImportError:  # pragma: no cover - only while tusk.datasets is not installed
        resolve_file = None
    if resolve_file is not None:
        try:
            return Path(resolve_file(rel, data_dir))
        except TuskError as exc:
            hint = f"; download it from {source.url}" if source.url else ""
            raise DataError(f"source {source.name}: {exc}{hint}") from exc
    base = Path(data_dir) if data_dir else None
    if base and (base / rel).is_file():
        return (base / rel).resolve()
    hint = f" (download it from {source.url})" if source.url else ""
    raise DataError(f"source {source.name}: cannot find {rel}{hint}; pass --data-dir DIR or set TUSK_DATA_DIR")


class Where(int):
    """Where a record is: its line number in a JSON lines file (1-based) or its index in a JSON array (0-based).

    An ``int`` (record ids built from it are unchanged); :attr:`label` says which: "line 3", "record 0 (0-based)".
    """

    array: bool = False

    def __new__(cls, value: int, array: bool = False) -> Where:  # noqa: PYI034
        obj = super().__new__(cls, value)
        obj.array = array
        return obj

    @property
    def label(self) -> str:
        return f"record {int(self)} (0-based)" if self.array else f"line {int(self)}"


def at(path: Path, where: int) -> str:
    """``"FILE line N"`` / ``"FILE record N (0-based)"`` for error messages."""
    label = where.label if isinstance(where, Where) else f"record {where}"
    return f"{path} {label}"


def question_text(path: Path, where: int, record: dict[str, Any], *names: str) -> str:
    """The record's question (first of ``names``), stripped; an empty one is an error naming file and line."""
    text = str(field(path, where, record, *names)).strip()
    if not text:
        raise DataError(f"{at(path, where)}: empty {names[0]!r}")
    return text


def read_records(path: Path) -> Iterator[tuple[Where, dict[str, Any]]]:
    """(where, record) from a JSON array or JSON lines file (sniffed, whatever the extension; a UTF-8 byte
    order mark is accepted); ``where`` is the 1-based line of a JSON lines file or the 0-based array index."""
    if path.is_dir():
        raise DataError(f"{path}: is a directory, not a file")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise DataError(f"{path}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text ({exc})") from exc
    stripped = text.lstrip()
    if stripped.startswith("["):
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise DataError(f"{path}: invalid JSON ({exc})") from exc
        if not isinstance(data, list):
            raise DataError(f"{path}: expected a JSON array of objects")
        for index, record in enumerate(data):
            where = Where(index, array=True)
            if not isinstance(record, dict):
                raise DataError(f"{at(path, where)}: expected an object, got {type(record).__name__}")
            yield where, record
        return
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError as exc:
            raise DataError(f"{path} line {number}: invalid JSON ({exc})") from exc
        if not isinstance(record, dict):
            raise DataError(f"{path} line {number}: expected an object, got {type(record).__name__}")
        yield Where(number), record


def field(path: Path, where: int, record: dict[str, Any], *names: str) -> Any:
    """The first of ``names`` present in ``record``; a DataError naming the file and record otherwise."""
    for name in names:
        if name in record and record[name] is not None:
            return record[name]
    raise DataError(f"{at(path, where)}: missing field {' / '.join(repr(n) for n in names)}")


def answer_string(value: Any) -> str:
    """A gold answer as a string: ints stay ints, integral floats lose ``.0``, lists keep list syntax."""
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(answer_string(v) for v in value) + "]"
    return str(value).strip()
