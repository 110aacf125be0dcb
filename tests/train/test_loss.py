"""Loss correctness on tiny real models: packed == unpacked, accumulation/packing invariance of training."""

from __future__ import annotations

import json

import pytest
import torch
from tusk_train_tiny import alpaca_records

from tusk.train.collate import collate
from tusk.train.config import TrainConfig
from tusk.train.data import to_example
from tusk.train.loading import load_model, load_tokenizer
from tusk.train.loop import _summed_loss, train
from tusk.train.masking import encode_examples


def _setup(model_dir, attn="sdpa"):
    tokenizer = load_tokenizer(str(model_dir))
    model = load_model(str(model_dir), torch.float32, attn)
    examples = [to_example(r, str(i)) for i, r in enumerate(alpaca_records())]
    return tokenizer, model, encode_examples(tokenizer, examples, max_length=512)


@pytest.mark.parametrize("fixture", ["tiny_llama", "tiny_qwen"])
@pytest.mark.parametrize("attn", ["sdpa", "eager"])
def test_packed_loss_equals_unpacked_loss(request, fixture, attn):
    tokenizer, model, data = _setup(request.getfixturevalue(fixture), attn)
    indices = tuple(range(len(data)))
    pad = tokenizer.pad_token_id
    torch.set_grad_enabled(False)
    try:
        _compare(model, data, indices, pad)
    finally:
        torch.set_grad_enabled(True)


def _compare(model, data, indices, pad):
    alone = sum(float(_summed_loss(model, collate(data, (i,), True, pad), "cpu")) for i in indices)
    packed = float(_summed_loss(model, collate(data, indices, True, pad), "cpu"))
    longest = int(max(len(ids) for ids in data.ids))
    rows = collate(data, indices, True, pad, row_tokens=longest + 20)  # several rows, padded tails
    assert rows.input_ids.shape[0] > 1 and (rows.input_ids.shape[1] <= longest + 20)
    assert float(_summed_loss(model, rows, "cpu")) == pytest.approx(alone, rel=1e-5)
    padded = float(_summed_loss(model, collate(data, indices, False, pad), "cpu"))
    assert packed == pytest.approx(alone, rel=1e-5)
    assert padded == pytest.approx(alone, rel=1e-5)


def test_packing_without_position_reset_would_leak(tiny_llama):
    """The control: the same packed row with running position ids (examples attend to each other) differs,
    so the equality above is a real check of per-example attention."""
    tokenizer, model, data = _setup(tiny_llama)
    indices = tuple(range(len(data)))
    batch = collate(data, indices, True, tokenizer.pad_token_id)
    torch.set_grad_enabled(False)
    good = float(_summed_loss(model, batch, "cpu"))
    leaky = batch.__class__(batch.input_ids, batch.targets, torch.arange(batch.input_ids.shape[1])[None],
                            None, batch.keep, batch.target_tokens, batch.tokens)
    leaked = float(_summed_loss(model, leaky, "cpu"))
    torch.set_grad_enabled(True)
    assert leaked != pytest.approx(good, rel=1e-4)


def test_packed_gradients_equal_unpacked_gradients(tiny_llama):
    tokenizer, model, data = _setup(tiny_llama)
    indices = tuple(range(len(data)))
    grads = []
    for packing in (True, False):
        model.zero_grad()
        _summed_loss(model, collate(data, indices, packing, tokenizer.pad_token_id), "cpu").backward()
        grads.append(torch.cat([p.grad.flatten() for p in model.parameters()]))
    assert torch.allclose(grads[0], grads[1], rtol=1e-4, atol=1e-6)


def _run(tmp_path, model_dir, name, **changes):
    data = tmp_path / "train.json"
    if not data.exists():
        data.write_text(json.dumps(alpaca_records() * 3))
    config = TrainConfig(model=str(model_dir), data=str(data), out=str(tmp_path / name), batch_size=8,
                         max_steps=3, learning_rate=5e-3, export="none", lora_dropout=0.0, **changes)
    return train(config, progress=False)


@pytest.mark.slow
def test_training_is_invariant_to_accumulation_and_packing(tmp_path, tiny_llama):
    base = _run(tmp_path, tiny_llama, "a1", grad_accum=1)
    accum = _run(tmp_path, tiny_llama, "a4", grad_accum=4)
    padded = _run(tmp_path, tiny_llama, "pad", grad_accum=3, packing=False)
    assert len(base.losses) == 3
    assert base.losses[-1] < base.losses[0]
    assert accum.losses == pytest.approx(base.losses, rel=1e-5)
    assert padded.losses == pytest.approx(base.losses, rel=1e-5)
    w1 = torch.load(tmp_path / "a1/checkpoints/step-000003/trainable.pt")
    w4 = torch.load(tmp_path / "a4/checkpoints/step-000003/trainable.pt")
    assert all(torch.allclose(w1[k], w4[k], rtol=1e-4, atol=2e-5) for k in w1)


@pytest.mark.slow
@pytest.mark.parametrize("method", ["full", "lora"])
def test_gradient_checkpointing_gives_the_same_training(tmp_path, tiny_llama, method):
    plain = _run(tmp_path, tiny_llama, f"plain-{method}", method=method)
    checkpointed = _run(tmp_path, tiny_llama, f"gc-{method}", method=method, gradient_checkpointing=True)
    assert checkpointed.losses == pytest.approx(plain.losses, rel=1e-5)
    assert checkpointed.losses[-1] < checkpointed.losses[0]
