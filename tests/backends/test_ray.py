"""Data-parallel generation on a local Ray instance (CPU): two replicas of the tiny hf model."""

from __future__ import annotations

from collections import Counter

import pytest

from tusk.types import Request, SamplingParams

pytestmark = pytest.mark.slow

ray = pytest.importorskip("ray")
pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def ray_backend(tiny_model_dir):
    from tusk.backends import load_backend

    backend = load_backend(f"ray:hf:{tiny_model_dir}", replicas=2, num_cpus=2, chunk_size=3, batch_size=4)
    try:
        yield backend
    finally:
        backend.close()
    assert not ray.is_initialized(), "the backend shuts down the Ray instance it started"


def _requests() -> list[Request]:
    sampling = SamplingParams(max_tokens=8)
    return [Request(f"q{i}", f"Question {i}: {i * 3} apples and {i + 2} pears.", sampling) for i in range(14)]


def test_replicas_share_the_work_and_match_a_local_run(ray_backend, tiny_model_dir):
    from tusk.backends.hf import HFBackend

    assert ray_backend.replicas == 2
    info = ray_backend.describe()
    assert info["backend"] == "ray" and info["inner"]["backend"] == "hf"
    gens = list(ray_backend.generate(_requests()))
    assert Counter(g.request_id for g in gens) == Counter(r.id for r in _requests())
    assert sum(ray_backend.chunks_done) == 5 and all(ray_backend.chunks_done)
    with HFBackend(str(tiny_model_dir), batch_size=4) as local:
        expected = {g.request_id: g.texts for g in local.generate(_requests())}
    assert {g.request_id: g.texts for g in gens} == expected


def test_a_dead_replica_hands_its_work_over(ray_backend):
    stream = ray_backend.generate(_requests())
    seen = [next(stream).request_id]
    ray.kill(ray_backend._replicas[0])  # its chunks in flight fail and go to the other replica
    seen += [g.request_id for g in stream]
    assert Counter(seen) == Counter(r.id for r in _requests())
    assert ray_backend.chunks_done[0] <= 2
