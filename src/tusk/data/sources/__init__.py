"""Registry of instruction-data sources: ``SOURCES[name]`` -> :class:`~tusk.data.sources.base.Source`.

Each source reads one upstream format into :class:`~tusk.data.records.SourceItem` objects (a gradable
problem, plus the human rationale where the upstream has one).  Files are found like every tusk data file
(``--data-dir`` / ``TUSK_DATA_DIR``, the cache, a pinned download); sources too large to ship name the URL
users fetch them from.  ``tusk ls sources`` lists this table.  Nothing is read at import time.
"""

from __future__ import annotations

from tusk.data.sources.base import Source
from tusk.errors import TuskError

_MI = "https://huggingface.co/datasets/TIGER-Lab/MathInstruct/resolve/main/MathInstruct.json"

SOURCES: dict[str, Source] = {
    s.name: s
    for s in (
        Source(
            name="gsm8k",
            description="GSM8K train: human CoT, calculator annotations removed, 'The answer is N' appended",
            loader="human_cot:load_gsm8k",
            files=("gsm8k/train.jsonl",),
            modes=("cot",),
            benchmark="gsm8k",
            licence="MIT",
        ),
        Source(
            name="math",
            description="MATH (Hendrycks) train: human CoT solutions, gold in the last \\boxed{}",
            loader="human_cot:load_math",
            files=("math/hendrycks_train.jsonl",),
            modes=("cot",),
            benchmark="math",
            licence="MIT",
        ),
        Source(
            name="aqua",
            description="AQuA-RAT: multiple-choice human CoT rationales (dev here; train.json by download)",
            loader="human_cot:load_aqua",
            files=("aqua/dev.json",),
            modes=("cot",),
            benchmark="aqua",
            licence="Apache-2.0",
            url="https://raw.githubusercontent.com/google-deepmind/AQuA/master/train.json",
        ),
        Source(
            name="mathqa",
            description="MathQA: operation formulas translated to Python PoT, kept if they print the right option",
            loader="mathqa:load_mathqa",
            files=("mathqa/dev.json",),
            modes=("pot",),
            benchmark="aqua",
            licence="Apache-2.0",
            url="https://math-qa.github.io/math-QA/data/MathQA.zip",
        ),
        Source(
            name="numglue",
            description="NumGLUE questions and answers, no rationales (synthesise them); the shared copy is the "
            "evaluation set, so builds always decontaminate against numglue (use the train split by download)",
            loader="questions:load_numglue",
            files=("numglue/numglue.json",),
            modes=(),
            benchmark="numglue",
            eval_set="numglue",
            licence="ODC-By-1.0",
            url="https://raw.githubusercontent.com/allenai/numglue/main/data/NumGLUE_train.json",
        ),
        Source(
            name="theoremqa",
            description="TheoremQA test questions and answers, no rationales (synthesise them); text-only questions; "
            "this is the evaluation set, so builds always decontaminate against theoremqa",
            loader="questions:load_theoremqa",
            files=("theoremqa/theoremqa_test.json",),
            modes=(),
            benchmark="theoremqa",
            eval_set="theoremqa",
            licence="MIT",
        ),
        Source(
            name="mathinstruct",
            description="The published MathInstruct JSON (262K records, CoT and PoT) for users who have it",
            loader="published:load_mathinstruct",
            files=("mathinstruct/MathInstruct.json",),
            modes=("cot", "pot"),
            benchmark="math",
            licence="mixed (see the MathInstruct card)",
            url=_MI,
        ),
        Source(
            name="camel",
            description="Camel-Math (GPT-4 CoT, not validated; CC BY-NC 4.0): message_1/message_2 JSON lines",
            loader="published:load_camel",
            files=("camel/math.jsonl",),
            modes=("cot",),
            benchmark="math",
            licence="CC-BY-NC-4.0",
            url="https://huggingface.co/datasets/camel-ai/math",
        ),
        Source(
            name="jsonl",
            description="Your own problems: JSON/JSONL with question, answer, optional output/mode/choices",
            loader="published:load_generic",
            files=(),
            modes=("cot", "pot"),
            benchmark="math",
            licence="yours",
        ),
    )
}


def get_source(name: str) -> Source:
    """The registered source called ``name``; a TuskError listing the known names otherwise."""
    try:
        return SOURCES[name]
    except KeyError:
        raise TuskError(f"unknown data source {name!r}; known: {', '.join(SOURCES)}") from None


__all__ = ["SOURCES", "Source", "get_source"]
