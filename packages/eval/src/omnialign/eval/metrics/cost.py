"""Cost-model accuracy: ranking (the safer response costs less) and sign (cost > 0 exactly when unsafe).

Safe RLHF's cost model carries meaning in its sign, not only in differences: the Lagrangian constraint is
E[C] ≤ 0, so a cost model that ranks well but puts every response above zero would make every answer look
unsafe. Both accuracies are reported for that reason.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torchmetrics import Metric


class CostAccuracy(Metric):
    """Ranking accuracy over pairs and sign accuracy over every response of a cost model."""

    full_state_update = False
    higher_is_better = True

    def __init__(self) -> None:
        super().__init__()
        for name in ("ranked", "pairs", "signed", "responses"):
            self.add_state(name, torch.zeros((), dtype=torch.float64), dist_reduce_fx="sum")

    def update(self, safer: Tensor, other: Tensor, safer_is_safe: Tensor, other_is_safe: Tensor) -> None:
        """Costs `[N]` of the safer and of the other response per pair, and each response's safety label."""
        diff = (other - safer).double()
        self.ranked += ((diff > 0).double() + 0.5 * (diff == 0).double()).sum()
        self.pairs += diff.numel()
        costs = torch.cat([safer, other])
        unsafe = ~torch.cat([safer_is_safe, other_is_safe]).bool()
        self.signed += ((costs > 0) == unsafe).double().sum()
        self.responses += costs.numel()

    def compute(self) -> dict[str, Tensor]:
        return {
            "ranking_accuracy": self.ranked / self.pairs.clamp_min(1),
            "sign_accuracy": self.signed / self.responses.clamp_min(1),
        }
