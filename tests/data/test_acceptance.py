"""The issue's acceptance build (manual: the embedded teacher writes 200 programs on the CPU, which takes long).

    TUSK_DATA_DIR=../shared/data pytest -m manual tests/data/test_acceptance.py

Set ``TUSK_DATA_ACCEPTANCE_OUT`` to a folder to keep (and resume) the build there.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tusk.data.build import build_dataset
from tusk.data.config import load_config
from tusk.data.manifest import check_build

CONFIG = Path(__file__).resolve().parents[2] / "configs" / "data" / "acceptance.yaml"


@pytest.mark.manual
def test_acceptance_build(request, shared_data_dir, tmp_path):
    if "manual" not in (request.config.option.markexpr or ""):
        pytest.skip("manual acceptance run: select it with -m manual")
    out = Path(os.environ.get("TUSK_DATA_ACCEPTANCE_OUT") or tmp_path / "acceptance")
    result = build_dataset(load_config(CONFIG), out, data_dir=shared_data_dir, show_progress=True)
    assert check_build(out) == []
    manifest = result.manifest
    comps = manifest["components"]
    assert comps["gsm8k/cot"]["problems"] == 7473 and comps["math/cot"]["problems"] == 7500
    assert comps["mathqa/pot"]["verification"]["checked"] == comps["mathqa/pot"]["candidates"] > 4400
    synth = comps["gsm8k/pot-qwen"]
    assert synth["problems"] == 200 and synth["verification"]["checked"] == 200
    assert synth["verification"]["passed"] > 0
    records = json.loads((out / "train.json").read_text())
    modes = {f"{r['source']}/{r['mode']}" for r in records}
    assert modes == {"gsm8k/cot", "math/cot", "mathqa/pot", "gsm8k/pot"}
