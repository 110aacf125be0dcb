"""Benchmark: tusk's sandbox pool against the two usual ways to run model-written programs.

Runs the same realistic PoT programs (GSM8K-style arithmetic, loops, math, fractions, sympy solve and
simplify, numpy; deterministic from a seed) three ways, side by side in one run:

- tusk: ``ProgramPool`` with every isolation mechanism this machine supports (see the printed report);
- (a) a fresh ``python -c`` subprocess per program;
- (b) a new ``multiprocessing.Process`` per program, forked from a harness that has already imported
  sympy and numpy (the original MAmmoTH pattern, no isolation; its best case).

All three run ``--workers`` programs at a time.  The baselines are slow, so by default they run on an
evenly spaced subset of the programs (``--baseline-count``); rates are programs per second either way,
and the outputs of every method are checked against each other.  Then tusk runs ``--rss-count`` more
programs while the harness's resident memory is sampled, to show it stays flat.

    python benchmarks/execution.py                       # 500 programs, baselines on 60, RSS over 10,000
    python benchmarks/execution.py --count 100 --baseline-count 20 --rss-count 0   # quick

Prints a table and writes JSON (``--json``, default benchmarks/results/execution.json).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench_common import evenly_spaced, non_negative_int, positive_int, run_main

TIMEOUT = 5.0


def _arithmetic(rng: random.Random) -> str:
    a, b, c, d = (rng.randint(2, 90) for _ in range(4))
    return f"""def solution():
    boxes = {a}
    apples_per_box = {b}
    eaten = {c}
    friends = {d}
    total = boxes * apples_per_box - eaten
    share = total / friends
    return round(share, 2)

print(solution())
"""


def _loop(rng: random.Random) -> str:
    n = rng.randint(200, 3000)
    k = rng.randint(3, 9)
    return f"""count = 0
total = 0
for i in range(1, {n} + 1):
    if i % {k} == 0 or str(i).endswith('7'):
        count += 1
        total += i
primes = [p for p in range(2, {n // 4}) if all(p % q for q in range(2, int(p ** 0.5) + 1))]
print(count, total, len(primes))
"""


def _math(rng: random.Random) -> str:
    n, r = rng.randint(8, 30), rng.randint(2, 6)
    a, b = rng.randint(100, 10000), rng.randint(100, 10000)
    return f"""import math
ways = math.comb({n}, {r})
g = math.gcd({a}, {b})
hyp = math.sqrt({a} ** 2 + {b} ** 2)
print(ways, g, round(hyp, 4), math.factorial({r + 3}) // ways if ways else 0)
"""


def _fractions(rng: random.Random) -> str:
    p, q, r, s = (rng.randint(1, 20) for _ in range(4))
    return f"""from fractions import Fraction
first = Fraction({p}, {q + 1})
second = Fraction({r}, {s + 1})
remaining = 1 - first * second
print(remaining, float(remaining))
"""


def _sympy_solve(rng: random.Random) -> str:
    a, b, c = rng.randint(2, 12), rng.randint(1, 50), rng.randint(51, 200)
    return f"""from sympy import symbols, Eq, solve
x = symbols('x')
price = solve(Eq({a} * x + {b}, {c}), x)[0]
print(price)
"""


def _sympy_simplify(rng: random.Random) -> str:
    k, v = rng.randint(2, 9), rng.randint(10, 40)
    return f"""import sympy as sp
x = sp.symbols('x')
expr = (x**2 - {k * k}) / (x - {k})
print(sp.simplify(expr).subs(x, {v}))
"""


def _numpy(rng: random.Random) -> str:
    values = [rng.randint(40, 100) for _ in range(rng.randint(5, 20))]
    return f"""import numpy as np
scores = np.array({values})
weights = np.linspace(1, 2, len(scores))
print(round(float(np.average(scores, weights=weights)), 3), int(np.median(scores)), int(scores.std() * 100))
"""


KINDS: list[tuple[str, float, Callable[[random.Random], str]]] = [
    ("arithmetic", 0.30, _arithmetic),
    ("loop", 0.15, _loop),
    ("math", 0.15, _math),
    ("fractions", 0.10, _fractions),
    ("sympy_solve", 0.08, _sympy_solve),
    ("sympy_simplify", 0.07, _sympy_simplify),
    ("numpy", 0.15, _numpy),
]


def make_programs(count: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    names = [k[0] for k in KINDS]
    weights = [k[1] for k in KINDS]
    makers = {k[0]: k[2] for k in KINDS}
    return [makers[rng.choices(names, weights)[0]](rng) for _ in range(count)]


def run_python_c(code: str) -> tuple[str, str]:
    try:
        proc = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=TIMEOUT, check=False
        )
    except subprocess.TimeoutExpired:
        return "timeout", ""
    return ("ok" if proc.returncode == 0 else "error"), proc.stdout


def _mp_target(code: str, conn) -> None:
    import contextlib
    import io

    buffer = io.StringIO()
    status = "ok"
    try:
        with contextlib.redirect_stdout(buffer):
            exec(code, {"__name__": "__main__"})  # noqa: S102 - the baseline being measured
    except BaseException:  # noqa: BLE001
        status = "error"
    conn.send((status, buffer.getvalue()))


def run_multiprocessing(code: str) -> tuple[str, str]:
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    receiver, sender = ctx.Pipe(duplex=False)
    process = ctx.Process(target=_mp_target, args=(code, sender))
    process.start()
    sender.close()
    process.join(TIMEOUT)
    if process.is_alive():
        process.kill()
        process.join()
        return "timeout", ""
    return receiver.recv() if receiver.poll() else ("killed", "")


def timed(
    fn: Callable[[str], tuple[str, str]], codes: list[str], workers: int
) -> tuple[float, list[tuple[str, str]]]:
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as executor:
        results = list(executor.map(fn, codes))
    return time.perf_counter() - start, results


def cpu_seconds_self_and_children() -> float:
    """CPU seconds used by this process and the children it has reaped (the baselines' programs)."""
    import resource

    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


def cpu_seconds_of(pids: list[int]) -> float:
    """CPU seconds of running processes plus the children they reaped (a worker and its programs)."""
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        total += sum(int(v) for v in fields[11:15])  # utime stime cutime cstime
    return total / os.sysconf("SC_CLK_TCK")


def rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=positive_int, default=500, help="programs for the tusk measurement")
    parser.add_argument(
        "--baseline-count", type=positive_int, default=60, help="programs (evenly spaced) for baselines"
    )
    parser.add_argument(
        "--rss-count",
        type=non_negative_int,
        default=10_000,
        help="programs for the flat-memory check (0: skip)",
    )
    parser.add_argument("--workers", type=positive_int, default=os.cpu_count() or 1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", default=str(Path(__file__).parent / "results" / "execution.json"))
    args = parser.parse_args(argv)

    import numpy  # noqa: F401 - the multiprocessing baseline forks a harness that has them loaded
    import sympy  # noqa: F401
    from rich.console import Console
    from rich.progress import Progress
    from rich.table import Table

    from tusk.execution import ProgramPool

    console = Console(width=150)
    codes = make_programs(args.count, args.seed)
    subset_index = evenly_spaced(len(codes), args.baseline_count)
    subset = [codes[i] for i in subset_index]

    pool_start = time.perf_counter()
    with ProgramPool(workers=args.workers) as pool:
        startup = time.perf_counter() - pool_start
        report = pool.report.get("report", {})
        list(pool.map(codes[: 2 * args.workers]))  # first touch
        worker_pids = [w.pid for w in pool._all]
        cpu_before = cpu_seconds_self_and_children() + cpu_seconds_of(worker_pids)
        start = time.perf_counter()
        tusk_results = list(pool.map(codes))
        tusk_seconds = time.perf_counter() - start
        tusk_cpu = cpu_seconds_self_and_children() + cpu_seconds_of(worker_pids) - cpu_before
        rss_samples: list[tuple[int, float]] = []
        if args.rss_count:
            rss_codes = make_programs(args.rss_count, args.seed + 1)
            rss_samples.append((0, rss_mb()))
            with Progress(console=console, transient=True) as progress:
                task = progress.add_task("RSS check", total=args.rss_count)
                for i, _ in enumerate(pool.map(rss_codes), 1):
                    progress.advance(task)
                    if i % 1000 == 0:
                        rss_samples.append((i, rss_mb()))
            rss_seconds = time.perf_counter() - start - tusk_seconds

    console.print(f"baselines on {len(subset)} of {len(codes)} programs ...")
    cpu_before = cpu_seconds_self_and_children()
    pyc_seconds, pyc_results = timed(run_python_c, subset, args.workers)
    pyc_cpu = cpu_seconds_self_and_children() - cpu_before
    mp_seconds, mp_results = timed(run_multiprocessing, subset, args.workers)
    mp_cpu = cpu_seconds_self_and_children() - cpu_before - pyc_cpu
    cpu_ms = {
        "tusk": 1000 * tusk_cpu / len(codes),
        "python_c": 1000 * pyc_cpu / len(subset),
        "multiprocessing": 1000 * mp_cpu / len(subset),
    }

    tusk_ok = sum(r.status == "ok" for r in tusk_results)
    tusk_subset = [(tusk_results[i].status, tusk_results[i].stdout) for i in subset_index]
    agree_pyc = sum(a == b for a, b in zip(tusk_subset, pyc_results))
    agree_mp = sum(a == b for a, b in zip(tusk_subset, mp_results))
    rates = {
        "tusk": len(codes) / tusk_seconds,
        "python_c": len(subset) / pyc_seconds,
        "multiprocessing": len(subset) / mp_seconds,
    }
    table = Table(title=f"execution: {args.workers} at a time, {platform.machine()}, {os.cpu_count()} CPUs")
    columns = (
        "method",
        "programs",
        "ok",
        "seconds",
        "programs/s",
        "tusk speed-up",
        "CPU ms/program",
        "same output as tusk",
    )
    for column in columns:
        table.add_column(column, justify="right" if column != "method" else "left")
    rows = [
        ("tusk pool (all isolation)", "tusk", len(codes), tusk_ok, tusk_seconds, "-"),
        (
            "(a) python -c per program",
            "python_c",
            len(subset),
            sum(r[0] == "ok" for r in pyc_results),
            pyc_seconds,
            f"{agree_pyc}/{len(subset)}",
        ),
        (
            "(b) multiprocessing.Process",
            "multiprocessing",
            len(subset),
            sum(r[0] == "ok" for r in mp_results),
            mp_seconds,
            f"{agree_mp}/{len(subset)}",
        ),
    ]
    for label, key, n, ok, seconds, agree in rows:
        table.add_row(
            label,
            str(n),
            str(ok),
            f"{seconds:.2f}",
            f"{rates[key]:.1f}",
            f"{rates['tusk'] / rates[key]:.1f}x",
            f"{cpu_ms[key]:.1f}",
            agree,
        )
    console.print(table)
    console.print(f"pool start-up ({args.workers} warm workers): {startup:.2f} s")
    console.print(
        f"CPU-bound capacity if all {os.cpu_count()} CPUs were free: tusk about "
        f"{1000 * (os.cpu_count() or 1) / cpu_ms['tusk']:.0f} programs/s (load average now "
        f"{os.getloadavg()[0]:.1f})"
    )
    active = [name for name, item in report.items() if item.get("active")]
    inactive = [name for name, item in report.items() if not item.get("active")]
    console.print(f"isolation active: {', '.join(active)}; inactive: {', '.join(inactive) or 'none'}")
    if rss_samples:
        rss_table = Table(
            title=f"harness RSS over {args.rss_count} programs ({args.rss_count / rss_seconds:.1f}/s)"
        )
        rss_table.add_column("programs run", justify="right")
        rss_table.add_column("RSS MiB", justify="right")
        for n, mb in rss_samples:
            rss_table.add_row(str(n), f"{mb:.1f}")
        console.print(rss_table)

    out = {
        "machine": {
            "arch": platform.machine(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_avg_at_end": os.getloadavg(),
        },
        "workers": args.workers,
        "count": len(codes),
        "baseline_count": len(subset),
        "seconds": {
            "tusk": tusk_seconds,
            "python_c": pyc_seconds,
            "multiprocessing": mp_seconds,
            "pool_startup": startup,
        },
        "programs_per_second": rates,
        "cpu_ms_per_program": cpu_ms,
        "speedup": {
            "vs_python_c": rates["tusk"] / rates["python_c"],
            "vs_multiprocessing": rates["tusk"] / rates["multiprocessing"],
        },
        "ok": {
            "tusk": tusk_ok,
            "python_c": sum(r[0] == "ok" for r in pyc_results),
            "multiprocessing": sum(r[0] == "ok" for r in mp_results),
        },
        "same_output_as_tusk": {"python_c": agree_pyc, "multiprocessing": agree_mp},
        "isolation": report,
        "rss_mb": rss_samples,
    }
    path = Path(args.json)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=2) + "\n")
    console.print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
