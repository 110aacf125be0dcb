"""``tusk grade [FILE|-]``: grade model answers given as JSONL.

Input, one object per line: ``{"id", "benchmark", "mode": "cot"|"pot", "response", "gold", "choices"?,
"question"?}`` (``response`` is the model's text in cot mode, the program's stdout in pot mode).  ``question``
(optional, the problem text) changes some verdicts as in ``tusk eval``: SimulEq answers that label each
unknown are read by the one the question asks first, "Factor ..." needs a factored answer, "Sort ..." /
"in increasing order" makes lists ordered, and lettered options listed in a DeepMind question map to their
values; give it for these benchmarks to grade as ``tusk eval`` does.  With ``choices``, ``gold`` must be one
of their letters (``"C"``, ``"(C)"``, or ``"C)36"`` naming the same option text); anything else (an option
text, a 0-based index) is refused with an error naming the line.  Output on stdout, one
line per input line in the same order: ``{"id", "prediction", "correct", "rule"}``.  Every input line is
checked before any grading starts (UTF-8, a JSON object, ``benchmark`` a string, ``gold`` a string or a
number, ...); a bad line stops the command with an error naming the file, line and field.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from tusk.errors import DataError, TuskError

HELP = (
    "grade answers (JSONL in: id, benchmark, mode, response, gold, choices?, question?; JSONL out: id, "
    "prediction, correct, rule). question, the problem text, is optional but changes verdicts as in tusk eval "
    "(SimulEq labels, Factor, Sort, DeepMind lettered options); with choices, gold must be a choice letter"
)

_MODES = ("cot", "pot")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", nargs="?", default="-", help="JSONL file to grade, or - for stdin (default)")
    parser.add_argument(
        "--grader",
        default="strict",
        choices=("strict", "mammoth"),
        help="strict (default): exact equivalence; mammoth: the paper's rules",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=None,
        help="seconds allowed for one symbolic equivalence check (strict grader; default 3)",
    )
    parser.add_argument("--summary", action="store_true", help="print accuracy per benchmark to stderr")


def _load(path: str) -> list[dict[str, Any]]:
    """Every record of the input, checked; the first bad line raises DataError naming the file and line."""
    if path == "-":
        stream = getattr(sys.stdin, "buffer", sys.stdin)  # bytes where there are any: decoded per line below
        return _records("<stdin>", stream)
    p = Path(path)
    if not p.is_file():
        raise TuskError(f"no such file: {path}")
    try:
        with p.open("rb") as handle:
            return _records(str(p), handle)
    except OSError as exc:
        raise TuskError(f"cannot read {path}: {exc.strerror or exc}") from exc


def _records(name: str, lines: Iterable[bytes | str]) -> list[dict[str, Any]]:
    records = []
    for number, raw in enumerate(lines, 1):
        if isinstance(raw, bytes):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise DataError(
                    f"{name}:{number}: not valid UTF-8 (byte 0x{raw[exc.start]:02x} at column {exc.start + 1})"
                ) from None
        else:
            line = raw
        if line.strip():
            records.append(_parse(name, number, line))
    return records


def _parse(name: str, number: int, line: str) -> dict[str, Any]:
    where = f"{name}:{number}"
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise DataError(f"{where}: not valid JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(record, dict):
        raise DataError(f"{where}: expected a JSON object, got {type(record).__name__}")
    for field in ("id", "benchmark", "mode", "response", "gold"):
        if field not in record:
            raise DataError(f"{where}: missing field {field!r}")
    if not isinstance(record["benchmark"], str):
        raise DataError(f"{where}: field 'benchmark' must be a string, got {_json_type(record['benchmark'])}")
    if record["mode"] not in _MODES:
        raise DataError(f"{where}: field 'mode' must be 'cot' or 'pot', got {record['mode']!r}")
    if record["response"] is not None and not isinstance(record["response"], str):
        raise DataError(f"{where}: field 'response' must be a string")
    gold = record["gold"]
    if isinstance(gold, bool) or not isinstance(gold, (str, int, float)):
        raise DataError(f"{where}: field 'gold' must be a string or a number, got {_json_type(gold)}")
    if isinstance(gold, float) and not math.isfinite(gold):
        raise DataError(f"{where}: field 'gold' must be a finite number, got {gold}")
    choices = record.get("choices") or []
    if not isinstance(choices, list) or not all(isinstance(c, str) for c in choices):
        raise DataError(f"{where}: field 'choices' must be a list of strings")
    question = record.get("question")
    if question is not None and not isinstance(question, str):
        raise DataError(f"{where}: field 'question' must be a string, got {_json_type(question)}")
    if choices:
        record = {**record, "gold": _choice_gold(where, _gold_text(gold), choices)}
    return record


_LETTER_GOLD = re.compile(r"\s*\(?([A-Za-z])\s*(?:\)|\.|:)?\s*(.*?)\s*", re.DOTALL)


def _choice_gold(where: str, gold: str, choices: list[str]) -> str:
    """The gold letter of a multiple-choice line: ``"C"``, ``"(C)"``, or ``"C)36"`` / ``"(C) 36"`` whose text
    is that option's; anything else raises DataError naming the line."""
    from tusk.prompts import split_choice

    try:
        options = dict(split_choice(c) for c in choices)
    except TuskError:
        options = {chr(ord("A") + i): c for i, c in enumerate(choices)}
    letters = list(options)
    m = _LETTER_GOLD.fullmatch(gold)
    if m and m.group(1).upper() in options:
        letter, text = m.group(1).upper(), m.group(2)
        if not text or text.replace(" ", "") == options[letter].replace(" ", ""):
            return letter
    raise DataError(
        f"{where}: field 'gold' must be one of the choice letters {letters} when 'choices' are given, got "
        f"{gold!r} (give the letter of the right option, e.g. {letters[0]!r}, not its text or index)"
    )


def _json_type(value: Any) -> str:
    """How JSON spells the type of ``value`` (null, true, a list, ...), for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return json.dumps(value)
    names = {dict: "an object", list: "a list", str: "a string", int: "a number", float: "a number"}
    return names.get(type(value), type(value).__name__)


def _gold_text(gold: Any) -> str:
    if isinstance(gold, str):
        return gold
    if isinstance(gold, float) and gold.is_integer():
        return repr(gold)
    return str(gold)


def run(args: argparse.Namespace) -> int:
    from tusk.grading import get_grader
    from tusk.types import Problem

    grader = get_grader(args.grader)
    if args.timeout is not None:
        if args.timeout <= 0:
            raise TuskError("--timeout must be positive")
        if hasattr(grader, "timeout"):  # a grader of its own, not the shared instance
            grader = type(grader)(timeout=args.timeout)
    records = _load(args.file)
    totals: dict[str, list[int]] = {}
    out = sys.stdout
    for record in _progress(records):
        problem = Problem(
            id=str(record["id"]),
            benchmark=str(record["benchmark"]),
            question=str(record.get("question") or ""),
            answer=_gold_text(record["gold"]),
            choices=tuple(record.get("choices") or ()),
        )
        grade = grader.grade(record["response"] or "", problem, record["mode"])
        out.write(
            json.dumps(
                {
                    "id": record["id"],
                    "prediction": grade.prediction,
                    "correct": grade.correct,
                    "rule": grade.rule,
                },
                ensure_ascii=False,
            )
            + "\n"
        )
        t = totals.setdefault(_summary_name(problem.benchmark), [0, 0])
        t[0] += 1
        t[1] += int(grade.correct)
    out.flush()
    if args.summary:
        _print_summary(totals, grader)
    return 0


def _summary_name(benchmark: str) -> str:
    """The canonical name a summary row is keyed by: ``"GSM8K"`` and ``"gsm8k"`` are one row; MATH-500 stays
    apart from MATH; a benchmark tusk does not know keeps its own (lower-cased) name."""
    from tusk.grading.profiles import key

    if re.sub(r"[^a-z0-9]", "", benchmark.lower()) == "math500":
        return "math500"
    name = key(benchmark)
    return benchmark.strip().lower() if name == "generic" else name


def _progress(records: list[dict[str, Any]]):
    from tusk.progress import ProgressBar

    with ProgressBar("grading", len(records), unit="grade", enabled=len(records) >= 200, transient=True) as bar:
        for record in records:
            yield record
            bar.advance()


def _print_summary(totals: dict[str, list[int]], grader) -> None:
    from rich.table import Table

    from tusk.commands import result_console

    table = Table(title=f"grader {grader.name} v{grader.version}")
    table.add_column("benchmark")
    table.add_column("n", justify="right")
    table.add_column("correct", justify="right")
    table.add_column("accuracy", justify="right")
    for bench, (n, correct) in sorted(totals.items()):
        table.add_row(bench, str(n), str(correct), f"{100 * correct / n:.1f}%" if n else "-")
    result_console(stderr=True).print(table)
