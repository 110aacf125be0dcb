"""Benchmark: grade a whole run over the paper's nine benchmarks (about 11,300 samples) and report grades/s
and the worst single grade time.

Samples are synthesised from the real golds (read through ``--data-dir`` / ``TUSK_DATA_DIR`` and tusk's
benchmark loaders), one per problem, deterministic from ``--seed``: chain-of-thought texts that restate the
question and end in the usual answer forms ("The answer is", ``####``, ``\\boxed{}``, units, thousands
separators, option letters and option values), PoT stdouts (float reprs, float noise, printed lists), and
wrong answers (off by one, scaled by 100, another option, two letters, no answer).  ``--pathological``
samples answer with power towers such as ``5^{5^{5^{5}}}``, which must cost no more than the time limit.

Side by side in the same run (same samples):
- tusk ``strict`` (timed per grade; ``--workers`` processes, each with its own checker process);
- tusk ``mammoth`` (the paper's rules, pure Python);
- math-verify alone (``parse`` + ``verify`` with its own 3 s timeouts) on an evenly spaced subset
  (``--baseline-count``), because it is slow.

    python benchmarks/grading.py --data-dir ../shared/data              # full run
    python benchmarks/grading.py --data-dir ../shared/data --limit 100  # quick: 100 per benchmark

Prints a table and writes JSON (``--json``, default benchmarks/results/grading.json).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from bench_common import evenly_spaced, existing_dir, non_negative_int, positive_float, positive_int, run_main

NINE = ("gsm8k", "math", "aqua", "numglue", "svamp", "deepmind", "simuleq", "sat", "mmlu_math")
FILLER = [
    "Let's solve this step by step.",
    "First we work out the quantities given in the question.",
    "We add the two amounts and subtract what was used.",
    "Now we simplify the expression.",
    "Checking the arithmetic once more gives the same value.",
    "So we substitute the values back in.",
]
TOWERS = [
    "\\boxed{5^{5^{5^{5}}}}",
    "The answer is 9^(9^(9^9))",
    "The answer is $\\prod_{k=1}^{3000} (x+k)$",
    "The answer is $(x+1)^{3000}$",
    "\\boxed{\\binom{100000}{50000}}",
    "The answer is 10^{10^{10}}",
]
"""Pathological answers: towers are refused by the guard; the rest reach the checker's time limit."""


@dataclass(frozen=True)
class Sample:
    id: str
    benchmark: str
    mode: str
    response: str
    gold: str
    choices: tuple[str, ...]
    question: str
    intended: bool


def _reasoning(rng: random.Random, question: str) -> str:
    words = question.split()
    head = " ".join(words[: rng.randint(10, 40)])
    return f"{head} ...\n" + " ".join(rng.sample(FILLER, 3)) + "\n"


def _number(gold: str) -> Fraction | None:
    try:
        return Fraction(gold.replace(",", ""))
    except (ValueError, ZeroDivisionError):
        return None


def _fmt(value: Fraction) -> str:
    if value.denominator == 1:
        return str(value.numerator)
    return repr(float(value))


def _numeric(rng, reason, gold, value):
    """(mode, response, intended) for a gold that is a plain number."""
    k = rng.random()
    g = _fmt(value)
    if k < 0.12:
        return "cot", f"{reason}The answer is {g}.", True
    if k < 0.20:
        big = f"{value.numerator:,}" if value.denominator == 1 else g
        return "cot", f"{reason}So the total is ${big}. The answer is ${big}.", True
    if k < 0.27:
        return "cot", f"{reason}#### {g}", True
    if k < 0.34:
        return "cot", f"{reason}The final answer is $\\boxed{{{g}}}$.", True
    if k < 0.40:
        return "cot", f"{reason}The answer is {g} units.", True
    if k < 0.52:
        return "pot", f"{float(value)!r}\n", True
    if k < 0.58:
        return "pot", f"{float(value) * (1 + 2e-16)!r}\n", True
    if k < 0.64:
        return "pot", f"{g}\n", True
    if k < 0.74:
        return "cot", f"{reason}The answer is {_fmt(value + 1)}.", False
    if k < 0.80:
        return "pot", f"{float(value + Fraction(1, 2))!r}\n", False
    if k < 0.86:
        if value == 0:
            return "cot", f"{reason}The answer is 1.", False
        return "cot", f"{reason}The answer is {_fmt(value / 100)}.", False
    if k < 0.93:
        return "cot", f"{reason}I cannot determine the answer from this.", False
    return "pot", "", False


def _choice(rng, reason, gold, options):
    letters = [k for k, _ in options]
    text = dict(options).get(gold)
    other = rng.choice([x for x in letters if x != gold] or letters)
    k = rng.random()
    if k < 0.25:
        return "cot", f"{reason}The answer is ({gold}).", True
    if k < 0.40:
        return "cot", f"{reason}The answer is {gold}", True
    if k < 0.50 and text:
        return "cot", f"{reason}The answer is ({gold}) {text}", True
    if k < 0.62:
        return "pot", f"{gold}\n", True
    if k < 0.80:
        return "cot", f"{reason}The answer is ({other}).", other == gold
    if k < 0.90:
        return "cot", f"{reason}The answer is ({gold}) or ({other}).", other == gold
    return "pot", f"{other}\n", other == gold


def _latex(rng, reason, gold, other_gold):
    k = rng.random()
    variant = gold.replace("\\frac", "\\dfrac") if "\\frac" in gold else gold
    if k < 0.35:
        return "cot", f"{reason}Therefore the answer is $\\boxed{{{gold}}}$.", True
    if k < 0.50:
        return "cot", f"{reason}The answer is ${variant}$.", True
    if k < 0.60:
        return "pot", f"{gold}\n", True
    if k < 0.80 and not re.search(r"[,=\[\]()\\{}]|infty|text", gold):
        return "cot", f"{reason}Therefore the answer is $\\boxed{{{gold}+1}}$.", False
    if k < 0.92:
        return (
            "cot",
            f"{reason}So the answer is $\\boxed{{{other_gold}}}$.",
            other_gold.strip() == gold.strip(),
        )
    return "cot", f"{reason}This problem cannot be solved this way.", False


def synthesise(data_dir: str, limit: int | None, seed: int, pathological: int) -> list[Sample]:
    from tusk.benchmarks.registry import load_problems
    from tusk.grading.choices import gold_letter, options

    rng = random.Random(seed)
    samples: list[Sample] = []
    for name in NINE:
        problems = load_problems(name, data_dir, limit)
        golds = [p.answer for p in problems]
        for p in problems:
            reason = _reasoning(rng, p.question)
            letter = gold_letter(p)
            value = _number(p.answer)
            if letter is not None and options(p):
                mode, response, intended = _choice(rng, reason, letter, options(p))
            elif value is not None and name != "math":
                mode, response, intended = _numeric(rng, reason, p.answer, value)
            else:
                mode, response, intended = _latex(rng, reason, p.answer, rng.choice(golds))
            samples.append(Sample(p.id, name, mode, response, p.answer, p.choices, p.question, intended))
    for i in range(pathological):
        samples.append(
            Sample(
                f"pathological/{i}", "math", "cot", TOWERS[i % len(TOWERS)], "\\frac{\\pi}{2}", (), "q", False
            )
        )
    return samples


def _bench_of(s: Sample) -> str:
    return "pathological" if s.id.startswith("pathological/") else s.benchmark


def _problem(s: Sample):
    from tusk.types import Problem

    return Problem(id=s.id, benchmark=s.benchmark, question=s.question, answer=s.gold, choices=s.choices)


def _grade_chunk(args: tuple[list[Sample], str, float]) -> list[tuple[bool, str, bool, float]]:
    chunk, grader_name, timeout = args
    from tusk.grading import get_grader

    grader = get_grader(grader_name)
    if hasattr(grader, "timeout"):
        grader.timeout = timeout
    if hasattr(grader, "checker"):
        grader.checker.warm()  # start the checker and its standby outside the timed loop
    out = []
    for s in chunk:
        t0 = time.perf_counter()
        g = grader.grade(s.response, _problem(s), s.mode)
        out.append((g.correct, g.rule, g.timed_out, time.perf_counter() - t0))
    return out


def run_grader(samples: list[Sample], name: str, workers: int, timeout: float):
    start = time.perf_counter()
    if workers <= 1:
        results = _grade_chunk((samples, name, timeout))
    else:  # interleaved, so slow answers (the pathological ones come last) spread over every process
        chunks = [(samples[i::workers], name, timeout) for i in range(workers)]
        results = [None] * len(samples)
        with ProcessPoolExecutor(workers) as pool:
            for i, part in enumerate(pool.map(_grade_chunk, chunks)):
                results[i::workers] = part
    return results, time.perf_counter() - start


def run_mathverify(samples: list[Sample]):
    from math_verify import ExprExtractionConfig, LatexExtractionConfig, StringExtractionConfig, parse, verify

    out = []
    start = time.perf_counter()
    for s in samples:
        t0 = time.perf_counter()
        try:
            if s.choices or re.fullmatch(r"\(?[A-E]\)?", s.gold):
                cfg = [StringExtractionConfig(lowercase=False)]
                ok = verify(parse(s.gold.strip("()"), cfg), parse(s.response, cfg), timeout_seconds=3)
            else:
                ok = verify(
                    parse("$" + s.gold + "$", [LatexExtractionConfig(), ExprExtractionConfig()]),
                    parse(s.response),
                    timeout_seconds=3,
                )
        except Exception:  # noqa: BLE001
            ok = False
        out.append((bool(ok), "", False, time.perf_counter() - t0))
    return out, time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--data-dir", type=existing_dir, default=os.environ.get("TUSK_DATA_DIR"), help="benchmark data folder"
    )
    ap.add_argument("--limit", type=positive_int, default=None, help="problems per benchmark (default: all)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--workers", type=positive_int, default=2, help="grading processes for strict (default 2)"
    )
    ap.add_argument("--timeout", type=positive_float, default=3.0, help="symbolic check time limit, seconds")
    ap.add_argument("--pathological", type=non_negative_int, default=6, help="power-tower answers added")
    ap.add_argument(
        "--baseline-count", type=positive_int, default=1500, help="samples graded by math-verify alone"
    )
    ap.add_argument(
        "-v", "--verbose", action="store_true", help="list strict's disagreements with the intended verdict"
    )
    ap.add_argument("--json", default=str(Path(__file__).parent / "results" / "grading.json"))
    args = ap.parse_args(argv)
    if not args.data_dir:
        ap.error("give --data-dir or set TUSK_DATA_DIR")

    from rich.console import Console
    from rich.table import Table

    console = Console(width=None if sys.stdout.isatty() else 150)  # logs: no wrapped rows
    samples = synthesise(args.data_dir, args.limit, args.seed, args.pathological)
    console.print(f"{len(samples)} samples over {len(NINE)} benchmarks (+{args.pathological} pathological)")
    report: dict = {
        "samples": len(samples),
        "machine": f"{platform.machine()} {os.cpu_count()} cpus",
        "python": platform.python_version(),
        "workers": args.workers,
        "timeout": args.timeout,
    }
    rows = []
    runs = [("strict", args.workers), ("strict", 1), ("mammoth", 1)]
    for name, workers in dict.fromkeys(runs):  # --workers 1: strict runs once (one key per row)
        results, wall = run_grader(samples, name, workers, args.timeout)
        rows.append((f"{name} ({workers} proc)", samples, results, wall))
    # evenly spaced over the whole list: each benchmark (and the pathological tail) in proportion to its size
    subset = [samples[i] for i in evenly_spaced(len(samples), args.baseline_count)]
    report["baseline_benchmarks"] = {
        b: n for b in (*NINE, "pathological") if (n := sum(1 for s in subset if _bench_of(s) == b))
    }
    mv, mv_wall = run_mathverify(subset)
    rows.append(("math-verify alone (subset)", subset, mv, mv_wall))

    table = Table(title="grading a run: synthetic responses over the nine benchmarks' real golds")
    for col in (
        "grader",
        "samples",
        "wall s",
        "grades/s",
        "worst ms",
        "p99 ms",
        "timeouts",
        "agree w/ intended",
    ):
        table.add_column(col, justify="left" if col == "grader" else "right")
    report["graders"] = {}
    for label, subset_used, results, wall in rows:
        times = sorted(r[3] for r in results)
        agree = sum(1 for s, r in zip(subset_used, results) if r[0] == s.intended)
        entry = {
            "samples": len(results),
            "wall_s": round(wall, 3),
            "grades_per_s": round(len(results) / wall, 1),
            "worst_ms": round(1000 * times[-1], 1),
            "p99_ms": round(1000 * times[int(0.99 * (len(times) - 1))], 2),
            "timeouts": sum(1 for r in results if r[2]),
            "agree_with_intended": agree,
        }
        report["graders"][label] = entry
        table.add_row(
            label,
            str(entry["samples"]),
            f"{wall:.1f}",
            f"{entry['grades_per_s']:.0f}",
            f"{entry['worst_ms']:.0f}",
            f"{entry['p99_ms']:.1f}",
            str(entry["timeouts"]),
            f"{100 * agree / len(results):.1f}%",
        )
    console.print(table)
    strict_results = next(r for label, _, r, _ in rows if label == "strict (1 proc)")
    per_bench = Table(title="strict (1 proc) per benchmark")
    for col in ("benchmark", "samples", "grades/s", "worst ms", "marked correct"):
        per_bench.add_column(col, justify="left" if col == "benchmark" else "right")
    report["strict_per_benchmark"] = {}
    for bench in (*NINE, "pathological"):
        idx = [i for i, s in enumerate(samples) if _bench_of(s) == bench]
        if not idx:
            continue
        secs = [strict_results[i][3] for i in idx]
        entry = {
            "samples": len(idx),
            "grades_per_s": round(len(idx) / sum(secs), 1),
            "worst_ms": round(1000 * max(secs), 1),
            "correct": sum(strict_results[i][0] for i in idx),
        }
        report["strict_per_benchmark"][bench] = entry
        per_bench.add_row(
            bench,
            str(len(idx)),
            f"{entry['grades_per_s']:.0f}",
            f"{entry['worst_ms']:.0f}",
            str(entry["correct"]),
        )
    console.print(per_bench)
    if args.verbose or os.environ.get("GRADING_BENCH_VERBOSE"):
        for s, r in zip(samples, strict_results):
            if r[0] != s.intended:
                console.print(
                    f"[yellow]{s.id}[/] intended={s.intended} got={r[0]} rule={r[1]} "
                    f"gold={s.gold!r} response={s.response[-80:]!r}"
                )
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    console.print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
