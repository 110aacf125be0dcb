"""Stop strings, applied the same way by every backend.

A completion is cut before the first occurrence of any of the request's stop strings; the stop string itself
is dropped.  Servers and engines also stop on their own, but their rules differ in details (some keep the
stop string, some only look at token boundaries), so every backend runs its text through :func:`cut_at_stop`
before it yields it: the same text then gives the same completion whichever backend produced it.
:class:`RowStopper` is the ``hf`` backend's per-row stopping criterion for transformers' ``generate``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tusk.types import SamplingParams


def cut_at_stop(text: str, stops: Sequence[str]) -> tuple[str, bool]:
    """Return ``text`` cut before the earliest stop string, and whether a stop string was found."""
    cut = -1
    for stop in stops:
        if not stop:
            continue
        at = text.find(stop)
        if at != -1 and (cut == -1 or at < cut):
            cut = at
    if cut == -1:
        return text, False
    return text[:cut], True


class RowStopper:
    """A transformers stopping criterion that decides per row of a batch (one SamplingParams each): end-of-sequence, a stop string, or the row's max tokens.

    It records for each row how many tokens it had generated when it stopped (``lengths``) and why
    (``reasons``: "stop" or "length").  Stop strings are searched in the decoded tail of each row, wide enough
    to hold the longest stop string, so each step costs one small batched decode.
    """

    def __init__(self, tokenizer: Any, prompt_width: int, rows: Sequence[SamplingParams], eos_ids: set[int]):
        self.tokenizer = tokenizer
        self.prompt_width = prompt_width
        self.stops = [tuple(s for s in sampling.stop if s) for sampling in rows]
        self.max_tokens = [sampling.max_tokens for sampling in rows]
        self.eos_ids = eos_ids
        self.window = max((len(s) for stops in self.stops for s in stops), default=0) + 3
        self.lengths: list[int | None] = [None] * len(rows)
        self.reasons: list[str | None] = [None] * len(rows)

    def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
        import torch

        generated = input_ids.shape[1] - self.prompt_width
        last = input_ids[:, -1].tolist()
        live = [i for i, length in enumerate(self.lengths) if length is None]
        tails: dict[int, str] = {}
        wants_text = [i for i in live if self.stops[i]]
        if wants_text:
            width = min(self.window, generated)
            window = input_ids[wants_text, -width:].tolist()
            decoded = self.tokenizer.batch_decode(window, skip_special_tokens=True)
            tails = dict(zip(wants_text, decoded))
        for i in live:
            if last[i] in self.eos_ids or i in tails and any(s in tails[i] for s in self.stops[i]):
                self._finish(i, generated, "stop")
            elif generated >= self.max_tokens[i]:
                self._finish(i, generated, "length")
        done = [length is not None for length in self.lengths]
        return torch.tensor(done, dtype=torch.bool, device=input_ids.device)

    def _finish(self, row: int, generated: int, reason: str) -> None:
        self.lengths[row] = generated
        self.reasons[row] = reason
