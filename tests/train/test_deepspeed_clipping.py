"""Under DeepSpeed the engine clips gradients at its config's ``gradient_clipping``; the loop makes that
``max_grad_norm`` (the shipped ZeRO-3 JSON leaves it to the trainer).  The launched run is in tests/gpu."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from tusk.train.loop import deepspeed_clipping

SHIPPED = Path(__file__).parents[2] / "configs" / "accelerate" / "deepspeed_zero3.json"


def _accelerator(ds_json: Path):
    from accelerate.utils import DeepSpeedPlugin

    return SimpleNamespace(state=SimpleNamespace(deepspeed_plugin=DeepSpeedPlugin(hf_ds_config=str(ds_json))))


@pytest.mark.parametrize("norm", [0.3, 0.0])
def test_the_shipped_zero3_config_clips_at_max_grad_norm(norm, caplog):
    assert json.loads(SHIPPED.read_text())["gradient_clipping"] == "auto"
    accelerator = _accelerator(SHIPPED)
    with caplog.at_level("WARNING", logger="tusk.train.loop"):
        deepspeed_clipping(accelerator, norm)
    assert accelerator.state.deepspeed_plugin.deepspeed_config["gradient_clipping"] == norm
    assert caplog.text == ""


def test_a_config_asking_for_other_clipping_is_overridden_with_a_warning(tmp_path, caplog):
    own = tmp_path / "ds.json"
    own.write_text(json.dumps({**json.loads(SHIPPED.read_text()), "gradient_clipping": 1.0}))
    accelerator = _accelerator(own)
    with caplog.at_level("WARNING", logger="tusk.train.loop"):
        deepspeed_clipping(accelerator, 0.3)
    assert accelerator.state.deepspeed_plugin.deepspeed_config["gradient_clipping"] == 0.3
    assert "gradient_clipping 1.0 is replaced by max_grad_norm 0.3" in caplog.text
    deepspeed_clipping(SimpleNamespace(state=SimpleNamespace(deepspeed_plugin=None)), 0.3)  # no DeepSpeed
