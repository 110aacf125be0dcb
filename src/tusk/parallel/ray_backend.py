"""Data-parallel generation on Ray: one backend replica per GPU (or per group of CPUs).

``RayBackend("hf:/models/x", replicas=4)`` starts (or joins) a Ray cluster, creates ``replicas`` actors that
each load the inner model spec with :func:`tusk.backends.load_backend`, and feeds them chunks of requests:
each replica holds at most two chunks at a time, so a fast replica takes more work and results stream back to
the caller chunk by chunk, through the ordinary :class:`~tusk.backends.base.Backend` interface.  The model
spec ``ray:INNER_SPEC`` reaches it from the command line.

Guarantees: one Generation per request, each yielded once; a replica that dies (its process or node lost)
has its chunks handed to the remaining replicas, and only when none is left does :meth:`generate` raise;
an error raised by the inner backend (bad input, missing model) is raised as a :class:`TuskError`.
By default a cluster with GPUs gets one replica per GPU (``gpus_per_replica=1``), a CPU-only one a single
replica; pass ``replicas`` and ``cpus_per_replica`` to split CPUs.

Not done: placement across nodes beyond what Ray's scheduler does, model sharding inside a replica (use
``vllm`` with ``tensor_parallel_size`` as the inner backend for that), shipping tusk to remote nodes (install
it there, or use a Ray ``runtime_env``).
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Iterator, Sequence
from typing import Any

from tusk.backends.base import Backend, int_option
from tusk.errors import MissingExtraError, TuskError
from tusk.types import Generation, Request

log = logging.getLogger(__name__)

#: cluster and scheduling options: a run resumes and shards merge whatever the cluster's size
NEUTRAL_OPTIONS = frozenset({"replicas", "num_cpus", "address", "cpus_per_replica", "gpus_per_replica",
                             "chunk_size"})


class _Replica:
    """The actor body: one inner backend in its own process."""

    def __init__(self, spec: str, options: dict[str, Any]):
        import logging as _logging

        from tusk.backends import load_backend

        _logging.basicConfig(level=_logging.WARNING)
        self.backend = load_backend(spec, **options)

    def info(self) -> dict[str, Any]:
        import os

        return {
            "describe": self.backend.describe(),
            "preferred_prompt": self.backend.preferred_prompt,
            "pid": os.getpid(),
        }

    def chat_prompt(self, messages: list[dict[str, str]]) -> str | None:
        return self.backend.chat_prompt(messages)

    def generate(self, requests: list[Request]) -> list[Generation]:
        return list(self.backend.generate(requests))

    def close(self) -> None:
        self.backend.close()


class RayBackend(Backend):
    kind = "ray"

    def __init__(
        self,
        model: str,
        *,
        replicas: int | None = None,
        gpus_per_replica: float | None = None,
        cpus_per_replica: float = 1.0,
        chunk_size: int = 64,
        address: str | None = None,
        num_cpus: int | None = None,
        **options: Any,
    ):
        super().__init__(model)
        try:
            import ray
        except ImportError as exc:
            raise MissingExtraError("the ray backend", "ray", exc) from exc
        self._ray = ray
        self._started_ray = not ray.is_initialized()
        if self._started_ray:
            ray.init(
                address=address,
                num_cpus=num_cpus,
                include_dashboard=False,
                log_to_driver=False,
                logging_level=logging.WARNING,
            )
        resources = ray.cluster_resources()
        gpus = int(resources.get("GPU", 0))
        if gpus_per_replica is None:
            gpus_per_replica = 1.0 if gpus else 0.0
        if replicas is None:
            replicas = max(1, int(gpus // gpus_per_replica)) if gpus_per_replica else 1
        replicas = int_option("ray", "replicas", replicas, minimum=1)
        self.chunk_size = max(1, chunk_size)
        actor = ray.remote(num_gpus=gpus_per_replica, num_cpus=cpus_per_replica, max_restarts=0)(_Replica)
        self._replicas = [actor.remote(model, options) for _ in range(replicas)]
        try:
            infos = ray.get([r.info.remote() for r in self._replicas])
        except ray.exceptions.RayError as exc:
            self.close()
            raise TuskError(f"ray backend: a replica of {model!r} failed to start: {_cause(exc)}") from exc
        self._inner = infos[0]["describe"]
        self.preferred_prompt = infos[0]["preferred_prompt"]
        #: chunks finished by each replica in the last generate() (for logs and tests)
        self.chunks_done: list[int] = [0] * len(self._replicas)
        log.info("ray backend: %d replicas of %s (%s GPU each)", len(self._replicas), model, gpus_per_replica)

    @property
    def replicas(self) -> int:
        return len(self._replicas)

    def preferred_chunk(self) -> int:
        """Two chunks per replica in flight, as :meth:`generate` feeds them."""
        return 2 * self.chunk_size * self.replicas

    def describe(self) -> dict[str, Any]:
        return {
            "backend": self.kind,
            "model": self.model,
            "replicas": len(self._replicas),
            "inner": self._inner,
        }

    def chat_prompt(self, messages: Sequence[dict[str, str]]) -> str | None:
        return self._ray.get(self._replicas[0].chat_prompt.remote(list(messages)))

    def close(self) -> None:
        ray = self._ray
        for replica in getattr(self, "_replicas", []):
            try:
                ray.kill(replica)
            except (ray.exceptions.RayError, ValueError) as exc:  # already gone
                log.debug("ray backend: replica already gone: %s", exc)
        self._replicas = []
        if self._started_ray and ray.is_initialized():
            ray.shutdown()

    def generate(self, requests: Sequence[Request]) -> Iterator[Generation]:
        ray = self._ray
        if not self._replicas:
            raise TuskError("ray backend is closed")
        queue = deque(
            list(requests[i : i + self.chunk_size]) for i in range(0, len(requests), self.chunk_size)
        )
        alive = list(range(len(self._replicas)))
        load = dict.fromkeys(alive, 0)
        running: dict[Any, tuple[int, list[Request]]] = {}
        self.chunks_done = [0] * len(self._replicas)

        def feed() -> None:
            while queue and alive:
                index = min(alive, key=lambda i: load[i])
                if load[index] >= 2:
                    return
                chunk = queue.popleft()
                running[self._replicas[index].generate.remote(chunk)] = (index, chunk)
                load[index] += 1

        feed()
        while running:
            ready, _ = ray.wait(list(running), num_returns=1)
            ref = ready[0]
            index, chunk = running.pop(ref)
            load[index] -= 1
            try:
                generations = ray.get(ref)
            except ray.exceptions.RayActorError as exc:
                if index in alive:
                    alive.remove(index)
                    log.warning("ray backend: replica %d died (%s); %d left", index, _cause(exc), len(alive))
                if not alive:
                    raise TuskError(f"ray backend: every replica died; last: {_cause(exc)}") from exc
                queue.appendleft(chunk)
            except ray.exceptions.RayTaskError as exc:
                raise TuskError(f"ray backend: replica {index} failed: {_cause(exc)}") from exc
            else:
                self.chunks_done[index] += 1
                yield from generations
            feed()


def _cause(exc: BaseException) -> str:
    cause = getattr(exc, "cause", None)
    return str(cause) if cause is not None else str(exc).strip().splitlines()[-1]
