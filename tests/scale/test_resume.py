"""Resumed ≡ uninterrupted: a run restarted from any of its checkpoints (mid-epoch, at an epoch boundary,
after SIGTERM) produces the same per-step losses as the run that never stopped. The module's loss draws
from torch's RNG, the schedule is cosine and AdamW carries moments, so a lost RNG state, a replayed batch,
or an optimiser/scheduler restored wrong each shows as a mismatch."""

from __future__ import annotations

import signal

import pytest
import torch
from lightning.pytorch import Callback
from scale_helpers import BATCH, fit_tiny

from omnialign.data.sampling import EpochShuffleSampler


@pytest.mark.parametrize("step", [2, 6, 9], ids=["mid-epoch-0", "epoch-boundary", "mid-epoch-1"])
def test_resumed_run_continues_the_uninterrupted_curve(uninterrupted, tmp_path, step):
    root, train, full = uninterrupted
    assert len(full) == 12
    resumed = fit_tiny(tmp_path, train, BATCH, [], ckpt_path=str(root / "ckpt" / f"step={step}.ckpt"))
    assert [s for s, _ in resumed] == [s for s, _ in full[step:]]
    torch.testing.assert_close([v for _, v in resumed], [v for _, v in full[step:]], rtol=0, atol=1e-6)


class _SigtermAt(Callback):
    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_end(self, trainer, *_):
        if trainer.global_step == self.step:
            signal.raise_signal(signal.SIGTERM)


def test_sigterm_saves_a_checkpoint_and_exits_cleanly(uninterrupted, tmp_path):
    _, train, full = uninterrupted
    with pytest.raises(SystemExit) as stopped:
        fit_tiny(tmp_path, train, BATCH, [_SigtermAt(8)])
    assert stopped.value.code in (None, 0)
    last = tmp_path / "checkpoints" / "last.ckpt"
    assert torch.load(last, weights_only=False)["global_step"] == 8
    resumed = fit_tiny(tmp_path / "again", train, BATCH, [], ckpt_path=str(last))
    torch.testing.assert_close([v for _, v in resumed], [v for _, v in full[8:]], rtol=0, atol=1e-6)


def test_sampler_shards_one_permutation_and_skips_consumed_items():
    whole = list(EpochShuffleSampler(10, seed=3))
    assert sorted(whole) == list(range(10))
    shards = [list(EpochShuffleSampler(10, seed=3, num_replicas=2, rank=r)) for r in (0, 1)]
    assert shards == [whole[0::2], whole[1::2]]
    sampler = EpochShuffleSampler(10, seed=3)
    sampler.skip(4)
    assert list(sampler) == whole[4:]
    assert list(sampler) == whole, "a skip applies to one pass only"
    sampler.set_epoch(1)
    assert list(sampler) != whole
