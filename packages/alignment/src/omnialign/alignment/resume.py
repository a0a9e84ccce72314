"""Exact resume: a run restarted from a checkpoint continues as if it had never stopped.

Lightning restores weights, optimiser, scheduler and loop counters, but not the random-number generators,
and it restarts a plain DataLoader at the top of the epoch, so a mid-epoch resume would replay the epoch's
first batches. This callback adds the two missing pieces: every rank's RNG state travels in the checkpoint,
and the training sampler skips the items the interrupted run already consumed in the current epoch.
"""

from __future__ import annotations

import io
import random
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.utilities import rank_zero_warn


def _rng_state() -> dict[str, Any]:
    """Tensors, ints and tuples only, so a `weights_only` checkpoint load accepts it."""
    name, keys, position, has_gauss, cached = np.random.get_state(legacy=True)
    state = {
        "python": random.getstate(),
        "numpy": (name, torch.from_numpy(keys.copy()), position, has_gauss, cached),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    name, keys, position, has_gauss, cached = state["numpy"]
    np.random.set_state((name, keys.numpy(), position, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _gather(state: dict[str, Any]) -> list[dict[str, Any]]:
    """`state` from every rank (the checkpoint is written by rank zero alone). It travels as `torch.save`
    bytes: `all_gather_object` cannot pickle tensors on every torch build."""
    if not (dist.is_available() and dist.is_initialized()):
        return [state]
    buffer = io.BytesIO()
    torch.save(state, buffer)
    gathered: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(gathered, buffer.getvalue())
    return [torch.load(io.BytesIO(blob), weights_only=True) for blob in gathered]


def batches_consumed(trainer: Trainer) -> int:
    """Training batches of the current epoch the restored run already took; 0 at an epoch boundary.

    Read in `on_train_start`, before the epoch loop resets its counters: `processed` counts the batches
    whose training step finished, which is where every checkpoint hook (batch end, validation end, epoch
    end) leaves it."""
    processed = trainer.fit_loop.epoch_loop.batch_progress.current.processed
    return 0 if processed >= trainer.num_training_batches else processed


class ExactResume(Callback):
    """Saves per-rank RNG states; on resume restores them and moves the sampler to the first unseen item.

    The sampler must offer `skip(num_items)` and `set_epoch` (`omnialign.data.sampling.EpochShuffleSampler`
    does); with another sampler a mid-epoch resume warns that it replays the epoch from its start."""

    def __init__(self) -> None:
        self._rng_to_restore: list[dict[str, Any]] | None = None

    def state_dict(self) -> dict[str, Any]:
        return {"rng": _gather(_rng_state())}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._rng_to_restore = state_dict["rng"]

    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Mid-epoch, the interrupted run had built its data iterator before the checkpoint: rebuild it (if
        at all) before restoring the RNG. At an epoch boundary it built the next one after the checkpoint:
        restore first, then rebuild, so the iterator's seed draw lands where it did."""
        if trainer.ckpt_path is None:
            return
        consumed = batches_consumed(trainer)
        loader = trainer.train_dataloader
        _reposition(loader, trainer.fit_loop.epoch_progress.current.processed, consumed)
        if consumed and getattr(loader, "num_workers", 0) > 0:
            _rebuild_iterator(trainer)
        if self._rng_to_restore is not None:
            _set_rng_state(self._rng_to_restore[trainer.global_rank % len(self._rng_to_restore)])
            self._rng_to_restore = None
        if not consumed:
            _rebuild_iterator(trainer)


def _reposition(loader: Any, epoch: int, consumed_batches: int) -> None:
    """Point the training sampler at `epoch` and its first unseen item."""
    sampler = getattr(loader, "sampler", None)
    if hasattr(sampler, "skip"):
        sampler.set_epoch(epoch)
        sampler.skip(consumed_batches * loader.batch_size)
    elif consumed_batches:
        rank_zero_warn(
            f"resuming mid-epoch, but the training sampler ({type(sampler).__name__}) cannot skip the "
            f"{consumed_batches} batches already taken: this epoch restarts from its first batch"
        )


def _rebuild_iterator(trainer: Trainer) -> None:
    """Build the training iterator again. Lightning builds it before `on_train_start` (and before setting
    the epoch), which is too early for worker loaders (they take their first indices then) and for the
    global RNG (the loader draws its base seed then)."""
    iter(trainer.fit_loop._data_fetcher)
