"""Deterministic, resumable shuffling: epoch e is the permutation drawn from `seed + e`.

A generator that advances across epochs makes the order of epoch e depend on everything drawn before it,
so a run resumed at epoch e would see a different order than the uninterrupted run. Seeding each epoch on
its own makes the order a pure function of (seed, epoch); Lightning calls `set_epoch` before each epoch.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch.utils.data import Sampler


class EpochShuffleSampler(Sampler[int]):
    def __init__(self, num_items: int, seed: int = 0) -> None:
        self.num_items = num_items
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.num_items

    def __iter__(self) -> Iterator[int]:
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        yield from torch.randperm(self.num_items, generator=generator).tolist()
