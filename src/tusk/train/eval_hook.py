"""The optional evaluation hook: a small ``tusk eval`` run on each checkpoint's exported model.

:func:`make_eval_hook` adapts tusk's evaluation library (:func:`tusk.evaluate.evaluate`) to the loop's hook
signature ``hook(model_dir, step) -> dict``: the model folder is evaluated through the ``hf`` backend with
the Alpaca prompt the model was trained on, on ``eval_limit`` problems of each benchmark (0: all of them;
``paper`` in ``eval_benchmarks`` means the paper's nine benchmarks, as for ``tusk eval``), into
``OUT/evals/step-NNNNNN`` (a normal run directory: ``tusk report`` reads it).  The hook returns the per-benchmark
accuracies and averages, which the loop writes to its log.  Nothing here is imported unless the hook is used.
:func:`make_eval_hook` finds every benchmark file first (``eval_data_dir``, else ``$TUSK_DATA_DIR``, the cache
or a download), so missing benchmark data is an error before training, not a warning after it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tusk.train.config import TrainConfig, eval_benchmark_names


def make_eval_hook(config: TrainConfig):
    """A hook for :func:`tusk.train.loop.train`, or None when ``config.eval_benchmarks`` is empty."""
    names = eval_benchmark_names(config.eval_benchmarks)
    if not names:
        return None
    data_dir = config.eval_data_dir or None
    check_eval_data(names, data_dir)
    out = Path(config.out) / "evals"

    def hook(model_dir: Path, step: int) -> dict[str, Any]:
        from tusk.evaluate import EvalConfig, evaluate

        eval_config = EvalConfig(
            model=f"hf:{model_dir}",
            benchmarks=names,
            mode=config.eval_mode,
            out=str(out / f"step-{step:06d}"),
            limit=config.eval_limit or None,
            prompt="alpaca",
            max_tokens=config.eval_max_tokens,
            data_dir=data_dir,
        )
        summary = evaluate(eval_config, progress=False)
        return summarise(summary)

    return hook


def check_eval_data(names: tuple[str, ...], data_dir: str | None) -> None:
    """Raise :class:`TuskError` unless every file of the benchmarks ``names`` can be found."""
    from tusk.benchmarks import get_benchmark
    from tusk.datasets import resolve_file
    from tusk.errors import TuskError

    for name in names:
        for file in get_benchmark(name).files:
            try:
                resolve_file(file.relpath, data_dir)
            except TuskError as exc:
                raise TuskError(f"eval_benchmarks: {name}: {exc} (set eval_data_dir, or TUSK_DATA_DIR, to the "
                                "folder holding the benchmark files)") from None


def summarise(summary: dict[str, Any]) -> dict[str, Any]:
    """The small part of an evaluation summary worth logging per checkpoint."""
    benchmarks = summary.get("benchmarks", {})
    return {
        "accuracy": {name: row.get("accuracy") for name, row in benchmarks.items()},
        "n": {name: row.get("n") for name, row in benchmarks.items()},
        "averages": summary.get("averages", {}),
    }
