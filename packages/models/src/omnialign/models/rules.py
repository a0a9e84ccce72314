"""Transparent rule judges: a text's score is a small formula anyone can read and recompute by hand.

A rule judge labels self-generated preference data and measures a policy before and after training with the
same formula, so a reported gain can be checked line by line, with no judge model whose taste is opaque.
Rules score text alone; one home here lets training, pipelines and evaluation share them.

- `PlainProse`: a complete answer in plain prose within a word budget (self-play labels, before/after).
- `KeywordRule`: `weight` × the number of matches of a regular expression, optionally capped. RL rewards
  (`omnialign.alignment.rollout.KeywordScorer`, on responses) and prompt-refinement judges (`KeywordJudge`,
  on rewrites) both read it, so a planted toy task means the same thing everywhere.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

LIST_OR_HEADING = re.compile(r"^\s*(?:[-*•+]\s|\d+[.)]\s|#+\s)", re.MULTILINE)
"""A line that starts a bullet, a numbered item or a markdown heading."""
BOLD = re.compile(r"\*\*[^*\n]+\*\*")
COMPLETE_END = re.compile(r"""[.!?]["')\]]*\s*$""")
"""The text ends a sentence (optionally inside quotes or brackets); a cut-off answer does not."""


@dataclass(frozen=True)
class PlainProse:
    """Score in [0, 1] for a complete answer in plain prose within a word budget.

    `score = length × markup × complete`, where with `w` the number of whitespace-separated words:
    - `length` is 0 below `min_words` (no real answer), 1 up to `target_words`, then falls linearly to 0 at
      `max_words`;
    - `markup` is `markup_factor` if a line starts a bullet, numbered item or heading, or the text has
      `**bold**` runs, else 1;
    - `complete` is `incomplete_factor` unless the text ends a sentence (`.`, `!`, `?`), else 1; an answer
      cut off by the token budget usually ends mid-sentence.

    Small instruction models answer everyday questions with markdown essays (numbered lists of `**bold**`
    headings) that run past a short token budget. With the default budget every answer of a 64-token
    generation gets the full length score, so the rule ranks a model's own samples by markup first and by a
    finished last sentence second: a target that a few minutes of preference training can move and that a
    reader can verify by eye.
    """

    min_words: int = 5
    """Fewer words than this is not an answer: score 0."""
    target_words: int = 60
    """Answers up to this many words get the full length score."""
    max_words: int = 120
    """The length score reaches 0 here."""
    markup_factor: float = 0.25
    """Multiplier for list or heading markup."""
    incomplete_factor: float = 0.5
    """Multiplier for an answer that does not end a sentence."""

    def __post_init__(self) -> None:
        if not 0 < self.min_words <= self.target_words < self.max_words:
            raise ValueError("need 0 < min_words <= target_words < max_words")
        if not (0 <= self.markup_factor <= 1 and 0 <= self.incomplete_factor <= 1):
            raise ValueError("markup_factor and incomplete_factor must lie in [0, 1]")

    def length(self, words: int) -> float:
        if words < self.min_words:
            return 0.0
        if words <= self.target_words:
            return 1.0
        return max(0.0, 1.0 - (words - self.target_words) / (self.max_words - self.target_words))

    @staticmethod
    def has_markup(text: str) -> bool:
        return bool(LIST_OR_HEADING.search(text) or BOLD.search(text))

    def score(self, response: str) -> float:
        text = response.strip()
        markup = self.markup_factor if self.has_markup(text) else 1.0
        complete = 1.0 if COMPLETE_END.search(text) else self.incomplete_factor
        return self.length(len(text.split())) * markup * complete

    def describe(self) -> dict[str, object]:
        """The rule and its settings, for provenance and reports."""
        return {"rule": type(self).__name__, **asdict(self)}


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
