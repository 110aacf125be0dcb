"""MMLU-Math (974 four-option questions from five MMLU subjects; out-of-domain).

Upstream (MAmmoTH's copy): a JSON array of ``{"question", "subject", "choices": [4 strings],
"answer": <0-based index>}`` holding the test splits of elementary mathematics (378), high-school
mathematics (270), college mathematics (100), abstract algebra (100) and formal logic (126), in that order.
Choices become ``("A)<text>", ...)``; the gold is the letter; ``meta["subject"]`` keeps the subject.
Ids are ``mmlu_math/<0-based index>``.

:func:`load_raw_csv` reads the same questions from the raw MMLU CSVs (``question,A,B,C,D,answer``, no header)
for any split; for the test split it yields exactly the problems (and ids) of the JSON file.
"""

from __future__ import annotations

from pathlib import Path

from tusk.benchmarks.base import Benchmark, pinned
from tusk.benchmarks.readers import need, read_json_array, read_mmlu_csv
from tusk.datasets import resolve_file
from tusk.errors import DataError
from tusk.types import Problem

SUBJECTS = ("elementary_mathematics", "high_school_mathematics", "college_mathematics", "abstract_algebra",
            "formal_logic")
LETTERS = "ABCD"


def _problem(name: str, index: int, question: str, options: list[str], gold: str, subject: str) -> Problem:
    choices = tuple(f"{letter}){str(text).strip()}" for letter, text in zip(LETTERS, options))
    return Problem(id=f"{name}/{index}", benchmark=name, question=question.strip(), answer=gold,
                   choices=choices, meta={"subject": subject})


def read_mmlu_math(files, name: str = "mmlu_math") -> list[Problem]:
    problems = []
    for path, relpath in files:
        for index, (where, record) in enumerate(read_json_array(path, relpath)):
            options = need(record, "choices", where, list)
            if len(options) != 4:
                raise DataError(f"{where}: expected 4 choices, got {len(options)}")
            answer = need(record, "answer", where, (int, str))
            if isinstance(answer, int):
                if not 0 <= answer < 4:
                    raise DataError(f"{where}: answer index {answer} is not 0-3")
                gold = LETTERS[answer]
            elif answer.strip().upper() in LETTERS:
                gold = answer.strip().upper()
            else:
                raise DataError(f"{where}: answer {answer!r} is neither 0-3 nor A-D")
            problems.append(_problem(name, index, need(record, "question", where), options, gold,
                                     record.get("subject", "")))
    return problems


def load_raw_csv(data_dir: str | Path | None = None, split: str = "test",
                 subjects: tuple[str, ...] = SUBJECTS, name: str = "mmlu_math") -> list[Problem]:
    """The MMLU-Math questions of ``split`` ("dev", "val" or "test") read from the raw MMLU CSVs."""
    problems: list[Problem] = []
    for subject in subjects:
        relpath = f"mmlu_math/raw/{split}/{subject}_{split}.csv"
        for where, row in read_mmlu_csv(resolve_file(relpath, data_dir), relpath):
            problems.append(_problem(name, len(problems), row[0], row[1:5], row[5].strip(), subject))
    return problems


BENCHMARK = Benchmark(
    name="mmlu_math",
    domain="out",
    description="MMLU-Math: five mathematics subjects of MMLU, four options (Hendrycks et al. 2021)",
    expected_count=974,
    answer_type="choice",
    files=pinned("mmlu_math/mathematics.json"),
    reader=read_mmlu_math,
)
