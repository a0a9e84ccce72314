"""Who writes the feedback in pair synthesis: a feedback model, or a rule that states what it checks.

A small model can be too weak to critique usefully; a rule critic writes the critique text from a checkable
rule instead, so the same pipeline (respond → critique → refine → pairs) runs with feedback that is right by
construction, and the two critics can be compared under one judge.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Sequence

from omnialign.data.sample import Sample
from omnialign.models.generation.text import TextGenerator
from omnialign.pipelines.llf.responders import Response
from omnialign.pipelines.llf.templates import critique_request, feedback_text, response_text


class Critic(ABC):
    """One feedback text per (prompt, response)."""

    @abstractmethod
    def critique(self, samples: Sequence[Sample], responses: Sequence[Response], seed: int) -> list[str]:
        """Feedback on each response; `seed` is the critique step's own seed."""


class ModelCritic(Critic):
    """A feedback model asked `critique_request` (the conversation its SFT stage trained on)."""

    def __init__(self, model: TextGenerator) -> None:
        self.model = model

    def critique(self, samples: Sequence[Sample], responses: Sequence[Response], seed: int) -> list[str]:
        requests = [critique_request(s.prompt, r) for s, r in zip(samples, responses, strict=True)]
        return self.model.generate(requests, seed)


def word_count(text: str) -> int:
    """Whitespace-separated words: the unit of `WordLimitCritic` and of the judge that checks it."""
    return len(re.findall(r"\S+", text))


class WordLimitCritic(Critic):
    """Checks a word limit on the answer and writes the critique from the check: the count, the limit, and
    a concrete suggestion; an answer within the limit gets no feedback (synthesis skips it: nothing to fix).
    """

    def __init__(self, max_words: int) -> None:
        """`max_words`: the most words an answer may have."""
        if max_words < 1:
            raise ValueError(f"max_words must be >= 1, got {max_words}")
        self.max_words = max_words

    def critique(self, samples: Sequence[Sample], responses: Sequence[Response], seed: int) -> list[str]:
        return [self._one(response_text(response)) for response in responses]

    def _one(self, answer: str) -> str:
        words = word_count(answer)
        if words <= self.max_words:
            return ""
        return feedback_text(
            f"The answer has {words} words, but the limit is {self.max_words}.",
            f"Rewrite it in at most {self.max_words} words: keep only the single most useful step, in one "
            "short sentence.",
        )
