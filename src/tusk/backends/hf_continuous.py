"""Continuous batching for the ``hf`` backend (option ``batching=continuous``).

A padded batch (transformers ``generate``) runs until its longest row stops: rows that stopped early keep
their place and cost a full decoding step each, and a batch of short answers with one long one mostly
computes padding.  :class:`ContinuousDecoder` runs its own decoding loop over a transformers dynamic KV cache
instead:

- a row that stops leaves the batch (its cache rows are dropped), and waiting rows join when a quarter of the
  slots are free: each joining group is prefilled together, then its cache is merged with the
  running one, whose rows are aligned on the right (left padding, masked; position ids count each row's own
  tokens, so a row's positions do not depend on its neighbours), and leading columns that no row uses any
  more are trimmed;
- each step decodes one token for every running row; greedy rows take the arg max, sampled rows draw with
  :func:`tusk.backends.hf_sampling.sample_scores` at their own step, so a sample is the same as in a padded
  batch; stops (end of sequence, stop strings in the decoded tail, max tokens) are those of
  :class:`~tusk.backends.stopping.RowStopper`;
- rows are yielded as they finish, with their share of each step's time;
- dropping rows copies the whole cache, so on a GPU, where a decoding step costs about as much as that copy,
  finished rows stay in the batch (computed, ignored) until a quarter of the slots have finished, and are
  dropped together, just before the next group joins; on the CPU, where compute dominates, they go at once.

It needs a model whose cache layers are plain dynamic layers (full attention: Llama, Qwen2, Mistral without a
sliding window...); a model with sliding-window or other special layers is refused with a TuskError naming
the layer type, and ``batching=padded`` (the default) serves it.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Iterator, Sequence
from typing import Any

from tusk.backends.hf_sampling import sample_scores
from tusk.errors import TuskError

#: a waiting group joins when at least this fraction of the slots is free (or when no row is running)
REFILL_FRACTION = 0.25


class OutOfMemory(Exception):
    """Raised when the device runs out of memory; the caller retries with fewer slots."""


class _Running:
    """The rows being decoded: their tokens so far, and what the cache and mask hold for them."""

    def __init__(self) -> None:
        self.rows: list[Any] = []  # hf._Row
        self.generated: list[list[int]] = []
        self.positions: list[int] = []  # real tokens (prompt + generated) in each row's cache
        self.seconds: list[float] = []
        self.cache: Any = None
        self.mask: Any = None  # [rows, columns] 1 where the cache holds a real token
        self.next_ids: Any = None  # [rows] the token each row feeds in the next step
        self.done: list[bool] = []  # finished and yielded, still in the cache until the next compaction

    def alive(self) -> list[int]:
        return [i for i, done in enumerate(self.done) if not done]


class ContinuousDecoder:
    """Decode rows of one sampling setting with ``slots`` rows running at a time (see the module)."""

    def __init__(self, lm: Any, tokenizer: Any, device: str, eos_ids: set[int], pad_id: int):
        self.lm = lm
        self.tokenizer = tokenizer
        self.device = device
        self.eos_ids = eos_ids
        self.pad_id = pad_id
        # transformers renamed generate's ``past_key_values`` to ``cache`` (5.2x); take the model's own name
        base = lm.get_base_model() if hasattr(lm, "get_base_model") else lm  # PEFT
        self.cache_arg = "cache" if "cache" in inspect.signature(base.forward).parameters else "past_key_values"
        self.drop_at_once = not str(device).startswith("cuda")

    def run(self, rows: Sequence[Any], slots: int) -> Iterator[tuple[Any, tuple[str, str, int], float]]:
        """Yield ``(row, (text, finish reason, generated tokens), seconds)`` for each row as it finishes."""
        import torch

        if not rows:
            return
        sampling = rows[0].sampling
        window = max((len(s) for row in rows for s in row.sampling.stop if s), default=0) + 3
        waiting = list(rows)
        running = _Running()
        refill = max(1, int(slots * REFILL_FRACTION))
        drop_at = 1 if self.drop_at_once else refill
        with torch.inference_mode():
            while waiting or running.alive():
                alive = running.alive()
                free = slots - len(alive)
                if waiting and (free >= refill or not alive):
                    began = time.perf_counter()
                    if len(alive) < len(running.rows):
                        self._keep(running, alive)
                    group, waiting = waiting[:free], waiting[free:]
                    self._join(running, group)
                    self._share(running, time.perf_counter() - began, range(len(running.rows) - len(group),
                                                                              len(running.rows)))
                    yield from self._finish_rows(running, window)
                    continue
                if len(running.rows) - len(alive) >= drop_at:
                    self._keep(running, alive)
                    alive = running.alive()
                began = time.perf_counter()
                logits = self._step(running)
                running.next_ids = self._choose(logits, running, sampling)
                tokens = running.next_ids.tolist()
                for i in alive:
                    running.generated[i].append(tokens[i])
                self._share(running, time.perf_counter() - began, alive)
                yield from self._finish_rows(running, window)

    # -- model passes ----------------------------------------------------------------------------------------

    def _forward(self, ids: Any, mask: Any, positions: Any, cache: Any) -> tuple[Any, Any]:
        try:
            out = self.lm(input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=True,
                          logits_to_keep=1, **{self.cache_arg: cache})
        except RuntimeError as exc:  # torch.cuda.OutOfMemoryError is a RuntimeError
            if "out of memory" in str(exc).lower():
                raise OutOfMemory from exc
            raise
        returned = getattr(out, "cache", None)
        return out.logits[:, -1, :], returned if returned is not None else out.past_key_values

    def _join(self, running: _Running, group: Sequence[Any]) -> None:
        """Prefill ``group`` together and merge its cache into the running rows' (aligned on the right)."""
        import torch

        width = max(len(row.ids) for row in group)
        ids = torch.full((len(group), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(group), width), dtype=torch.long)
        for i, row in enumerate(group):
            ids[i, width - len(row.ids):] = torch.tensor(row.ids, dtype=torch.long)
            mask[i, width - len(row.ids):] = 1
        ids, mask = ids.to(self.device), mask.to(self.device)
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        logits, cache = self._forward(ids, mask, positions, None)
        _check_layers(cache)
        sampling = group[0].sampling
        keys = torch.tensor([row.key for row in group], dtype=torch.int64, device=self.device)
        first = _pick(logits, sampling, keys, torch.zeros_like(keys))
        if not running.rows:
            running.cache, running.mask, running.next_ids = cache, mask, first
        else:
            columns = running.mask.shape[1]
            if width < columns:
                _pad_left(cache, columns - width)
                mask = torch.nn.functional.pad(mask, (columns - width, 0))
            elif width > columns:
                _pad_left(running.cache, width - columns)
                running.mask = torch.nn.functional.pad(running.mask, (width - columns, 0))
            for mine, theirs in zip(running.cache.layers, cache.layers):
                mine.keys = torch.cat([mine.keys, theirs.keys], dim=0)
                mine.values = torch.cat([mine.values, theirs.values], dim=0)
            running.mask = torch.cat([running.mask, mask], dim=0)
            running.next_ids = torch.cat([running.next_ids, first], dim=0)
        for i, row in enumerate(group):
            running.rows.append(row)
            running.generated.append([int(first[i])])
            running.positions.append(len(row.ids))
            running.seconds.append(0.0)
            running.done.append(False)

    def _step(self, running: _Running) -> Any:
        """One decoding step for every running row: feed each its last token; return the next logits."""
        import torch

        ones = torch.ones((len(running.rows), 1), dtype=running.mask.dtype, device=running.mask.device)
        running.mask = torch.cat([running.mask, ones], dim=1)
        positions = torch.tensor(running.positions, dtype=torch.long, device=self.device)[:, None]
        logits, running.cache = self._forward(running.next_ids[:, None], running.mask, positions, running.cache)
        running.positions = [p + 1 for p in running.positions]
        return logits

    def _choose(self, logits: Any, running: _Running, sampling: Any) -> Any:
        import torch

        if sampling.greedy:
            return _pick(logits, sampling, None, None)
        keys = torch.tensor([row.key for row in running.rows], dtype=torch.int64, device=self.device)
        steps = torch.tensor([len(g) for g in running.generated], dtype=torch.int64, device=self.device)
        return _pick(logits, sampling, keys, steps)

    # -- bookkeeping -----------------------------------------------------------------------------------------

    @staticmethod
    def _share(running: _Running, elapsed: float, served: Sequence[int]) -> None:
        """Charge a pass's time to the rows it served (a join: the joining rows; a step: the unfinished rows)."""
        for i in served:
            running.seconds[i] += elapsed / len(served)

    def _finish_rows(self, running: _Running, window: int) -> Iterator[tuple[Any, tuple[str, str, int], float]]:
        """Yield rows that stopped after their latest token and mark them done (dropped from the cache at once
        on the CPU, later on a GPU: see the module)."""
        from tusk.backends.stopping import cut_at_stop

        reasons = self._stopped(running, window)
        if not any(reasons):
            return
        results = []
        for i, reason in enumerate(reasons):
            if reason is None:
                continue
            row, tokens = running.rows[i], running.generated[i]
            text = self.tokenizer.decode(tokens, skip_special_tokens=True)
            text, cut = cut_at_stop(text, row.sampling.stop)
            ended = "stop" if cut or reason == "stop" else "length"
            results.append((row, (text, ended, len(tokens)), running.seconds[i]))
            running.done[i] = True
        if self.drop_at_once:
            self._keep(running, running.alive())
        yield from results

    def _stopped(self, running: _Running, window: int) -> list[str | None]:
        """Per row: "stop" (end of sequence or a stop string), "length" (max tokens) or None (still running, or
        done before)."""
        reasons: list[str | None] = [None] * len(running.rows)
        alive = running.alive()
        wants_text = [i for i in alive if any(running.rows[i].sampling.stop)]
        tails = {}
        if wants_text:
            decoded = self.tokenizer.batch_decode([running.generated[i][-window:] for i in wants_text],
                                                  skip_special_tokens=True)
            tails = dict(zip(wants_text, decoded))
        for i in alive:
            row, tokens = running.rows[i], running.generated[i]
            if tokens[-1] in self.eos_ids or (i in tails and any(s and s in tails[i] for s in row.sampling.stop)):
                reasons[i] = "stop"
            elif len(tokens) >= row.sampling.max_tokens:
                reasons[i] = "length"
        return reasons

    @staticmethod
    def _keep(running: _Running, keep: list[int]) -> None:
        """Drop every row not in ``keep`` from the cache and the lists; trim columns no row uses."""
        import torch

        running.rows = [running.rows[i] for i in keep]
        running.generated = [running.generated[i] for i in keep]
        running.positions = [running.positions[i] for i in keep]
        running.seconds = [running.seconds[i] for i in keep]
        running.done = [running.done[i] for i in keep]
        if not keep:
            running.cache = running.mask = running.next_ids = None
            return
        index = torch.tensor(keep, dtype=torch.long, device=running.mask.device)
        running.mask = running.mask.index_select(0, index)
        running.next_ids = running.next_ids.index_select(0, index)
        used = int(running.mask.any(dim=0).int().argmax())  # the first column some row still uses
        running.mask = running.mask[:, used:]
        for layer in running.cache.layers:
            layer.keys = layer.keys.index_select(0, index)[:, :, used:, :]
            layer.values = layer.values.index_select(0, index)[:, :, used:, :]


def _pick(logits: Any, sampling: Any, keys: Any, steps: Any) -> Any:
    """The next token per row: the arg max (greedy) or a draw with each row's own noise."""
    if sampling.greedy:
        return logits.float().argmax(dim=-1)
    return sample_scores(logits, keys, steps, sampling.temperature, sampling.top_p).argmax(dim=-1)


def _check_layers(cache: Any) -> None:
    from transformers.cache_utils import DynamicLayer

    layers = getattr(cache, "layers", None)
    if layers is None:
        raise TuskError(f"hf backend: batching=continuous needs a transformers dynamic cache with layers; the model "
                        f"returned {type(cache).__name__}; use batching=padded")
    for layer in layers:
        if type(layer) is not DynamicLayer:
            raise TuskError(f"hf backend: batching=continuous supports full-attention caches only; this model's cache "
                            f"has {type(layer).__name__} layers (sliding window or similar); use batching=padded")


def _pad_left(cache: Any, columns: int) -> None:
    """Add ``columns`` masked columns at the left of every layer's keys and values."""
    import torch

    for layer in cache.layers:
        layer.keys = torch.nn.functional.pad(layer.keys, (0, 0, columns, 0))
        layer.values = torch.nn.functional.pad(layer.values, (0, 0, columns, 0))
