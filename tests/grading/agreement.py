"""Agreement of graders with careful human verdicts on the case tables in ``cases/*.jsonl``.

Each case is a real-looking model output (CoT text or PoT stdout) with the verdict a careful human gives.
Used by ``test_cases.py`` and runnable on its own to print the report:
``python tests/grading/agreement.py`` (strict, mammoth and math-verify alone, per benchmark).
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

CASES_DIR = Path(__file__).parent / "cases"


@dataclass(frozen=True)
class Case:
    id: str
    benchmark: str
    mode: str
    gold: str
    response: str
    human: bool
    choices: tuple[str, ...] = ()
    question: str = ""
    note: str = ""
    xfail: str = ""


def load_cases() -> list[Case]:
    cases = []
    for path in sorted(CASES_DIR.glob("*.jsonl")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                raw = json.loads(line)
                raw["choices"] = tuple(raw.get("choices") or ())
                cases.append(Case(**raw))
            except (json.JSONDecodeError, TypeError) as exc:
                raise ValueError(f"{path}:{number}: bad case ({exc})") from exc
    return cases


def problem_of(case: Case):
    from tusk.types import Problem

    return Problem(
        id=case.id,
        benchmark=case.benchmark,
        question=case.question or "q",
        answer=case.gold,
        choices=case.choices,
    )


def mathverify_alone(case: Case) -> bool:
    """math-verify used as most projects use it: parse gold and response, then ``verify``."""
    from math_verify import ExprExtractionConfig, LatexExtractionConfig, StringExtractionConfig, parse, verify

    letters = len(case.gold.strip("()")) == 1 and case.gold.strip("()").isalpha()
    if letters:
        config = [StringExtractionConfig(lowercase=False)]
        gold = parse(case.gold.strip("()").upper(), config)
        pred = parse(case.response, config)
    else:
        gold = parse("$" + case.gold + "$", [LatexExtractionConfig(), ExprExtractionConfig()])
        pred = parse(case.response)
    try:
        return bool(verify(gold, pred, timeout_seconds=3))
    except Exception:  # noqa: BLE001 - a crash in the baseline is a "wrong" verdict
        return False


def verdicts(cases: list[Case], which: str) -> list[bool]:
    if which == "math-verify":
        return [mathverify_alone(c) for c in cases]
    from tusk.grading import get_grader

    grader = get_grader(which)
    return [grader.grade(c.response, problem_of(c), c.mode).correct for c in cases]


def table(cases: list[Case], results: dict[str, list[bool]]) -> list[dict]:
    """Rows of (grader, benchmark or 'all', n, agree, false positives, false negatives)."""
    rows = []
    benches = sorted({c.benchmark for c in cases}) + ["all"]
    for name, got in results.items():
        for bench in benches:
            idx = [i for i, c in enumerate(cases) if bench in ("all", c.benchmark)]
            fp = sum(1 for i in idx if got[i] and not cases[i].human)
            fn = sum(1 for i in idx if not got[i] and cases[i].human)
            rows.append(
                {
                    "grader": name,
                    "benchmark": bench,
                    "n": len(idx),
                    "agree": len(idx) - fp - fn,
                    "false_pos": fp,
                    "false_neg": fn,
                }
            )
    return rows


def main() -> int:
    from rich.console import Console
    from rich.table import Table

    cases = load_cases()
    results = {name: verdicts(cases, name) for name in ("strict", "mammoth", "math-verify")}
    out = Table(title=f"agreement with human verdicts ({len(cases)} cases)")
    for col in ("grader", "benchmark", "n", "agree", "agree %", "false +", "false -"):
        out.add_column(col, justify="left" if col in ("grader", "benchmark") else "right")
    for row in table(cases, results):
        out.add_row(
            row["grader"],
            row["benchmark"],
            str(row["n"]),
            str(row["agree"]),
            f"{100 * row['agree'] / row['n']:.1f}",
            str(row["false_pos"]),
            str(row["false_neg"]),
        )
    Console().print(out)
    if "-v" in sys.argv:
        for name, got in results.items():
            for c, g in zip(cases, got):
                if g != c.human:
                    print(f"{name:12} {c.id:16} human={c.human!s:5} got={g!s:5} {c.note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
