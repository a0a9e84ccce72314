"""Runs that meet trouble end in a known state: a non-finite loss stops the run (or skips the step) before
it can poison the weights, and a preempted job (SIGTERM) leaves a checkpoint to resume from.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.strategies import DeepSpeedStrategy
from lightning.pytorch.utilities import rank_zero_info, rank_zero_warn
from lightning.pytorch.utilities.exceptions import SIGTERMException


class NonFiniteLossError(RuntimeError):
    """The training loss was NaN or infinite and the run was configured to stop."""


class NonFiniteLossGuard(Callback):
    """Checks every training loss before its backward pass; all ranks decide together, so under `ddp` a
    NaN on one rank stops or skips on every rank instead of leaving the others waiting.

    `stop` raises before backward, so the weights (and the last checkpoint) stay finite. `skip` lets the
    backward run, then drops the gradients so the optimiser leaves the weights and its moments untouched;
    the learning-rate schedule still advances, as it does for a step AMP's grad scaler skips.
    """

    def __init__(self, action: Literal["stop", "skip"] = "stop", max_consecutive_skips: int = 10) -> None:
        """
        Args:
            action: `stop` ends the run with an error naming the step; `skip` drops the optimiser step.
            max_consecutive_skips: With `skip`, stop anyway after this many skipped steps in a row: a loss
                that stays non-finite is divergence, not one bad batch.
        """
        self.action = action
        self.max_consecutive_skips = max_consecutive_skips
        self.skipped_steps = 0
        self._consecutive = 0
        self._drop_next_step = False

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        if self.action == "skip" and isinstance(trainer.strategy, DeepSpeedStrategy):
            raise ValueError(
                "nonfinite.action=skip cannot drop a DeepSpeed optimiser step (the engine owns the "
                "gradients); use nonfinite.action=stop, or fp16 with DeepSpeed's loss scaling, which skips "
                "overflowing steps itself"
            )

    def on_before_backward(self, trainer: Trainer, pl_module: LightningModule, loss: torch.Tensor) -> None:
        local_bad = not bool(torch.isfinite(loss.detach()).all())
        if not trainer.strategy.reduce_boolean_decision(local_bad, all=False):
            return
        where = (
            f"epoch {trainer.current_epoch}, global step {trainer.global_step}, "
            f"batch {trainer.fit_loop.epoch_loop.batch_idx}"
        )
        if self.action == "stop":
            raise NonFiniteLossError(
                f"non-finite training loss ({loss.detach().float().mean().item()} on rank "
                f"{trainer.global_rank}) at {where}; stopped before the weights changed. Resume from the "
                "last checkpoint with a lower learning rate, or set nonfinite.action=skip to skip such steps"
            )
        self._drop_next_step = True
        rank_zero_warn(f"non-finite training loss at {where}: skipping this optimiser step")

    def on_before_optimizer_step(
        self, trainer: Trainer, pl_module: LightningModule, optimizer: torch.optim.Optimizer
    ) -> None:
        if not self._drop_next_step:
            self._consecutive = 0
            return
        self._drop_next_step = False
        optimizer.zero_grad(set_to_none=True)  # parameters without a gradient are left alone by step()
        self.skipped_steps += 1
        self._consecutive += 1
        pl_module.log("train/skipped_steps", float(self.skipped_steps), on_step=True, rank_zero_only=True)
        if self._consecutive >= self.max_consecutive_skips:
            raise NonFiniteLossError(
                f"{self._consecutive} optimiser steps in a row had a non-finite loss (max_consecutive_skips="
                f"{self.max_consecutive_skips}): the run has diverged"
            )


def checkpoint_directory(trainer: Trainer) -> Path:
    """Where `ModelCheckpoint` writes (so `--ckpt_path last` finds what we save), else
    `<root>/checkpoints`."""
    callback = trainer.checkpoint_callback
    if isinstance(callback, ModelCheckpoint) and callback.dirpath is not None:
        return Path(callback.dirpath)
    return Path(trainer.default_root_dir) / "checkpoints"


class SaveOnPreemption(Callback):
    """On SIGTERM (a scheduler's preemption, `scancel`, a spot instance reclaimed), Lightning finishes the
    current batch and raises `SIGTERMException`, which exits with status 0. This callback saves a
    checkpoint at that batch boundary, as `last.ckpt` beside the others, so the requeued job continues with
    `--ckpt_path last` from exactly there. Other exceptions save nothing: their state may be mid-step."""

    def __init__(self, filename: str = "last") -> None:
        """`filename`: checkpoint name without `.ckpt`; names starting with `last` are what
        `--ckpt_path last` looks for."""
        self.filename = filename

    def on_exception(self, trainer: Trainer, pl_module: LightningModule, exception: BaseException) -> None:
        if not isinstance(exception, SIGTERMException):
            return
        path = checkpoint_directory(trainer) / f"{self.filename}.ckpt"
        trainer.save_checkpoint(path)
        rank_zero_info(
            f"SIGTERM: saved {path} at global step {trainer.global_step}; resume: --ckpt_path last"
        )
