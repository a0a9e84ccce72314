"""Reward-model preference accuracy and margin, overall and per subset (RewardBench-style report).

A pair is correct when the chosen response scores above the rejected one; a tie counts half, so a reward
model that scores everything the same reads 0.5 (chance), not 0. RewardBench reports each subset and a
section score that is the *mean over subsets* (`macro`), so a large easy subset cannot hide a small hard one.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torchmetrics import Metric


class PreferenceAccuracy(Metric):
    """Accuracy and mean margin (chosen − rejected) of a reward model on preference pairs."""

    full_state_update = False
    higher_is_better = True

    def __init__(self, subsets: list[str] | None = None) -> None:
        """
        Args:
            subsets: Names of the subsets pairs can belong to; `None` for one unnamed set.
        """
        super().__init__()
        self.subsets = list(subsets) if subsets is not None else ["all"]
        size = len(self.subsets)
        self.add_state("correct", torch.zeros(size, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("margin", torch.zeros(size, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("count", torch.zeros(size, dtype=torch.float64), dist_reduce_fx="sum")

    def update(self, chosen: Tensor, rejected: Tensor, subset: Tensor | None = None) -> None:
        """`chosen`, `rejected`: scores `[N]`; `subset`: index into `subsets` per pair (all 0 when None)."""
        if subset is None:
            subset = torch.zeros_like(chosen, dtype=torch.long)
        diff = (chosen - rejected).double()
        correct = (diff > 0).double() + 0.5 * (diff == 0).double()
        self.correct.index_add_(0, subset, correct)
        self.margin.index_add_(0, subset, diff)
        self.count.index_add_(0, subset, torch.ones_like(diff))

    def compute(self) -> dict[str, Tensor]:
        seen = self.count > 0
        per_subset = self.correct / self.count.clamp_min(1)
        result = {
            "accuracy": self.correct.sum() / self.count.sum().clamp_min(1),
            "margin": self.margin.sum() / self.count.sum().clamp_min(1),
        }
        if len(self.subsets) > 1:
            result["accuracy/macro"] = per_subset[seen].mean()
            for index, name in enumerate(self.subsets):
                result[f"accuracy/{name}"] = per_subset[index]
                result[f"margin/{name}"] = self.margin[index] / self.count[index].clamp_min(1)
        return result
