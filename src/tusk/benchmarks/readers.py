"""Reading upstream benchmark files: JSON lines, JSON arrays, MMLU CSVs, and the small formats inside them.

Every reader reports a malformed record as one :class:`~tusk.errors.DataError` naming the file (as its
path relative to the data folder) and the line, e.g. ``gsm8k/test.jsonl line 17: no '####' answer``.
JSON arrays are walked element by element so that their errors name a line too.

Also here, shared by the benchmark modules: gold formatting (:func:`format_gold`), the last ``\\boxed{}`` of
a MATH solution (:func:`last_boxed`) and inline answer choices (:func:`split_answer_choices`).
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

from tusk.errors import DataError, TuskError

_WS = re.compile(r"\s*")


def read_jsonl(path: Path, relpath: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """``(where, record)`` for each non-blank line; ``where`` is ``"<relpath> line N"``."""
    with open(path, encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            where = f"{relpath} line {number}"
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"{where}: not valid JSON ({exc.msg})") from None
            yield where, _object(record, where)


def read_json_array(path: Path, relpath: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """``(where, record)`` for each element of a top-level JSON array, ``where`` naming its first line."""
    text = path.read_text(encoding="utf-8")
    decoder = json.JSONDecoder()
    pos = _WS.match(text, 0).end()
    if not text.startswith("[", pos):
        raise DataError(f"{relpath} line {text.count(chr(10), 0, pos) + 1}: expected a JSON array")
    line, counted = 1, 0
    pos = _WS.match(text, pos + 1).end()
    if text.startswith("]", pos):
        return
    while True:
        line += text.count("\n", counted, pos)
        counted = pos
        where = f"{relpath} line {line}"
        try:
            record, pos = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            raise DataError(f"{relpath} line {exc.lineno}: not valid JSON ({exc.msg})") from None
        yield where, _object(record, where)
        pos = _WS.match(text, pos).end()
        if text.startswith(",", pos):
            pos = _WS.match(text, pos + 1).end()
        elif text.startswith("]", pos):
            return
        else:
            raise DataError(f"{relpath} line {line + text.count(chr(10), counted, pos)}: expected ',' or "
                            f"']' after a record")


def read_mmlu_csv(path: Path, relpath: str) -> Iterator[tuple[str, list[str]]]:
    """``(where, [question, A, B, C, D, answer])`` for each row of a raw MMLU CSV (no header)."""
    with open(path, encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        start = 1
        for row in reader:
            where = f"{relpath} line {start}"
            start = reader.line_num + 1
            if len(row) != 6 or row[5].strip() not in ("A", "B", "C", "D"):
                raise DataError(f"{where}: expected 6 columns (question, A, B, C, D, answer letter), "
                                f"got {len(row)}")
            yield where, row


def _object(record: Any, where: str) -> dict[str, Any]:
    if not isinstance(record, dict):
        raise DataError(f"{where}: expected a JSON object, got {type(record).__name__}")
    return record


def need(record: dict[str, Any], key: str, where: str, kinds: type | tuple[type, ...] = str) -> Any:
    """``record[key]``, which must exist and be of ``kinds`` (bool never passes for a number)."""
    if key not in record or record[key] is None:
        raise DataError(f"{where}: missing field {key!r}")
    value = record[key]
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in _tuple(kinds)):
        wanted = " or ".join(k.__name__ for k in _tuple(kinds))
        raise DataError(f"{where}: field {key!r} is {type(value).__name__}, expected {wanted}")
    if isinstance(value, str) and not value.strip():
        raise DataError(f"{where}: field {key!r} is empty")
    return value


def _tuple(kinds: type | tuple[type, ...]) -> tuple[type, ...]:
    return kinds if isinstance(kinds, tuple) else (kinds,)


def format_gold(value: Any) -> str:
    """A gold answer as a string: numbers without a spurious ``.0`` or exponent, lists as ``[a, b]``.

    Strings are kept as upstream wrote them (stripped): DeepMind's ``"1363.0"`` stays ``"1363.0"``.
    """
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value.is_integer():
            return str(int(value))
        text = format(Decimal(repr(value)), "f")
        return text
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(format_gold(v) for v in value) + "]"
    return str(value).strip()


def check_choice_answer(choices: tuple[str, ...], gold: str, where: str, noun: str = "choices") -> None:
    """Every choice must carry a letter and the gold must be one of them; else DataError naming ``where``."""
    from tusk.prompts import split_choice

    try:
        letters = [split_choice(c)[0] for c in choices]
    except TuskError as exc:
        raise DataError(f"{where}: {exc}") from None
    if gold not in letters:
        raise DataError(f"{where}: answer {gold!r} is not one of the {noun} {letters}")


def last_boxed(text: str) -> str | None:
    """The content of the last ``\\boxed{...}`` (or ``\\fbox{...}``, or ``\\boxed 5``), braces balanced."""
    start = max(text.rfind("\\boxed"), text.rfind("\\fbox"))
    if start < 0:
        return None
    head = re.compile(r"\\(?:boxed|fbox)(\s*)").match(text, start)
    assert head is not None
    body = text[head.end():]
    if not body.startswith("{"):
        token = re.match(r"[^\s$]+", body)  # "\boxed 5$": one token after a space
        return token.group(0) if token and head.group(1) else None
    depth = 0
    for i, char in enumerate(body):
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return body[1:i]
    return None


_CHOICES_MARK = re.compile(r"\s*Answer Choices:\s*")


def split_answer_choices(question: str, where: str) -> tuple[str, tuple[str, ...]]:
    """``"Q? \\nAnswer Choices: (A) 2 (B) 4"`` -> ``("Q?", ("A)2", "B)4"))``; no marker -> ``(question, ())``.

    Options are the text between consecutive markers ``(A)``, ``(B)``, ... found in order.
    """
    mark = _CHOICES_MARK.search(question)
    if mark is None:
        return question.strip(), ()
    stem, listing = question[: mark.start()].rstrip(), question[mark.end():]
    starts: list[tuple[str, int, int]] = []
    pos = 0
    for letter in "ABCDEFGH":
        found = listing.find(f"({letter})", pos)
        if found < 0:
            break
        starts.append((letter, found, found + 3))
        pos = found + 3
    if len(starts) < 2 or starts[0][1] != 0:
        raise DataError(f"{where}: cannot read the answer choices in {listing[:80]!r}")
    choices = []
    for i, (letter, _, text_start) in enumerate(starts):
        end = starts[i + 1][1] if i + 1 < len(starts) else len(listing)
        choices.append(f"{letter}){listing[text_start:end].strip()}")
    return stem, tuple(choices)
