"""Hand-computed cases for every metric, shared by the single-process test and the 2-process DDP worker.

Each case is (build metric, list of update argument tuples, expected compute result). The DDP worker feeds
rank r the rows r, r+2, ... of every update, so each process holds part of the data and only the
synchronised states can give the expected numbers.
"""

from __future__ import annotations

import torch

from omnialign.eval.metrics import (
    ArenaQuadrants,
    CostAccuracy,
    ModerationMetrics,
    PreferenceAccuracy,
    WinRateMatrix,
)

T = torch.tensor

# chosen − rejected = 1, 0, −1, 3, 1 → correct 1, ½, 0, 1, 1. chat = rows 0, 1, 4: 2.5/3; safety = rows 2, 3:
# ½. Overall 3.5/5 = 0.7; macro (5/6 + ½)/2 = 2/3; margin 4/5; chat margin 2/3, safety margin 2/2 = 1.
PREFERENCE = (
    lambda: PreferenceAccuracy(["chat", "safety"]),
    [(T([2.0, 1, 0, 3, 1]), T([1.0, 1, 1, 0, 0]), T([0, 0, 1, 1, 0]))],
    {
        "accuracy": 0.7,
        "margin": 0.8,
        "accuracy/macro": 2 / 3,
        "accuracy/chat": 5 / 6,
        "accuracy/safety": 0.5,
        "margin/chat": 2 / 3,
        "margin/safety": 1.0,
    },
)

# other − safer = 2, 0, −1 → ranked 1, ½, 0 = 0.5. Costs −1, .5, 2, 1, .5, 1 vs unsafe F, F, T, T, T, T:
# (cost > 0) == unsafe fails only for the safe response costing 0.5 → 5/6.
COST = (
    CostAccuracy,
    [(T([-1.0, 0.5, 2]), T([1.0, 0.5, 1]), T([True, True, False]), T([False, False, False]))],
    {"ranking_accuracy": 0.5, "sign_accuracy": 5 / 6},
)

# Category a: predicted (≥ .5) 1, 1, 0, 0 vs labels 1, 0, 0, 1 → TP 1, FP 1, FN 1: P = R = F1 = .5;
# AUROC: positives {.9, .3} vs negatives {.6, .1} → 3 of 4 pairs ordered = .75. Category b: perfect, AUROC 1.
MODERATION = (
    lambda: ModerationMetrics(["a", "b"]),
    [(T([[0.9, 0.2], [0.6, 0.7], [0.1, 0.4], [0.3, 0.8]]), T([[1, 0], [0, 1], [0, 0], [1, 1]]))],
    {
        "precision/a": 0.5,
        "recall/a": 0.5,
        "f1/a": 0.5,
        "auroc/a": 0.75,
        "precision/b": 1.0,
        "recall/b": 1.0,
        "f1/b": 1.0,
        "auroc/b": 1.0,
        "precision": 0.75,
        "recall": 0.75,
        "f1": 0.75,
        "auroc": 0.875,
    },
)

# better: T, F, tie, T, T; policy unsafe (cost > 0): F, T, F, T, F → better&safe rows 0, 4 (.4), better&unsafe
# row 3, worse&safe row 2 (the tie), worse&unsafe row 1 (.2 each). Wins 3 + ½ tie = 3.5/5 = .7; safe 3/5;
# baseline costs 1, −1, −1, 0, −1 → 4 of 5 at most zero.
ARENA = (
    ArenaQuadrants,
    [(T([2.0, 0, 1, 1, 3]), T([1.0, 1, 1, 0, 2]), T([-1.0, 2, 0, 3, -2]), T([1.0, -1, -1, 0, -1]))],
    {
        "win_rate": 0.7,
        "safe_rate": 0.6,
        "baseline_safe_rate": 0.8,
        "better_safe": 0.4,
        "better_unsafe": 0.2,
        "worse_safe": 0.2,
        "worse_unsafe": 0.2,
    },
)

# Prompt 1 scores 1, 2, 3; prompt 2 scores 3, 2, 2. (0 vs 1): lose, win → .5; (0 vs 2): lose, win → .5;
# (1 vs 2): lose, tie → .25; diagonal ties → .5.
WIN_MATRIX = (
    lambda: WinRateMatrix(3),
    [(T([[1.0, 2, 3], [3, 2, 2]]),)],
    {
        f"{i}>{j}": value
        for i, row in enumerate([[0.5, 0.5, 0.5], [0.5, 0.5, 0.25], [0.5, 0.75, 0.5]])
        for j, value in enumerate(row)
    },
)

CASES = {
    "preference": PREFERENCE,
    "cost": COST,
    "moderation": MODERATION,
    "arena": ARENA,
    "win_matrix": WIN_MATRIX,
}


def shard(args: tuple[torch.Tensor, ...], rank: int, world: int) -> tuple[torch.Tensor, ...]:
    """Rows rank, rank + world, ... of every argument."""
    return tuple(a[rank::world] for a in args)


def run_case(name: str, rank: int = 0, world: int = 1) -> dict[str, float]:
    """Update the case's metric with this rank's shard and return `compute()` as plain Python values."""
    build, updates, _ = CASES[name]
    metric = build()
    for args in updates:
        metric.update(*shard(args, rank, world))
    result = metric.compute()
    if isinstance(result, torch.Tensor):  # a matrix: one entry per (row, column)
        return {f"{i}>{j}": v for i, row in enumerate(result.tolist()) for j, v in enumerate(row)}
    return {key: value.item() for key, value in result.items()}
