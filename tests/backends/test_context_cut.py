"""Completions ended by the context window, not by --max-tokens, are counted and warned about."""

from __future__ import annotations

import logging

import pytest

from tusk.errors import TuskError
from tusk.types import Request, SamplingParams


def test_llamacpp_counts_and_warns_when_n_ctx_ends_completions(caplog):
    pytest.importorskip("llama_cpp")
    from tusk.backends import load_backend

    try:
        backend = load_backend("smollm2-135m", n_ctx=64, threads=1)
    except TuskError as exc:
        pytest.skip(str(exc))
    with caplog.at_level(logging.WARNING, logger="tusk.backends.llamacpp"), backend:
        list(backend.generate([Request("short", "Once upon a time", SamplingParams(max_tokens=4))]))
        assert backend.context_cut == 0 and not caplog.records  # --max-tokens ended it: nothing to say
        requests = [Request(f"long{i}", f"Once upon a time{'!' * i}", SamplingParams(max_tokens=200))
                    for i in range(2)]
        assert all(g.finish_reasons == ("length",) for g in backend.generate(requests))
        assert backend.context_cut == 2
        assert len(caplog.records) == 1 and "n_ctx=64" in caplog.text  # warned once, when it first happened
    assert "2 completions were ended by the context window (n_ctx=64)" in caplog.records[-1].getMessage()


def test_hf_counts_and_warns_when_the_models_context_ends_completions(tiny_model_dir, caplog):
    from tusk.backends.hf import HFBackend

    with (caplog.at_level(logging.WARNING, logger="tusk.backends.hf"),
          HFBackend(str(tiny_model_dir), device="cpu", threads=1, ignore_eos=True) as backend):
        list(backend.generate([Request("short", "Let's think", SamplingParams(max_tokens=4))]))
        assert backend.context_cut == 0
        (gen,) = backend.generate([Request("long", "Let's think", SamplingParams(max_tokens=600))])
        assert gen.finish_reasons == ("length",) and backend.context_cut == 1
    assert "1 completions were ended by the model's context (512 positions)" in caplog.records[-1].getMessage()
