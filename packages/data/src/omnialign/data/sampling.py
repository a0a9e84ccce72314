"""Deterministic, resumable, rank-aware shuffling: epoch e is the permutation drawn from `seed + e`.

A `torch.Generator` that advances across epochs makes the order of epoch e depend on everything drawn
before it, so a run resumed at epoch e would see a different order than the uninterrupted run. Seeding
each epoch on its own makes the order a pure function of (seed, epoch); Lightning calls `set_epoch` before
each epoch.

The sampler is a `DistributedSampler`, so Lightning keeps it under `ddp`/DeepSpeed/FSDP instead of wrapping
it: rank r takes positions r, r + W, r + 2W ... of the one permutation, hence the first global batch of W
ranks with batch B holds exactly the first W·B items the single-process run with batch W·B sees. A run
resumed mid-epoch calls `skip` with the items this rank already consumed, and the next pass starts there.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch
import torch.distributed as dist
from torch.utils.data import DistributedSampler


def _world() -> tuple[int, int]:
    """(world size, rank) of the initialised process group, or a single process."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size(), dist.get_rank()
    return 1, 0


class EpochShuffleSampler(DistributedSampler):
    def __init__(
        self, num_items: int, seed: int = 0, num_replicas: int | None = None, rank: int | None = None
    ) -> None:
        """`num_replicas`/`rank` default to the process group's (one process when there is none); they
        are read when the dataloader is built, which Lightning does after the group is initialised."""
        world, own_rank = _world()
        super().__init__(
            range(num_items),
            num_replicas=world if num_replicas is None else num_replicas,
            rank=own_rank if rank is None else rank,
            shuffle=True,
            seed=seed,
        )
        self.num_items = num_items
        self._skip = 0

    def skip(self, num_consumed: int) -> None:
        """Start the next pass `num_consumed` items into this rank's share of the current epoch."""
        if not 0 <= num_consumed <= self.num_samples:
            raise ValueError(f"cannot skip {num_consumed} of {self.num_samples} items")
        self._skip = num_consumed

    def __iter__(self) -> Iterator[int]:
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        order = torch.randperm(self.num_items, generator=generator).tolist()
        order = (order * math.ceil(self.total_size / len(order)))[: self.total_size]  # equal shares
        start, self._skip = self._skip, 0
        yield from order[self.rank : self.total_size : self.num_replicas][start:]
