"""Evaluation across processes (torchrun, SLURM's srun, or any launcher that sets RANK/WORLD_SIZE): each
rank answers and judges a disjoint shard of a task's items, then the per-sample rows are gathered back into
item order on every rank, so the summary (bootstrap intervals, win rates, arena) is computed from exactly
the rows a single process would have produced, and only rank 0 writes files.

Rows are Python objects (inputs, outputs, verdicts), so they travel with `all_gather_object`; torchmetrics
metrics whose inputs are too costly to gather (image features for FID/KID/IS/CLIPScore) keep their own
distributed states and synchronise in `compute()`. The backend follows the machine
(`omnialign.models.device.distributed_backend`): gloo on CPU; with CUDA, NCCL for CUDA tensors beside gloo
for the pickled rows and CPU metric states, each rank on its own card (`cuda:$LOCAL_RANK`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import TypeVar

import torch
import torch.distributed as dist
from tqdm.auto import tqdm

from omnialign.models.device import distributed_backend, resolve_device

T = TypeVar("T")


@dataclass(frozen=True)
class Shards:
    """This process's place among the evaluating processes: item i belongs to rank `i % world`."""

    rank: int = 0
    world: int = 1

    @classmethod
    def current(cls) -> Shards:
        """The initialised default process group's rank and size; one process otherwise."""
        if dist.is_available() and dist.is_initialized():
            return cls(dist.get_rank(), dist.get_world_size())
        return cls()

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def take(self, items: Sequence[T]) -> list[T]:
        """This rank's items: rank, rank + world, ... (interleaved, so every rank gets a similar mix)."""
        return list(items[self.rank :: self.world])

    def merge(self, mine: list[T]) -> list[T]:
        """Every rank's per-item results (each aligned with its `take`) back in item order, on every rank."""
        if self.world == 1:
            return list(mine)
        gathered: list[list[T] | None] = [None] * self.world
        dist.all_gather_object(gathered, mine)
        total = sum(len(part) for part in gathered)
        return [gathered[i % self.world][i // self.world] for i in range(total)]

    def total(self, count: int) -> int:
        """`count` summed over the ranks (every rank gets the sum)."""
        if self.world == 1:
            return count
        gathered: list[int | None] = [None] * self.world
        dist.all_gather_object(gathered, count)
        return sum(gathered)


def progress(iterable: Iterable[T], desc: str, total: int | None = None) -> tqdm:
    """A tqdm bar on rank 0 only (one bar per run, not one per process); tqdm's own `TQDM_DISABLE=1`
    silences it, and it draws on stderr, which pytest captures."""
    return tqdm(iterable, desc=desc, total=total, leave=False, disable=not Shards.current().is_main)


@contextmanager
def process_group(timeout_s: float = 1800.0) -> Iterator[Shards]:
    """Join the launcher's process group (env:// rendezvous) when WORLD_SIZE > 1 and none is initialised yet,
    and leave it on exit; otherwise a no-op yielding the current shards."""
    created = int(os.environ.get("WORLD_SIZE", "1")) > 1 and not dist.is_initialized()
    if created:
        cuda = torch.cuda.is_available()
        if cuda:
            torch.cuda.set_device(resolve_device("auto"))
        backend = distributed_backend(cuda)
        dist.init_process_group(backend, init_method="env://", timeout=timedelta(seconds=timeout_s))
    try:
        yield Shards.current()
    finally:
        if created:
            dist.barrier()
            dist.destroy_process_group()
