"""Optimiser and learning-rate schedule options shared by every objective.

The schedule needs the run's total number of optimiser steps, which only the trainer knows, so it is
described by options here and built in `configure_optimizers` rather than injected as a callable.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

import torch
from torch.optim import Optimizer
from transformers import get_scheduler

FUSED_DEVICES = ("cpu", "cuda")
"""Devices whose fused Adam/AdamW kernels torch ships (one kernel per step instead of a loop over tensors)."""


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


def build_optimizer(
    factory: Callable[[Iterable[torch.nn.Parameter]], Optimizer],
    params: list[torch.nn.Parameter],
    allow_fused: bool = True,
) -> Optimizer:
    """The configured optimiser over `params`, with Adam and AdamW switched to torch's fused kernel when the
    config left the implementation to torch (`fused` and `foreach` unset) and every parameter is a float
    tensor on a device that has it.

    Why: torch's default on CPU is its per-tensor loop, about 6x slower than the fused kernel on a 135M
    model (0.41 vs 0.07 s per step, 2 threads), which is 12% of a SmolLM2 reward-model step. transformers'
    Trainer (and so TRL) defaults to the fused AdamW for the same reason. An explicit `fused` or `foreach`
    in the config is kept as written; `allow_fused=False` (DeepSpeed, which steps its own flat partitions)
    keeps torch's choice.
    """
    optimizer = factory(params)
    if not allow_fused or type(optimizer) not in (torch.optim.Adam, torch.optim.AdamW):
        return optimizer
    groups = optimizer.param_groups
    if any(g.get("fused") is not None or g.get("foreach") is not None for g in groups):
        return optimizer
    tensors = [p for g in groups for p in g["params"]]
    if not tensors or any(p.device.type not in FUSED_DEVICES or not p.is_floating_point() for p in tensors):
        return optimizer
    accepted = inspect.signature(type(optimizer).__init__).parameters
    options = {k: v for k, v in optimizer.defaults.items() if k in accepted}
    return type(optimizer)([{**g, "fused": True} for g in groups], **{**options, "fused": True})
