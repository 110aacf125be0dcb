"""The MAmmoTH paper's headline results, as reference rows beside a run in ``tusk report --paper``.

Accuracies (%) of the released MAmmoTH models with hybrid decoding on the nine paper benchmarks, as printed in the
paper's main table.  :func:`paper_summaries` turns them into summary-shaped mappings that the report tables take
like any run's summary; averages are recomputed over the benchmarks asked for, so a run on a subset is compared
like for like (over all nine they equal the paper's printed averages).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from tusk.errors import TuskError

#: The paper's column order.
PAPER_COLUMNS = ("gsm8k", "math", "aqua", "numglue", "svamp", "deepmind", "simuleq", "sat", "mmlu_math")



def order_benchmarks(names: Iterable[str]) -> list[str]:
    """``names`` once each, in the paper's column order, then the others (extras such as TheoremQA) in the order
    they first appear: every table of ``tusk report`` lists benchmarks this way."""
    names = list(dict.fromkeys(names))
    return [b for b in PAPER_COLUMNS if b in names] + [b for b in names if b not in PAPER_COLUMNS]


#: Hybrid-decoding accuracy (%) per model, in PAPER_COLUMNS order.
PAPER_RESULTS: dict[str, tuple[float, ...]] = {
    "MAmmoTH-7B": (53.6, 31.5, 44.5, 61.2, 67.7, 46.3, 41.2, 42.7, 42.6),
    "MAmmoTH-Coder-7B": (59.4, 33.4, 47.2, 66.4, 71.4, 55.4, 45.9, 40.5, 48.3),
    "MAmmoTH-13B": (62.0, 34.2, 51.6, 68.7, 72.4, 49.2, 43.2, 46.8, 47.6),
    "MAmmoTH-Coder-13B": (64.7, 36.3, 46.9, 66.8, 73.7, 61.5, 47.1, 48.6, 48.3),
    "MAmmoTH-Coder-34B": (72.7, 43.6, 54.7, 71.6, 84.3, 65.4, 51.8, 60.9, 53.8),
    "MAmmoTH-70B": (76.9, 41.8, 65.0, 74.4, 82.4, 55.6, 51.4, 66.4, 56.7),
}


def paper_models(spec: str) -> list[str]:
    """Model names from ``"all"`` or a comma list; ``7b``, ``coder-7b`` and ``MAmmoTH-7B`` all name one model."""
    if spec.strip().lower() == "all":
        return list(PAPER_RESULTS)
    by_key = {name.lower().removeprefix("mammoth-"): name for name in PAPER_RESULTS}
    names = []
    for part in spec.split(","):
        key = part.strip().lower().removeprefix("mammoth-")
        if key not in by_key:
            known = ", ".join(["all", *(n.removeprefix("MAmmoTH-") for n in PAPER_RESULTS)])
            raise TuskError(f"--paper: unknown model {part.strip()!r}; known: {known}")
        names.append(by_key[key])
    return list(dict.fromkeys(names))


def paper_summaries(
    models: Sequence[str], benchmarks: Sequence[str] | None = None
) -> list[tuple[str, dict[str, Any]]]:
    """``(label, summary)`` for each model, over the paper's benchmarks among ``benchmarks`` (all nine when None),
    with in-domain / out-of-domain / overall averages over the same benchmarks.  Naming none of the nine is an
    error: there would be nothing to set beside the runs."""
    from tusk.benchmarks import BENCHMARKS

    wanted = list(PAPER_COLUMNS) if benchmarks is None else [b for b in PAPER_COLUMNS if b in benchmarks]
    if not wanted:
        raise TuskError("--paper: the runs hold none of the paper's nine benchmarks, so there is nothing to "
                        f"compare with (they hold {', '.join(dict.fromkeys(benchmarks or [])) or 'nothing'})")
    rows = []
    for model in models:
        scores = dict(zip(PAPER_COLUMNS, PAPER_RESULTS[model], strict=True))
        bench = {b: {"accuracy": scores[b] / 100, "domain": BENCHMARKS[b].domain} for b in wanted}

        def mean(domain: str | None, bench: dict[str, Any] = bench) -> float | None:
            values = [v["accuracy"] for v in bench.values() if domain in (None, v["domain"])]
            return sum(values) / len(values) if values else None

        summary = {"model": model, "mode": "hybrid", "grader": "paper", "benchmarks": bench, "complete": True,
                   "averages": {"in_domain": mean("in"), "out_of_domain": mean("out"), "all": mean(None)}}
        rows.append((f"{model} (paper)", summary))
    return rows
