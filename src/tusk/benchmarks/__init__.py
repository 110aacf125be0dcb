"""Evaluation benchmarks: one small module per benchmark, and a registry of them.

``BENCHMARKS`` (ordered: the paper's nine, then extras, then smoke), ``PAPER_BENCHMARKS``,
``get_benchmark(name)`` and ``load_problems(name, data_dir=None, limit=None)`` are the API the rest of tusk
uses; each :class:`Benchmark` loads its upstream files into :class:`tusk.types.Problem` values.
"""

from tusk.benchmarks.base import Benchmark
from tusk.benchmarks.registry import BENCHMARKS, PAPER_BENCHMARKS, get_benchmark, load_problems

__all__ = ["BENCHMARKS", "PAPER_BENCHMARKS", "Benchmark", "get_benchmark", "load_problems"]
