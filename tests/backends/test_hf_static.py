"""The hf backend's static KV cache and compiled decoding agree with the default dynamic cache.

On the tiny random Llama, greedy: the same texts, finish reasons and token counts with stop strings, per-row
max_tokens and batches of mixed prompt lengths (left padding), and the option checks.
"""

from __future__ import annotations

import pytest

from tusk.errors import TuskError
from tusk.types import Request, SamplingParams

pytest.importorskip("transformers")

from tusk.backends.hf import HFBackend

PROMPTS = [
    "Question: 48 clips in April.",
    "Let's think step by step. 48 / 2 = 24. 48 + 24 = 72. The answer is",
    "```python\nprint(48 + 48 // 2)\n```",
    "Below is an instruction that describes a task.\n\n### Instruction:\nSolve the problem.\n\n### Response:\n",
    "72",
    "Natalia sold clips to 48 of her friends",
]


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """One torch thread: on a busy 2-core machine two spinning OpenMP threads make tiny decodes 30x slower."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def dynamic(tiny_model_dir):
    with HFBackend(str(tiny_model_dir), batch_size=4) as b:
        yield b


@pytest.fixture(scope="module")
def static(tiny_model_dir):
    with HFBackend(str(tiny_model_dir), batch_size=4, cache="static") as b:
        yield b


def _outputs(backend, requests):
    gens = {g.request_id: g for g in backend.generate(requests)}
    assert sorted(gens) == sorted(r.id for r in requests)
    return {k: (g.texts, g.finish_reasons, g.completion_tokens) for k, g in gens.items()}


def _mixed_requests(dynamic) -> list[Request]:
    """Mixed prompt lengths, per-row max_tokens, and stop strings taken from the free-running output."""
    free = _outputs(
        dynamic, [Request(f"f{i}", p, SamplingParams(max_tokens=20)) for i, p in enumerate(PROMPTS)]
    )
    requests = []
    for i, prompt in enumerate(PROMPTS):
        text = free[f"f{i}"][0][0]
        stop = (text[5:8],) if len(text) >= 8 and i % 2 == 0 else ()
        requests.append(Request(f"r{i}", prompt, SamplingParams(max_tokens=(6, 20, 13)[i % 3], stop=stop)))
    assert any(r.sampling.stop for r in requests), "the tiny model should talk enough to cut on a stop string"
    return requests


def test_static_cache_greedy_equals_dynamic(dynamic, static):
    requests = _mixed_requests(dynamic)
    expected = _outputs(dynamic, requests)
    assert any(reasons == ("stop",) and count < 20 for _, reasons, count in expected.values())
    assert _outputs(static, requests) == expected
    # again, and in another order: the static cache is rebuilt per batch, nothing leaks between calls
    assert _outputs(static, list(reversed(requests))) == expected
    assert static.lm.generation_config.cache_implementation is None  # the model's own config is untouched


def test_static_cache_with_n_and_sampling(dynamic, static):
    greedy = [Request("g", PROMPTS[0], SamplingParams(max_tokens=8, n=3))]
    assert _outputs(static, greedy) == _outputs(dynamic, greedy)
    sampled = [Request("s", PROMPTS[1], SamplingParams(max_tokens=10, n=3, temperature=1.2, seed=3))]
    texts, reasons, _ = _outputs(static, sampled)["s"]
    assert len(texts) == 3 and len(reasons) == 3
    assert _outputs(static, sampled)["s"][0] == texts, "seeded sampling repeats itself with a static cache"


def test_describe_names_non_default_settings_only(dynamic, static):
    plain = dynamic.describe()
    # the keys every hf run had before these options existed: default runs keep their identity
    assert set(plain) == {"backend", "model", "source", "weights", "dtype", "device", "transformers", "torch"}
    assert static.describe()["cache"] == "static" and "compile" not in static.describe()
    rest = {k: v for k, v in static.describe().items() if k != "cache"}
    assert rest == plain


def test_generation_cache_keeps_static_and_dynamic_apart(dynamic, static, tmp_path):
    from tusk.backends.cached import CachedBackend

    requests = [Request(f"k{i}", p, SamplingParams(max_tokens=5)) for i, p in enumerate(PROMPTS[:3])]
    first = CachedBackend(dynamic, tmp_path)
    list(first.generate(requests))
    assert (first.hits, first.misses) == (0, 3)
    other = CachedBackend(static, tmp_path)
    list(other.generate(requests))
    assert (other.hits, other.misses) == (0, 3), "a static-cache run must not reuse dynamic-cache generations"
    again = CachedBackend(dynamic, tmp_path)
    list(again.generate(requests))
    assert (again.hits, again.misses) == (3, 0)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"cache": "paged"}, "option cache='paged'"),
        ({"cache": None}, "option cache=None"),
        ({"compile": "maybe"}, "option compile='maybe'"),
        ({"compile": 2}, "option compile=2"),
        ({"compile": True}, "compile=true needs cache=static"),
        ({"compile": "true", "cache": "dynamic"}, "compile=true needs cache=static"),
    ],
)
def test_bad_options_name_the_option(tiny_model_dir, options, message):
    with pytest.raises(TuskError, match=message.replace("(", r"\(")):
        HFBackend(str(tiny_model_dir), **options)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (["cache=static", "compile=false"], ("static", False)),
        (["cache=STATIC", "compile=no"], ("static", False)),
        (["cache=dynamic"], ("dynamic", False)),
        (["cache=static", "compile=true"], ("static", True)),
    ],
)
def test_backend_options_from_the_cli(tiny_model_dir, given, expected):
    import argparse

    from tusk.backends import load_backend
    from tusk.commands.eval_cmd import _backend_options

    options = _backend_options(argparse.Namespace(backend_option=given, threads=None))
    with load_backend(f"hf:{tiny_model_dir}", **options) as b:
        assert (b.cache, b.compile) == expected
        if expected == ("static", False):  # transformers must not compile a static cache on its own
            assert b._decoding == {"cache_implementation": "static", "disable_compile": True}


def test_compile_without_a_cpp_compiler_fails_clearly(tiny_model_dir):
    from torch._inductor import config

    no_compiler = config.patch({"cpp.cxx": ("no-such-c++-compiler",)})
    with no_compiler, pytest.raises(TuskError, match="needs a C\\+\\+ compiler"):
        HFBackend(str(tiny_model_dir), cache="static", compile=True, device="cpu")


@pytest.mark.slow
def test_compiled_static_decoding_equals_dynamic(tiny_model_dir, dynamic):
    """Inductor on the CPU (tens of seconds the first time; inductor caches its kernels on disk)."""
    from torch._inductor.cpp_builder import get_cpp_compiler

    try:
        get_cpp_compiler()
    except RuntimeError as exc:  # InvalidCxxCompiler: the clear-error test above covers this machine
        pytest.skip(f"torch inductor finds no C++ compiler: {exc}")
    requests = _mixed_requests(dynamic)[:4]
    expected = _outputs(dynamic, requests)
    with HFBackend(str(tiny_model_dir), batch_size=4, cache="static", compile="true") as compiled:
        assert compiled.describe()["compile"] is True
        assert _outputs(compiled, requests) == expected
        assert hasattr(compiled.lm, "_compiled_call"), "transformers did not take the compiled path"
