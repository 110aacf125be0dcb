"""A real 2-process data-parallel run on the CPU (torchrun, gloo) matches the single-process loss curve."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from tusk_train_tiny import alpaca_records

from tusk.train.config import TrainConfig
from tusk.train.loop import train
from tusk.train.runlog import losses


@pytest.mark.slow
def test_two_process_gloo_run_matches_single_process(tmp_path, tiny_llama):
    data = tmp_path / "train.json"
    data.write_text(json.dumps(alpaca_records() * 3))
    common = {"model": str(tiny_llama), "data": str(data), "batch_size": 8, "max_steps": 3,
              "learning_rate": 5e-3, "export": "none", "packing": True}
    single = train(TrainConfig(out=str(tmp_path / "one"), grad_accum=2, **common), progress=False)

    env = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    overrides = [f"--set={k}={v}" for k, v in common.items()] + [f"--set=out={tmp_path / 'two'}", "--set=grad_accum=1"]
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nnodes=1", "--nproc-per-node=2",
               "-m", "tusk.cli", "train", "--no-progress", *overrides]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    log = [json.loads(line) for line in (tmp_path / "two" / "log.jsonl").read_text().splitlines()]
    assert log[0]["event"] == "start" and log[0]["world_size"] == 2
    two = [loss for _, loss in losses(tmp_path / "two" / "log.jsonl")]
    assert len(two) == 3
    assert two == pytest.approx(list(single.losses), rel=1e-5)
