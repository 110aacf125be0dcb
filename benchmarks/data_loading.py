"""Benchmark loading cost: tusk's loaders against a bare ``json`` parse of the same files, same run.

For every benchmark with data files:

  (a) baseline: read each file and parse it with ``json.load`` / ``json.loads`` per line (nothing else);
  (b) tusk:     ``Benchmark.load`` (file lookup, parsing with line tracking, field checks, gold
                extraction, choice splitting, ``Problem`` objects).

Also the cost of the cache's sha256 check: a cold hash of every pinned file against the stamp-file hit.

    python benchmarks/data_loading.py --data-dir ../shared/data

Prints a table and writes JSON (``--json``, default benchmarks/results/data_loading.json).  Best of
``--repeat`` runs for each timing.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

from bench_common import existing_dir, positive_int, run_main


def _best(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def _bare_parse(paths: list[Path]) -> int:
    count = 0
    for path in paths:
        text = path.read_text(encoding="utf-8")
        if text.lstrip().startswith("["):
            count += len(json.loads(text))
        else:
            count += sum(1 for line in text.splitlines() if line.strip() and json.loads(line))
    return count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=existing_dir, required=True)
    parser.add_argument("--repeat", type=positive_int, default=5)
    parser.add_argument("--json", default=str(Path(__file__).parent / "results" / "data_loading.json"))
    args = parser.parse_args(argv)

    from rich.console import Console
    from rich.table import Table

    from tusk.benchmarks import BENCHMARKS
    from tusk.cache import sha256_file, verified_sha256
    from tusk.datasets import DATA_FILES, resolve_file

    rows = []
    for name, bench in BENCHMARKS.items():
        if not bench.files:
            continue
        paths = [resolve_file(f.relpath, args.data_dir) for f in bench.files]
        n = len(bench.load(args.data_dir))
        assert _bare_parse(paths) == n
        baseline = _best(lambda paths=paths: _bare_parse(paths), args.repeat)
        tusk = _best(lambda bench=bench: bench.load(args.data_dir), args.repeat)
        rows.append({"benchmark": name, "problems": n, "baseline_ms": baseline * 1e3, "tusk_ms": tusk * 1e3,
                     "ratio": tusk / baseline})

    # the cache's integrity check: a full hash against a stamp hit, over copies of every pinned file
    with tempfile.TemporaryDirectory() as tmp:
        copies = []
        for relpath in DATA_FILES:
            target = Path(tmp) / relpath
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(Path(args.data_dir) / relpath, target)
            copies.append(target)
        total_bytes = sum(p.stat().st_size for p in copies)
        cold = _best(lambda: [sha256_file(p) for p in copies], args.repeat)
        for p in copies:
            verified_sha256(p)
        stamped = _best(lambda: [verified_sha256(p) for p in copies], args.repeat)

    table = Table(title=f"benchmark loading (best of {args.repeat})")
    for column in ("benchmark", "problems", "json only (ms)", "tusk load (ms)", "ratio"):
        table.add_column(column, justify="right" if column != "benchmark" else "left")
    for r in rows:
        table.add_row(r["benchmark"], str(r["problems"]), f"{r['baseline_ms']:.1f}", f"{r['tusk_ms']:.1f}",
                      f"{r['ratio']:.2f}x")
    total_base = sum(r["baseline_ms"] for r in rows)
    total_tusk = sum(r["tusk_ms"] for r in rows)
    table.add_row("all", str(sum(r["problems"] for r in rows)), f"{total_base:.1f}", f"{total_tusk:.1f}",
                  f"{total_tusk / total_base:.2f}x")
    console = Console()
    console.print(table)
    console.print(f"sha256 of all {len(copies)} pinned files ({total_bytes / 1e6:.1f} MB): "
                  f"cold {cold * 1e3:.1f} ms, stamp hit {stamped * 1e3:.2f} ms")

    result = {"repeat": args.repeat, "benchmarks": rows, "total_baseline_ms": total_base,
              "total_tusk_ms": total_tusk, "sha256_files": len(copies), "sha256_bytes": total_bytes,
              "sha256_cold_ms": cold * 1e3, "sha256_stamp_ms": stamped * 1e3}
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    console.print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
