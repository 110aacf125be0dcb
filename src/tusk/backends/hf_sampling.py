"""Sampling for the ``hf`` backend that does not depend on how rows are batched.

transformers draws every row of a batch from one random stream, so a sample depends on which rows share its
batch, on their order and on the batch size.  :class:`RowSampler` instead draws each row from noise that is a
pure function of ``(row key, decoding step, token id)``: the Gumbel-max trick.  Adding Gumbel noise
``-log(-log(u))`` to the temperature-scaled, top-p-filtered logits and taking the arg max picks a token with
exactly the softmax probabilities.  The uniform ``u`` comes from an integer hash computed on the whole
``[rows, vocab]`` tensor at once (a few element-wise kernels per step, no per-row generator), so:

- a row's sample is the same whatever batch, batch size, request order or resumed subset it is decoded in,
  and on the CPU and a GPU alike (for the same logits);
- row keys come from the request's seed, prompt and sample number (:func:`row_key`): samples of one request
  differ from each other, and a rerun with the same seed draws the same samples (as the generation cache,
  which keys by prompt and sampling settings, assumes).

Used with ``do_sample=False``: the processor leaves the sampling in the scores and generate's arg max takes it.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from typing import Any

_MASK = 0xFFFFFFFF
# odd multipliers below 2**31, so every product of two 32-bit values stays inside a signed 64-bit integer
_M1, _M2, _M3 = 0x7FEB352D, 0x2C1B3C6D, 0x297A2D39
_STEP = 0x61C88647


def row_key(seed: int, prompt: str, sample: int) -> int:
    """A 32-bit key for one sample of one prompt."""
    blob = f"{seed}\0{sample}\0{prompt}".encode()
    return int.from_bytes(hashlib.sha256(blob).digest()[:4], "little")


def _mix(x: Any) -> Any:
    """A 32-bit integer hash, element-wise on an int64 tensor holding values below 2**32."""
    x = x ^ (x >> 16)
    x = (x * _M1) & _MASK
    x = x ^ (x >> 15)
    x = (x * _M2) & _MASK
    x = x ^ (x >> 16)
    x = (x * _M3) & _MASK
    return x ^ (x >> 15)


def uniform_noise(keys: Any, step: Any, vocab: int) -> Any:
    """``[rows, vocab]`` floats in (0, 1): a function of each row's key, its step (an int, or an int64 tensor
    of one step per row) and the token id only."""
    import torch

    rows = _mix((keys + step * _STEP) & _MASK)
    tokens = torch.arange(vocab, device=keys.device, dtype=torch.int64)
    bits = _mix((rows[:, None] ^ _mix(tokens)[None, :]) & _MASK) >> 8  # 24 bits
    return (bits.to(torch.float64) + 0.5) / float(1 << 24)


class RowSampler:
    """A transformers logits processor: temperature, top-p, then Gumbel noise per row (see the module)."""

    def __init__(self, keys: Sequence[int], temperature: float, top_p: float, prompt_width: int, device: Any):
        import torch

        self.keys = torch.tensor(list(keys), dtype=torch.int64, device=device)
        self.temperature = temperature
        self.top_p = top_p
        self.prompt_width = prompt_width

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        return sample_scores(scores, self.keys, input_ids.shape[1] - self.prompt_width, self.temperature,
                             self.top_p)


def sample_scores(scores: Any, keys: Any, step: Any, temperature: float, top_p: float) -> Any:
    """Temperature, top-p, then each row's Gumbel noise: the arg max of the result is the row's sample.

    ``step`` is the decoding step, one for all rows (an int) or one per row (an int64 tensor): a row's draw
    depends only on its key, its step and the logits.
    """
    import torch

    logits = scores.float() / temperature
    if top_p < 1.0:
        ordered, order = torch.sort(logits, dim=-1, descending=True)
        probs = ordered.softmax(dim=-1)
        before = probs.cumsum(dim=-1) - probs  # mass of the tokens ranked above each token
        drop = before >= top_p  # keeps the smallest set reaching top_p, at least one token
        logits = logits.scatter(-1, order, ordered.masked_fill(drop, -math.inf))
    u = uniform_noise(keys, step, logits.shape[-1])
    gumbel = -torch.log(-torch.log(u))
    return logits + gumbel.to(logits.dtype)
