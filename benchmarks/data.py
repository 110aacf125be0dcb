"""Benchmark: the data builder's verification throughput and dedup/decontamination at MathInstruct scale.

Two parts, each measured side by side with a baseline in the same run:

1. Verification: real MathQA programs (translated from ``mathqa/dev.json``), run through
   :func:`tusk.data.verify.verify` (sandbox pool + strict grader), in programs per second; baseline: one
   fresh ``python -c`` subprocess per program (the usual script's way to run them; execution only, no
   grading, so it is the cheaper job), on an evenly spaced subset.  Both run ``--workers`` programs at a
   time (default: one per core).  The programs are the first ``--programs`` of MathQA dev's translatable
   ones (4,475 of them), cycled only if more are asked for.
2. Dedup + decontamination: ``--records`` (default 262,000, MathInstruct's size) synthetic training
   questions made from the real training questions (GSM8K, MATH, MathQA, AQuA) with numbers re-drawn, plus
   planted copies of evaluation questions (every other planting of a question over 30 words has its *first*
   number raised by one; all the others, short questions included, are verbatim; the two kinds are counted
   apart) and planted near-duplicates of questions of at least 40 words without drawing code (every other
   one upper-cased with its final ``?``/``.`` replaced by `` ?``, an exact duplicate under the dedup key; the
   rest with " Show your work." appended); checked against the nine evaluation sets.  Every planting uses its own untouched
   positions (no copy is made from, or over, another planting), each copy comes after its source, and a
   planted pair counts as caught only when its copy is dropped.  Reports time per stage and how many planted
   items were caught.  Baseline: all-pairs set intersection of n-grams (no index) on ``--baseline-records``
   records, extrapolated linearly to the full size.

    python benchmarks/data.py --data-dir ../shared/data                     # full size
    python benchmarks/data.py --data-dir ../shared/data --records 20000 --programs 300   # quick

Prints a table and writes JSON (``--json``, default benchmarks/results/data.json).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench_common import existing_dir, pick, positive_int, run_main


def _programs(data_dir: str, count: int):
    from tusk.data.records import Candidate
    from tusk.data.sources import get_source

    items = [i for i in get_source("mathqa").load(data_dir=data_dir) if i.example is not None]
    items = (items * (count // len(items) + 1))[:count]
    return [Candidate(f"b/{k}", "mathqa/pot", "human", i.problem, i.example) for k, i in enumerate(items)]


def _run_python_c(code: str) -> None:
    try:
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=5, check=False)
    except subprocess.TimeoutExpired:
        pass


def bench_verification(data_dir: str, count: int, baseline_count: int, workers: int) -> dict:
    from tusk.data.verify import VerifySettings, verify
    from tusk.execution import isolation_report

    candidates = _programs(data_dir, count)
    start = time.perf_counter()
    verdicts = verify(candidates, VerifySettings(workers=workers, choice_tolerance=0.02))
    seconds = time.perf_counter() - start
    kept = sum(v.kept for v in verdicts)

    subset = pick(candidates, baseline_count)
    start = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:  # as many at a time as tusk's pool runs
        list(pool.map(_run_python_c, [c.example.output for c in subset]))
    base_seconds = time.perf_counter() - start
    report = isolation_report()
    return {
        "workers": workers,
        "programs": len(candidates),
        "seconds": round(seconds, 2),
        "programs_per_s": round(len(candidates) / seconds, 1),
        "kept": kept,
        "baseline_programs": len(subset),
        "baseline_seconds": round(base_seconds, 2),
        "baseline_programs_per_s": round(len(subset) / base_seconds, 1),
        "isolation": report if isinstance(report, (dict, list, str)) else str(report),
    }


_NUM = re.compile(r"\d+")


def _redraw_numbers(text: str, rng: random.Random) -> str:
    return _NUM.sub(lambda m: str(rng.randint(2, 999)), text)


def synthetic_corpus(data_dir: str, size: int, seed: int = 0):
    """(texts, planted eval indices -> eval problem id, planted near-dup indices, eval problems, the planted eval
    indices whose first number was changed)."""
    from tusk.data.decontaminate import evaluation_problems
    from tusk.data.sources import get_source
    from tusk.data.text import strip_asy
    from tusk.data.text import words as text_words

    rng = random.Random(seed)
    seeds: list[str] = []
    for name, files in (("gsm8k", None), ("math", None), ("mathqa", ["mathqa/dev.json", "mathqa/test.json"]),
                        ("aqua", None)):
        seeds.extend(i.problem.question for i in get_source(name).load(files, data_dir=data_dir))
    evals = evaluation_problems(data_dir=data_dir)
    texts = [_redraw_numbers(rng.choice(seeds), rng) for _ in range(size)]
    planted_eval: dict[int, str] = {}
    changed: set[int] = set()
    for k, idx in enumerate(rng.sample(range(size), min(2000, size // 20))):
        problem = rng.choice(evals)
        words = problem.question.split()
        if k % 2 and len(words) > 30:  # one number changed, or verbatim
            texts[idx] = _NUM.sub(lambda m: str(int(m.group()) + 1), problem.question, count=1)
            changed.add(idx)
        else:
            texts[idx] = problem.question
        planted_eval[idx] = problem.id
    # near-duplicates: (source, copy) pairs from positions no other planting touches, copy after source
    untouched = [i for i in range(size) if i not in planted_eval]
    rng.shuffle(untouched)
    planted_near: list[tuple[int, int]] = []
    want = min(2000, size // 20)
    for a, b in zip(untouched[0::2], untouched[1::2]):
        if len(planted_near) == want:
            break
        src, idx = min(a, b), max(a, b)
        if len(text_words(strip_asy(texts[src]))) < 40:
            continue  # too short (in the words dedup compares) for a three-word clause to stay above the threshold
        if len(planted_near) % 2:  # exact after normalisation: case and prose punctuation changed
            texts[idx] = texts[src].upper().rstrip(" ?.") + " ?"
        else:  # near: a short clause appended (Jaccard of 3-word shingles about 0.9-0.95)
            texts[idx] = texts[src] + " Show your work."
        planted_near.append((src, idx))
    return texts, planted_eval, planted_near, evals, changed


def _naive_decontaminate(texts, evals, n: int, threshold: float) -> int:
    from tusk.data.decontaminate import ngrams

    eval_grams = [ngrams(p.question, n) for p in evals]
    found = 0
    for text in texts:
        grams = ngrams(text, n)
        if not grams:
            continue
        for eg in eval_grams:
            if eg and len(grams & eg) / min(len(grams), len(eg)) >= threshold:
                found += 1
                break
    return found


def bench_text(data_dir: str, size: int, baseline_records: int) -> dict:
    from tusk.data.decontaminate import DecontamConfig, find_contamination
    from tusk.data.dedup import DedupConfig, deduplicate

    t0 = time.perf_counter()
    texts, planted_eval, planted_near, evals, changed = synthetic_corpus(data_dir, size)
    build_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    result = deduplicate(texts, None, DedupConfig(near_threshold=0.9))
    dedup_s = time.perf_counter() - t0
    dropped = {d.index for d in result.dropped}
    near_caught = sum(1 for _, idx in planted_near if idx in dropped)  # the copy itself, nothing else

    settings = DecontamConfig()
    t0 = time.perf_counter()
    matches = find_contamination(texts, evals, settings)
    decon_s = time.perf_counter() - t0
    flagged = {m.index for m in matches}
    eval_caught = sum(1 for i in planted_eval if i in flagged)

    sample = texts[:baseline_records]
    t0 = time.perf_counter()
    _naive_decontaminate(sample, evals, settings.ngram, settings.threshold)
    naive_s = time.perf_counter() - t0
    return {
        "records": size,
        "eval_problems": len(evals),
        "corpus_seconds": round(build_s, 1),
        "dedup_seconds": round(dedup_s, 1),
        "dedup_dropped": result.counts(),
        "planted_near_duplicates": len(planted_near),
        "planted_near_caught": near_caught,
        "decontam_seconds": round(decon_s, 1),
        "flagged": len(flagged),
        "planted_eval_questions": len(planted_eval),
        "planted_eval_caught": eval_caught,
        "planted_eval_number_changed": len(changed),
        "planted_eval_number_changed_caught": sum(1 for i in changed if i in flagged),
        "baseline_records": len(sample),
        "baseline_seconds": round(naive_s, 1),
        "baseline_extrapolated_seconds": round(naive_s * size / max(1, len(sample)), 0),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data-dir", type=existing_dir, default=os.environ.get("TUSK_DATA_DIR"), help="shared data folder"
    )
    parser.add_argument("--records", type=positive_int, default=262_000)
    parser.add_argument("--baseline-records", type=positive_int, default=500)
    parser.add_argument("--programs", type=positive_int, default=2000)
    parser.add_argument("--baseline-programs", type=positive_int, default=100)
    parser.add_argument(
        "--workers", type=positive_int, default=None, help="programs at a time, tusk and baseline (default: cores)"
    )
    parser.add_argument("--json", default=str(Path(__file__).parent / "results" / "data.json"))
    args = parser.parse_args(argv)
    if not args.data_dir:
        parser.error("pass --data-dir or set TUSK_DATA_DIR")
    from rich.console import Console
    from rich.table import Table

    workers = args.workers or os.cpu_count() or 1
    verification = bench_verification(args.data_dir, args.programs, args.baseline_programs, workers)
    text = bench_text(args.data_dir, args.records, args.baseline_records)
    total = text["dedup_seconds"] + text["decontam_seconds"]

    table = Table(title=f"data builder on {os.cpu_count()} cores ({platform.processor() or platform.machine()})")
    for column in ("measure", "tusk", "baseline", "ratio"):
        table.add_column(column, justify="left" if column == "measure" else "right")
    v = verification
    table.add_row(f"verify: programs/s (sandbox + strict grade), {workers} at a time", f"{v['programs_per_s']:.1f}",
                  f"{v['baseline_programs_per_s']:.1f} (python -c each, no grading)",
                  f"{v['programs_per_s'] / v['baseline_programs_per_s']:.1f}x")
    table.add_row("verify: kept / programs (MathQA)", f"{v['kept']} / {v['programs']}", "", "")
    table.add_row(f"dedup {text['records']:,} records", f"{text['dedup_seconds']:.1f} s", "", "")
    table.add_row("  planted near-duplicates caught", f"{text['planted_near_caught']} / {text['planted_near_duplicates']}",
                  "", "")
    table.add_row(f"decontaminate vs {text['eval_problems']:,} eval questions", f"{text['decontam_seconds']:.1f} s",
                  f"{text['baseline_extrapolated_seconds']:.0f} s (all pairs, extrapolated)",
                  f"{text['baseline_extrapolated_seconds'] / max(text['decontam_seconds'], 1e-9):.0f}x")
    table.add_row("  planted eval questions caught", f"{text['planted_eval_caught']} / {text['planted_eval_questions']}",
                  "", "")
    table.add_row("    of them with the first number changed (questions over 30 words)",
                  f"{text['planted_eval_number_changed_caught']} / {text['planted_eval_number_changed']}", "", "")
    table.add_row("dedup + decontamination total", f"{total:.1f} s", "target < 300 s", "")
    Console(width=None if sys.stdout.isatty() else 150).print(table)  # logs: no wrapped rows
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"verification": verification, "text": text, "dedup_decontam_seconds": total,
                               "cpus": os.cpu_count(), "python": platform.python_version()}, indent=1) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
