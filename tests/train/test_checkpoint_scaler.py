"""fp16 training keeps its loss scale across a resume (the scaler's state is part of a checkpoint)."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("accelerate")


def test_the_loss_scale_survives_a_checkpoint(tmp_path):
    from accelerate import Accelerator

    from tusk.train.checkpoint import load_checkpoint, save_checkpoint

    def parts(init_scale):
        accelerator = Accelerator(cpu=True)
        model = torch.nn.Linear(3, 2)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
        accelerator.scaler = torch.amp.GradScaler("cpu", init_scale=init_scale)  # what fp16 on a GPU gets
        accelerator.scaler.scale(torch.tensor(1.0))  # the scale tensor exists from the first step on
        return accelerator, model, optimizer, scheduler

    accelerator, model, optimizer, scheduler = parts(init_scale=1024.0)
    accelerator.scaler.update(new_scale=37.0)  # as after overflows halved it
    save_checkpoint(accelerator, model, optimizer, scheduler, tmp_path / "ckpt", {"step": 3})
    assert (tmp_path / "ckpt/scaler.pt").is_file()
    resumed = parts(init_scale=1024.0)
    assert load_checkpoint(*resumed, tmp_path / "ckpt") == {"step": 3}
    assert resumed[0].scaler.get_scale() == 37.0
