"""The one rule-based text score: `weight` × the number of matches of a regular expression (optionally
capped). RL rewards (`omnialign.alignment.rollout.KeywordScorer`, on responses) and prompt-refinement judges
(`KeywordJudge`, on rewrites) both read it, so a planted toy task means the same thing everywhere."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class KeywordRule:
    """`weight` × matches of `pattern` in a text, at most `max_count` matches counted."""

    pattern: str
    """Python regular expression searched in each text."""
    weight: float = 1.0
    """Score per match."""
    max_count: int | None = None
    """Count at most this many matches (None: no cap)."""
    compiled: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "compiled", re.compile(self.pattern))

    def scores(self, texts: Sequence[str]) -> list[float]:
        counts = [len(self.compiled.findall(text)) for text in texts]
        if self.max_count is not None:
            counts = [min(count, self.max_count) for count in counts]
        return [self.weight * count for count in counts]

    def describe(self) -> str:
        return f"{self.pattern!r}, weight={self.weight}, max_count={self.max_count}"
