"""What the graders need to know about each benchmark's golds, in one table.

``key`` maps the many spellings of a benchmark name to one of :data:`PROFILES`; an unknown benchmark gets
the generic profile (free-form golds, exact numbers), so new benchmarks grade sensibly without code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Profile:
    """``rounded_golds``: decimal golds may be rounded values (``4.17`` for 25/6), so a more precise
    prediction that rounds to them is accepted (NumGLUE, SimulEq, TheoremQA and the multiple-choice sets;
    GSM8K, SVAMP and MATH golds are exact); ``brackets_matter``: ``[``/``(`` in a gold are interval ends (MATH), not
    list punctuation; ``unordered_lists``: a list gold is a set (DeepMind prime factors);
    ``first_value``: the gold is the first of several asked values (SimulEq); ``ordered_lists``: the
    question asks for an order ("in increasing order"), so no list gold is a set; ``numeric``: every
    free-form gold is a number, so a printed answer without a digit is no answer (hybrid falls back)."""

    name: str
    rounded_golds: bool = True
    brackets_matter: bool = False
    unordered_lists: bool = False
    first_value: bool = False
    ordered_lists: bool = False
    numeric: bool = False
    mammoth_kind: str = "number"  # how the paper's code cleans answers: number | choice | math | numglue


PROFILES: dict[str, Profile] = {
    "gsm8k": Profile("gsm8k", rounded_golds=False, numeric=True),
    "math": Profile("math", rounded_golds=False, brackets_matter=True, mammoth_kind="math"),
    "aqua": Profile("aqua", mammoth_kind="choice"),
    "numglue": Profile("numglue", mammoth_kind="numglue"),
    "svamp": Profile("svamp", rounded_golds=False, numeric=True),
    "deepmind": Profile("deepmind", rounded_golds=False, unordered_lists=True),
    "simuleq": Profile("simuleq", first_value=True, numeric=True),
    "sat": Profile("sat", mammoth_kind="choice"),
    "mmlu_math": Profile("mmlu_math", mammoth_kind="choice"),
    "theoremqa": Profile("theoremqa", mammoth_kind="math"),
    "generic": Profile("generic", rounded_golds=False, brackets_matter=True, mammoth_kind="math"),
}

_ALIASES = {
    "gsm": "gsm8k",
    "gsm8k": "gsm8k",
    "math": "math",
    "math500": "math",
    "hendrycksmath": "math",
    "competitionmath": "math",
    "aqua": "aqua",
    "aquarat": "aqua",
    "numglue": "numglue",
    "svamp": "svamp",
    "deepmind": "deepmind",
    "mathematics": "deepmind",
    "deepmindmathematics": "deepmind",
    "simuleq": "simuleq",
    "sat": "sat",
    "satmath": "sat",
    "mmlu": "mmlu_math",
    "mmlumath": "mmlu_math",
    "mmlumathematics": "mmlu_math",
    "theoremqa": "theoremqa",
}


def key(benchmark: str) -> str:
    """``"MMLU-Math"`` -> ``"mmlu_math"``; ``"math500"`` -> ``"math"``; unknown -> ``"generic"``."""
    k = re.sub(r"[^a-z0-9]", "", (benchmark or "").lower())
    return _ALIASES.get(k, "generic")


def profile(benchmark: str) -> Profile:
    return PROFILES[key(benchmark)]
