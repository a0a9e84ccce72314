"""Rewrites in, judged candidates out: the video of each rewrite (given a `MediaGenerator`) and its scores.

Both stages go through here, best-of-N data and the refine command, so a rewrite is judged the same way when
it is selected for training and when the trained refiner is evaluated. Every video of one call comes from
the same seed (`MediaGenerator` gives every prompt the same noise), so candidates differ only by their
prompt. Empty rewrites are neither generated nor judged: their scores are `nan` and their media `None`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from omnialign.data.sample import MediaRef
from omnialign.models.generation.media import MediaGenerator
from omnialign.pipelines.prompt_refinement.judges import SCORE, Candidates, RewriteJudge, Scores


@dataclass
class Judged:
    """Per candidate, in input order: its score columns and its video."""

    scores: Scores
    media: list[MediaRef | None]

    @property
    def total(self) -> list[float]:
        return self.scores[SCORE]


def check_judge(judge: RewriteJudge, generator: MediaGenerator | None) -> None:
    """Fail before any generation when the judge reads videos that nobody would make."""
    if judge.needs_media and generator is None:
        raise ValueError(f"{judge.describe()} judges videos: give a `MediaGenerator` (set `diffusion`)")


def judge_rewrites(
    prompts: Sequence[str],
    rewrites: Sequence[str],
    judge: RewriteJudge,
    generator: MediaGenerator | None,
    seed: int,
) -> Judged:
    """Generate (given a `MediaGenerator`) and judge each (user prompt, rewrite) candidate."""
    check_judge(judge, generator)
    kept = [i for i, text in enumerate(rewrites) if text.strip()]
    media: list[MediaRef | None] = [None] * len(rewrites)
    if generator is not None and kept:
        for i, ref in zip(kept, generator.generate([rewrites[i] for i in kept], seed), strict=True):
            media[i] = ref
    columns: Scores = {SCORE: [math.nan] * len(rewrites)}
    if kept:
        candidates = Candidates(
            [prompts[i] for i in kept],
            [rewrites[i] for i in kept],
            [media[i] for i in kept] if generator is not None else None,
        )
        for name, values in judge.score(candidates).items():
            column = columns.setdefault(name, [math.nan] * len(rewrites))
            for i, value in zip(kept, values, strict=True):
                column[i] = value
    return Judged(columns, media)
