"""The generation cache: reruns reuse generations; keys follow the model, the prompt and the sampling."""

from __future__ import annotations

import sqlite3

import pytest

from tusk.backends.cached import CachedBackend, cache_key
from tusk.backends.scripted import ScriptedBackend
from tusk.errors import TuskError
from tusk.types import Request, SamplingParams


def _scripted(name: str = "table") -> ScriptedBackend:
    return ScriptedBackend(name, responder=lambda request, i: f"answer to {request.prompt} #{i}")


EIGHT_TOKENS = SamplingParams(max_tokens=8)


def _requests(sampling: SamplingParams = EIGHT_TOKENS) -> list[Request]:
    return [Request(f"r{i}", f"prompt {i % 5}", sampling) for i in range(8)]  # r5..r7 repeat prompts 0..2


def test_second_run_never_calls_the_inner_backend(tmp_path):
    first_inner = _scripted()
    with CachedBackend(first_inner, tmp_path) as cached:
        first = {g.request_id: g for g in cached.generate(_requests())}
        assert cached.hits == 0 and cached.misses == 8
    assert len(first_inner.calls) == 5, "duplicate prompts with equal sampling go to the model once"
    assert first["r5"].texts == first["r0"].texts == ("answer to prompt 0 #0",)

    second_inner = _scripted()
    with CachedBackend(second_inner, tmp_path) as cached:
        second = {g.request_id: g for g in cached.generate(_requests())}
        assert cached.hits == 8 and cached.misses == 0
    assert second_inner.calls == []
    assert second == first
    assert (tmp_path / "generations.sqlite").is_file()


def test_key_changes_with_model_prompt_and_sampling(tmp_path):
    with CachedBackend(_scripted(), tmp_path / "c.sqlite") as cached:
        list(cached.generate(_requests()))
    other_model = _scripted("other-table")
    with CachedBackend(other_model, tmp_path / "c.sqlite") as cached:
        list(cached.generate(_requests()))
    assert len(other_model.calls) == 5
    hotter = _scripted()
    with CachedBackend(hotter, tmp_path / "c.sqlite") as cached:
        list(cached.generate(_requests(SamplingParams(max_tokens=8, temperature=0.5))))
        list(cached.generate([Request("new", "a new prompt", SamplingParams(max_tokens=8))]))
    assert len(hotter.calls) == 6
    base = {"backend": "x"}
    assert cache_key(base, "p", SamplingParams()) == cache_key(dict(base), "p", SamplingParams())
    assert cache_key(base, "p", SamplingParams()) != cache_key(base, "p", SamplingParams(stop=("\n",)))
    assert cache_key(base, "p", SamplingParams()) != cache_key({"backend": "y"}, "p", SamplingParams())
    # greedy decoding ignores the seed and top_p, so its key does too; sampling keeps both
    assert cache_key(base, "p", SamplingParams(seed=7, top_p=0.5)) == cache_key(base, "p", SamplingParams())
    hot = SamplingParams(temperature=0.7)
    assert cache_key(base, "p", hot) != cache_key(base, "p", SamplingParams(temperature=0.7, seed=1))


def test_time_is_counted_once_and_hits_cost_none(tmp_path):
    import dataclasses

    class Timed(ScriptedBackend):
        def generate(self, requests):
            for generation in super().generate(requests):
                yield dataclasses.replace(generation, seconds=1.5)

    with CachedBackend(Timed("table", responder=lambda r, i: "x"), tmp_path) as cached:
        first = {g.request_id: g.seconds for g in cached.generate(_requests())}
    assert sum(first.values()) == 5 * 1.5  # five distinct prompts generated; the three repeats cost nothing
    with CachedBackend(Timed("table", responder=lambda r, i: "x"), tmp_path) as cached:
        assert [g.seconds for g in cached.generate(_requests())] == [0.0] * 8


def test_interrupted_run_keeps_what_it_yielded(tmp_path):
    inner = _scripted()
    with CachedBackend(inner, tmp_path) as cached:
        stream = cached.generate(_requests()[:4])
        got = [next(stream).request_id, next(stream).request_id]
        stream.close()
    again = _scripted()
    with CachedBackend(again, tmp_path) as cached:
        list(cached.generate(_requests()[:4]))
    assert sorted(r.id for r in again.calls) == sorted({"r0", "r1", "r2", "r3"} - set(got))


def test_stored_rows_are_plain_json(tmp_path):
    with CachedBackend(_scripted(), tmp_path) as cached:
        list(cached.generate([Request("a", "ünïcode ✓", SamplingParams(n=2, temperature=1.0))]))
        assert cached.describe()["generation_cache"].endswith("generations.sqlite")
    with sqlite3.connect(tmp_path / "generations.sqlite") as db:
        (texts,) = db.execute("SELECT texts FROM generations").fetchone()
    assert texts == '["answer to ünïcode ✓ #0", "answer to ünïcode ✓ #1"]'


def test_unwritable_location_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(TuskError, match="generation cache"):
        CachedBackend(_scripted(), blocker / "sub")


def test_real_model_rerun_is_identical(tmp_path, tiny_model_dir):
    pytest.importorskip("transformers")
    from tusk.backends.hf import HFBackend

    requests = [Request(f"q{i}", f"Question {i}: 48 clips", SamplingParams(max_tokens=6)) for i in range(3)]
    with CachedBackend(HFBackend(str(tiny_model_dir)), tmp_path) as cached:
        first = {g.request_id: g.texts for g in cached.generate(requests)}
    with CachedBackend(HFBackend(str(tiny_model_dir)), tmp_path) as cached:
        second = {g.request_id: g.texts for g in cached.generate(requests)}
        assert cached.hits == 3
    assert first == second


def test_a_damaged_row_is_a_one_line_error_naming_the_cache(tmp_path):
    with CachedBackend(_scripted(), tmp_path) as cached:
        list(cached.generate(_requests()))
    db = sqlite3.connect(tmp_path / "generations.sqlite")
    db.execute("UPDATE generations SET texts = 'not json'")
    db.commit()
    db.close()
    with CachedBackend(_scripted(), tmp_path) as cached, pytest.raises(TuskError, match="is damaged .* delete it"):
        list(cached.generate(_requests()))
