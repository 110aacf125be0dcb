"""Prompt masking by character offsets: alignment on tricky tokenisations, EOS kept, truncation counted."""

from __future__ import annotations

import numpy as np
import pytest
from tusk_train_tiny import OUTPUTS, QUESTIONS, alpaca_records, build_tokenizer

from tusk.prompts import alpaca_prompt, build_prompt
from tusk.train.collate import collate
from tusk.train.data import to_example
from tusk.train.masking import encode_examples, training_text
from tusk.types import Problem, TrainingExample


def _examples():
    return [to_example(r, f"record {i}") for i, r in enumerate(alpaca_records())]


def test_training_prompt_is_byte_identical_to_the_evaluation_prompt():
    for i, question in enumerate(QUESTIONS):
        problem = Problem(id=f"t/{i}", benchmark="t", question=question, answer="1")
        example = TrainingExample(instruction=question, output=OUTPUTS[i])
        prompt, full = training_text(example)
        assert prompt == build_prompt(problem, "cot", "alpaca") == alpaca_prompt(question)
        assert prompt.encode() == build_prompt(problem, "cot", "alpaca").encode()
        assert full == prompt + OUTPUTS[i]
        assert prompt.endswith("### Response:")


@pytest.mark.parametrize("kind,bos", [("byte", False), ("byte", True), ("nosplit", False)])
def test_mask_covers_exactly_the_prompt(kind, bos):
    tokenizer = build_tokenizer(kind, bos=bos)
    examples = _examples()
    data = encode_examples(tokenizer, examples, max_length=4096)
    assert data.stats.kept == len(examples) and data.stats.truncated == 0
    for i, example in enumerate(examples):
        prompt, full = training_text(example)
        ids = data.ids[i].tolist()
        n = int(data.n_masked[i])
        encoded = tokenizer(full, add_special_tokens=True, return_offsets_mapping=True)
        offsets = encoded["offset_mapping"]
        assert ids[:-1] == encoded["input_ids"] and ids[-1] == tokenizer.eos_token_id
        # every masked token lies inside the prompt; the first trained token holds response characters
        assert all(end <= len(prompt) for _, end in offsets[:n])
        assert offsets[n][1] > len(prompt) or offsets[n][0] >= len(prompt)
        # the trained tokens spell the whole response (plus at most the merged tail of the prompt) and EOS
        trained = tokenizer.decode(ids[n:-1])
        assert trained.endswith(example.output)
        assert prompt.endswith(trained[: len(trained) - len(example.output)])


def test_boundary_merge_is_trained_not_dropped():
    """A response starting with '$' merges with the prompt's final ':' in byte-level BPE (':$' is one token);
    the merged token is trained, and re-tokenising the prompt alone (the classic recipe) is off by one."""
    tokenizer = build_tokenizer("byte")
    example = TrainingExample(instruction="Solve for x: 2x + 6 = 10.", output="$x = 2$")
    prompt, _ = training_text(example)
    data = encode_examples(tokenizer, [example], max_length=512)
    assert data.stats.boundary_merges == 1
    n = int(data.n_masked[0])
    assert tokenizer.convert_ids_to_tokens(int(data.ids[0][n])) == ":$"
    naive = len(tokenizer(prompt)["input_ids"])
    assert naive != n  # the prompt alone ends in ':' which the full text never contains as a token


def test_eos_is_labelled_when_pad_equals_eos():
    tokenizer = build_tokenizer("byte")
    assert tokenizer.pad_token_id == tokenizer.eos_token_id
    examples = _examples()[:3]
    data = encode_examples(tokenizer, examples, max_length=512)
    for packing in (True, False):
        batch = collate(data, (0, 1, 2), packing, tokenizer.pad_token_id)
        targets = batch.targets.numpy()
        eos_targets = int((targets == tokenizer.eos_token_id).sum())
        assert eos_targets == 3  # one trained EOS per example, padding never labelled
        assert batch.target_tokens == sum(data.target_tokens(i) for i in range(3))
        if not packing:
            mask = batch.attention_mask.numpy()
            assert (targets[mask == 0] == -100).all()


def test_truncation_and_dropping_are_counted():
    tokenizer = build_tokenizer("byte")
    examples = _examples()
    lengths = [len(tokenizer(training_text(e)[1])["input_ids"]) + 1 for e in examples]
    prompt_lengths = [len(tokenizer(training_text(e)[0])["input_ids"]) for e in examples]
    limit = min(lengths) - 1
    data = encode_examples(tokenizer, examples, max_length=limit)
    assert data.stats.truncated == sum(1 for n in lengths if n > limit)
    assert data.stats.dropped == sum(1 for n in prompt_lengths if n >= limit)
    assert all(len(ids) <= limit for ids in data.ids)
    assert data.stats.kept + data.stats.dropped == len(examples)


def test_shifted_targets_predict_the_next_token():
    tokenizer = build_tokenizer("byte")
    data = encode_examples(tokenizer, _examples()[:2], max_length=512)
    batch = collate(data, (0, 1), True, tokenizer.pad_token_id)
    ids, targets, positions = batch.input_ids[0].numpy(), batch.targets[0].numpy(), batch.position_ids[0].numpy()
    starts = np.flatnonzero(positions == 0)
    assert list(starts) == [0, len(data.ids[0])]
    trained = np.flatnonzero(targets != -100)
    assert (targets[trained] == ids[trained + 1]).all()
    assert targets[len(data.ids[0]) - 1] == -100  # the last token of one example predicts nothing
