"""Which rewrites of one prompt become training data: the best (SFT target, DPO chosen) and the worst (DPO
rejected), or a reason why the prompt teaches nothing."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Selection:
    best: int
    worst: int


def select_best_worst(
    rewrites: Sequence[str], scores: Sequence[float], min_margin: float = 0.0
) -> Selection | str:
    """Indices of the highest- and lowest-scored non-empty rewrite (the first on ties), or why none qualify.

    An empty rewrite is never a candidate (nothing to generate from, nothing to imitate), and its score is
    not read (a stage need not judge it; pass `nan`). The best must beat
    the worst by more than `min_margin`: when every rewrite scores the same, which one is "best" is arbitrary
    and a pair of them teaches nothing, so the prompt is skipped rather than written as noise.
    """
    if len(rewrites) != len(scores):
        raise ValueError(f"{len(rewrites)} rewrites but {len(scores)} scores")
    kept = [i for i, text in enumerate(rewrites) if text.strip()]
    if any(not math.isfinite(scores[i]) for i in kept):
        raise ValueError(f"scores of non-empty rewrites must be finite, got {list(scores)}")
    if len(kept) < 2:
        return "fewer than two non-empty rewrites"
    best = max(kept, key=lambda i: (scores[i], -i))
    worst = min(kept, key=lambda i: (scores[i], i))
    if scores[best] - scores[worst] <= min_margin:
        return "no score margin between rewrites"
    return Selection(best, worst)
