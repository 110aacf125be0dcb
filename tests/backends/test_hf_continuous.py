"""Continuous batching in the hf backend (``batching=continuous``): the same generations as one row at a time,
a cache that joins, drops and trims rows correctly, out-of-memory recovery and clear refusals.

tests/backends/test_hf.py runs its whole suite in both batching modes as well."""

from __future__ import annotations

import logging
import random
import time
import weakref

import pytest

from tusk.errors import TuskError
from tusk.types import Request, SamplingParams

pytest.importorskip("transformers")

from tusk.backends import hf_continuous
from tusk.backends.hf import HFBackend

WORDS = ("Natalia", "sold", "clips", "to", "48", "of", "her", "friends", "in", "April", "and", "then", "half", "as",
         "many", "in", "May", "step", "answer", "is")


def _mixed_requests(sampling: SamplingParams, count: int = 14, seed: int = 1) -> list[Request]:
    """Prompts of 1 to 40 words, budgets of 1 to 30 tokens, some with stop strings: rows join, stop and leave
    at every point of a run."""
    rng = random.Random(seed)
    requests = []
    for i in range(count):
        prompt = " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 40)))
        stop = (rng.choice(["e", "is", "an"]),) if i % 3 == 0 else ()
        requests.append(Request(f"r{i}", prompt, SamplingParams(
            max_tokens=rng.randint(1, 30), stop=stop, temperature=sampling.temperature, top_p=sampling.top_p,
            n=sampling.n, seed=sampling.seed)))
    return requests


def _outputs(backend: HFBackend, requests: list[Request]) -> dict[str, tuple]:
    out = {}
    for g in backend.generate(requests):
        assert g.request_id not in out, "a request was answered twice"
        out[g.request_id] = (g.texts, g.finish_reasons, g.completion_tokens, g.prompt_tokens)
    assert set(out) == {r.id for r in requests}
    return out


@pytest.fixture(scope="module")
def single(tiny_model_dir):
    with HFBackend(str(tiny_model_dir), batch_size=1) as b:
        yield b


@pytest.mark.parametrize("sampling", [SamplingParams(), SamplingParams(temperature=1.2, top_p=0.9, n=3, seed=11)],
                         ids=["greedy", "sampled"])
@pytest.mark.parametrize("slots", [1, 3, 8])
def test_continuous_equals_one_row_at_a_time(tiny_model_dir, single, sampling, slots):
    requests = _mixed_requests(sampling)
    with HFBackend(str(tiny_model_dir), batch_size=slots, batching="continuous") as continuous:
        assert _outputs(continuous, requests) == _outputs(single, requests)


@pytest.fixture
def gpu_style(monkeypatch):
    """Finished rows stay in the batch until a quarter of the slots have finished, as on a GPU."""
    init = hf_continuous.ContinuousDecoder.__init__

    def lazy(self, *args, **kwargs):
        init(self, *args, **kwargs)
        self.drop_at_once = False

    monkeypatch.setattr(hf_continuous.ContinuousDecoder, "__init__", lazy)


@pytest.mark.parametrize("sampling", [SamplingParams(), SamplingParams(temperature=1.2, top_p=0.9, n=3, seed=11)],
                         ids=["greedy", "sampled"])
def test_finished_rows_dropped_later_change_nothing(tiny_model_dir, single, sampling, gpu_style, monkeypatch):
    widths = []
    keep = hf_continuous.ContinuousDecoder._keep

    def counted(running, rows):
        widths.append((len(running.rows), len(rows)))
        return keep(running, rows)

    monkeypatch.setattr(hf_continuous.ContinuousDecoder, "_keep", staticmethod(counted))
    requests = _mixed_requests(sampling, count=16)
    with HFBackend(str(tiny_model_dir), batch_size=8, batching="continuous") as continuous:
        assert _outputs(continuous, requests) == _outputs(single, requests)
    assert widths and all(before - after >= 2 for before, after in widths), "rows leave two or more at a time"


def test_cache_holds_no_column_that_no_row_uses(tiny_model_dir, monkeypatch):
    """Rows of different lengths join and leave; the cache is always as wide as its longest row, and its mask
    marks exactly each row's own tokens."""
    seen = []
    step = hf_continuous.ContinuousDecoder._step

    def checked(self, running):
        columns = running.mask.shape[1]
        assert columns == max(running.positions)
        assert running.mask.sum(dim=1).tolist() == running.positions
        assert all(layer.keys.shape[2] == columns and layer.keys.shape[0] == len(running.rows)
                   for layer in running.cache.layers)
        seen.append(len(running.rows))
        return step(self, running)

    monkeypatch.setattr(hf_continuous.ContinuousDecoder, "_step", checked)
    with HFBackend(str(tiny_model_dir), batch_size=4, batching="continuous") as continuous:
        _outputs(continuous, _mixed_requests(SamplingParams(), count=20))
    assert max(seen) == 4 and min(seen) < 4, "rows should have run four at a time and left one by one"


def test_out_of_memory_continues_with_fewer_slots(tiny_model_dir, single, monkeypatch, caplog):
    requests = _mixed_requests(SamplingParams(temperature=1.0, n=2, seed=5), count=10)
    expected = _outputs(single, requests)
    forward = hf_continuous.ContinuousDecoder._forward
    calls = {"n": 0, "slots": []}

    def flaky(self, ids, mask, positions, cache):
        calls["n"] += 1
        calls["slots"].append(ids.shape[0])
        if calls["n"] == 12:
            failed.append(weakref.ref(cache))
            raise hf_continuous.OutOfMemory
        return forward(self, ids, mask, positions, cache)

    failed: list[weakref.ref] = []
    alive_at_release: list[bool] = []
    monkeypatch.setattr(hf_continuous.ContinuousDecoder, "_forward", flaky)
    # memory is released once nothing holds the failed try's cache (its traceback is gone)
    monkeypatch.setattr(HFBackend, "_release_memory", lambda self: alive_at_release.append(failed[0]() is not None))
    with (caplog.at_level(logging.WARNING, logger="tusk.backends.hf"),
          HFBackend(str(tiny_model_dir), batch_size=6, batching="continuous") as continuous):
        assert _outputs(continuous, requests) == expected
    assert "out of memory; continuing" in caplog.text and "with 3 slots" in caplog.text
    assert max(calls["slots"][12:]) <= 3
    assert alive_at_release == [False]


def test_out_of_memory_with_one_slot_is_an_error(tiny_model_dir, monkeypatch):
    def broke(self, ids, mask, positions, cache):
        raise hf_continuous.OutOfMemory

    monkeypatch.setattr(hf_continuous.ContinuousDecoder, "_forward", broke)
    with (HFBackend(str(tiny_model_dir), batch_size=1, batching="continuous") as continuous,
          pytest.raises(TuskError, match="out of memory with a batch of one row")):
        list(continuous.generate(_mixed_requests(SamplingParams(), count=2)))


def test_time_is_shared_out_not_counted_twice(tiny_model_dir):
    requests = _mixed_requests(SamplingParams(), count=12)
    with HFBackend(str(tiny_model_dir), batch_size=4, batching="continuous") as continuous:
        began = time.perf_counter()
        gens = list(continuous.generate(requests))
        wall = time.perf_counter() - began
    assert all(g.seconds > 0 for g in gens)
    assert sum(g.seconds for g in gens) <= wall


def test_options_and_models_it_refuses(tiny_model_dir, tmp_path):
    with pytest.raises(TuskError, match="option batching='paged' is not one of padded, continuous"):
        HFBackend(str(tiny_model_dir), batching="paged")
    with pytest.raises(TuskError, match="does not combine with cache=static or compile=true"):
        HFBackend(str(tiny_model_dir), batching="continuous", cache="static")
    with HFBackend(str(tiny_model_dir), batching=" Continuous ") as continuous:
        assert continuous.batching == "continuous"
        assert "batching" not in continuous.describe(), "a scheduling choice, like batch_size: same identity"
        assert continuous.preferred_chunk() == 4 * 16

    import torch
    from transformers import MistralConfig, MistralForCausalLM, PreTrainedTokenizerFast

    with HFBackend(str(tiny_model_dir)) as plain:
        tokenizer: PreTrainedTokenizerFast = plain.tokenizer
    config = MistralConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                           num_attention_heads=4, num_key_value_heads=2, sliding_window=8, bos_token_id=0,
                           eos_token_id=1, pad_token_id=2)
    torch.manual_seed(0)
    MistralForCausalLM(config).save_pretrained(tmp_path / "windowed")
    tokenizer.save_pretrained(tmp_path / "windowed")
    with (HFBackend(str(tmp_path / "windowed"), batching="continuous") as windowed,
          pytest.raises(TuskError, match="has DynamicSlidingWindowLayer layers .* use batching=padded")):
        list(windowed.generate(_mixed_requests(SamplingParams(), count=2)))
    with HFBackend(str(tmp_path / "windowed")) as padded:
        assert len(_outputs(padded, _mixed_requests(SamplingParams(), count=2))) == 2
