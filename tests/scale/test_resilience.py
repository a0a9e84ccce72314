"""Crash safety: a SIGKILL in the middle of writing a checkpoint leaves the previous one intact and
resumable; a non-finite loss stops the run before the weights change, or skips exactly that step."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from lightning.pytorch import Callback
from lightning.pytorch.callbacks import ModelCheckpoint
from scale_helpers import BATCH, NoisySFT, fit_tiny, tiny_module

from omnialign.alignment.resilience import NonFiniteLossError, NonFiniteLossGuard

HERE = Path(__file__).resolve().parent

# The child trains with a last.ckpt every 2 steps; its third checkpoint write emits a few bytes and then the
# process SIGKILLs itself, i.e. it dies with the step-6 checkpoint half written.
_DIE_DURING_THIRD_SAVE = """
import os, signal, sys
from pathlib import Path
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from scale_helpers import BATCH, fit_tiny

real_save, saves = torch.save, []

def save_or_die(obj, stream, *args, **kwargs):
    saves.append(1)
    if len(saves) < 3:
        return real_save(obj, stream, *args, **kwargs)
    stream.write(b"PK half a checkpoint")
    stream.flush()
    os.kill(os.getpid(), signal.SIGKILL)

torch.save = save_or_die
root, train = Path(sys.argv[1]), Path(sys.argv[2])
last = ModelCheckpoint(dirpath=root / "checkpoints", every_n_train_steps=2, save_top_k=0, save_last=True)
fit_tiny(root, train, BATCH, [last])
"""


@pytest.mark.slow
def test_sigkill_during_save_keeps_the_previous_checkpoint_resumable(uninterrupted, tmp_path):
    _, train, full = uninterrupted
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])}
    child = subprocess.run(
        [sys.executable, "-c", _DIE_DURING_THIRD_SAVE, str(tmp_path), str(train)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert child.returncode == -9, child.stderr[-3000:]
    folder = tmp_path / "checkpoints"
    assert [p.name for p in folder.glob(".last.ckpt.*.tmp")], "the kill should have hit the write"
    assert torch.load(folder / "last.ckpt", weights_only=False)["global_step"] == 4
    last = ModelCheckpoint(dirpath=folder, every_n_train_steps=2, save_top_k=0, save_last=True)
    resumed = fit_tiny(tmp_path, train, BATCH, [last], ckpt_path="last")  # must not pick the .tmp file
    torch.testing.assert_close([v for _, v in resumed], [v for _, v in full[4:]], rtol=0, atol=1e-6)


class NaNAt(NoisySFT):
    """Returns a NaN loss at the given global steps."""

    def __init__(self, bad_steps: set[int], **kwargs) -> None:
        super().__init__(**kwargs)
        self.bad_steps = bad_steps

    def training_step(self, batch, batch_idx):
        loss = super().training_step(batch, batch_idx)
        return loss * math.nan if self.trainer.global_step in self.bad_steps else loss


class Snapshots(Callback):
    """A copy of the weights after every optimiser step."""

    def __init__(self) -> None:
        self.weights: list[torch.Tensor] = []

    def on_train_batch_end(self, trainer, pl_module, *_):
        self.weights.append(torch.cat([p.detach().flatten() for p in pl_module.parameters()]).clone())


def test_nonfinite_loss_stops_before_the_weights_change(uninterrupted, tmp_path):
    _, train, _ = uninterrupted
    snapshots = Snapshots()
    module = tiny_module(NaNAt, bad_steps={3})
    with pytest.raises(NonFiniteLossError, match=r"global step 3, batch 3.*nonfinite.action=skip"):
        fit_tiny(tmp_path, train, BATCH, [snapshots], module=module)
    assert len(snapshots.weights) == 3
    weights = torch.cat([p.detach().flatten() for p in module.parameters()])
    assert torch.equal(weights, snapshots.weights[-1]) and torch.isfinite(weights).all()


def test_nonfinite_loss_skip_leaves_weights_and_optimizer_untouched(uninterrupted, tmp_path):
    _, train, _ = uninterrupted
    snapshots, guard = Snapshots(), NonFiniteLossGuard(action="skip")
    module = tiny_module(NaNAt, bad_steps={3})
    fit_tiny(tmp_path, train, BATCH, [snapshots, guard], module=module, max_epochs=1)
    assert guard.skipped_steps == 1
    assert torch.equal(snapshots.weights[3], snapshots.weights[2]), "the NaN step must not move the weights"
    assert not torch.equal(snapshots.weights[4], snapshots.weights[3]), "training goes on after it"
    assert all(torch.isfinite(w).all() for w in snapshots.weights)
    steps = {state["step"].item() for state in module.optimizers().optimizer.state.values()}
    assert steps == {len(snapshots.weights) - 1}, "AdamW's step count excludes the skipped step"


def test_nonfinite_loss_that_persists_stops_a_skipping_run(uninterrupted, tmp_path):
    _, train, _ = uninterrupted
    guard = NonFiniteLossGuard(action="skip", max_consecutive_skips=2)
    with pytest.raises(NonFiniteLossError, match="2 optimiser steps in a row"):
        fit_tiny(
            tmp_path, train, BATCH, [guard], module=tiny_module(NaNAt, bad_steps={1, 2, 3}), max_epochs=1
        )
