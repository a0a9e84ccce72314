"""Distributed-safe torchmetrics metrics for reward, cost and moderation models, arenas and generation."""

from omnialign.eval.metrics.arena import QUADRANTS, ArenaQuadrants, WinRateMatrix
from omnialign.eval.metrics.cost import CostAccuracy
from omnialign.eval.metrics.generation import build_generation_metric
from omnialign.eval.metrics.moderation import ModerationMetrics
from omnialign.eval.metrics.preference import PreferenceAccuracy

__all__ = [
    "QUADRANTS",
    "ArenaQuadrants",
    "CostAccuracy",
    "ModerationMetrics",
    "PreferenceAccuracy",
    "WinRateMatrix",
    "build_generation_metric",
]
