"""Optimiser and learning-rate schedule options shared by every objective.

The schedule needs the run's total number of optimiser steps, which only the trainer knows, so it is
described by options here and built in `configure_optimizers` rather than injected as a callable.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from torch.optim import Optimizer
from transformers import get_scheduler


@dataclass
class ScheduleOptions:
    """Learning-rate schedule: warmup then constant, linear or cosine decay to zero."""

    name: Literal["constant", "linear", "cosine"] = "cosine"
    """Shape after warmup."""
    warmup_ratio: float = 0.0
    """Fraction of all optimiser steps spent warming up linearly from zero."""

    def __post_init__(self) -> None:
        if not 0.0 <= self.warmup_ratio < 1.0:
            raise ValueError(f"warmup_ratio must be in [0, 1), got {self.warmup_ratio}")


def build_schedule(optimizer: Optimizer, options: ScheduleOptions, total_steps: int) -> dict:
    """A Lightning `lr_scheduler` config dict stepping once per optimiser step."""
    name = "constant_with_warmup" if options.name == "constant" else options.name
    scheduler = get_scheduler(
        name,
        optimizer,
        num_warmup_steps=int(options.warmup_ratio * total_steps),
        num_training_steps=total_steps,
    )
    return {"scheduler": scheduler, "interval": "step", "frequency": 1}
