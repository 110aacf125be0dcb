"""The vllm backend's request and output mapping, tested without vLLM (it cannot be installed here)."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass

import pytest

from tusk.backends import load_backend
from tusk.backends.vllm import generation_from_output, vllm_sampling_kwargs
from tusk.errors import MissingExtraError
from tusk.types import Request, SamplingParams


@dataclass
class Completion:  # the fields of vllm.CompletionOutput that tusk reads
    index: int
    text: str
    token_ids: tuple[int, ...]
    finish_reason: str | None


@dataclass
class Output:  # the fields of vllm.RequestOutput that tusk reads
    prompt_token_ids: list[int]
    outputs: list[Completion]


@pytest.mark.parametrize(
    ("sampling", "expected"),
    [
        (
            SamplingParams(),
            {"max_tokens": 1024, "stop": [], "seed": 0, "n": 1, "temperature": 0.0, "top_p": 1.0},
        ),
        (
            SamplingParams(max_tokens=64, n=5, stop=("\n\n", ""), seed=3),
            {"max_tokens": 64, "stop": ["\n\n"], "seed": 3, "n": 1, "temperature": 0.0, "top_p": 1.0},
        ),
        (
            SamplingParams(max_tokens=8, temperature=0.7, top_p=0.95, n=4, seed=9),
            {"max_tokens": 8, "stop": [], "seed": 9, "n": 4, "temperature": 0.7, "top_p": 0.95},
        ),
    ],
)
def test_sampling_mapping(sampling, expected):
    assert vllm_sampling_kwargs(sampling) == expected


def test_output_mapping_cuts_stops_and_orders_samples():
    request = Request("q1", "prompt", SamplingParams(temperature=1.0, n=2, stop=("###",)))
    output = Output(
        prompt_token_ids=[1, 2, 3],
        outputs=[
            Completion(1, "second", (7, 8), "length"),
            Completion(0, "first ### more", (4, 5, 6), "stop"),
        ],
    )
    gen = generation_from_output(request, output, seconds=0.5)
    assert gen.request_id == "q1"
    assert gen.texts == ("first ", "second")
    assert gen.finish_reasons == ("stop", "length")
    assert (gen.prompt_tokens, gen.completion_tokens, gen.seconds) == (3, 5, 0.5)


def test_greedy_n_is_repeated():
    request = Request("g", "p", SamplingParams(n=3))
    gen = generation_from_output(request, Output([1], [Completion(0, "42", (9,), "stop")]))
    assert gen.texts == ("42", "42", "42") and gen.completion_tokens == 3


@pytest.mark.skipif(importlib.util.find_spec("vllm") is not None, reason="vllm is installed")
def test_missing_vllm_names_the_extra():
    with pytest.raises(MissingExtraError, match=r"tusk\[vllm\]"):
        load_backend("vllm:org/some-model")


def test_a_context_window_given_is_part_of_the_description(monkeypatch):
    import sys
    import types

    class LLM:
        def __init__(self, **kwargs):
            self.kwargs = kwargs

        def get_tokenizer(self):
            return types.SimpleNamespace(chat_template=None)

    monkeypatch.setitem(sys.modules, "vllm", types.SimpleNamespace(LLM=LLM, __version__="0"))
    from tusk.backends.vllm import VLLMBackend

    default = VLLMBackend("org/model")
    assert "max_model_len" not in default.describe()
    short = VLLMBackend("org/model", max_model_len=512)
    assert short.llm.kwargs["max_model_len"] == 512 and short.describe()["max_model_len"] == 512


def test_unknown_options_are_an_error_before_vllm_is_imported(monkeypatch):
    import sys

    from tusk.backends import load_backend
    from tusk.errors import TuskError

    monkeypatch.setitem(sys.modules, "vllm", None)  # importing vllm would fail: the option check comes first
    with pytest.raises(TuskError, match="vllm backend: unknown option max_model_length, tensor_paralel_size; "
                                        "its options are tensor_parallel_size, dtype"):
        load_backend("vllm:Qwen/Qwen2.5-Math-7B", tensor_paralel_size=4, max_model_length=8192, threads=2)
