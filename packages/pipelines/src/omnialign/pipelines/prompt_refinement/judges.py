"""Judges: how good the video of a rewritten prompt is, for the *user's* original prompt.

A judge scores candidates (user prompt, rewrite, video of the rewrite). The learned judges are SafeSora's
models: the preference model (helpfulness, harmlessness, sub-preferences as heads) and the moderation model
(harm categories and `unsafe`), both `ScoreModel`s reading the video in the user turn as they were trained.
They see the user's prompt, not the rewrite: a rewrite is good when the video serves what the *user* asked,
and a refiner that drifts off the user's intent must not be rewarded for judging itself. Rule-based judges
(a keyword in the rewrite, the brightness of the video) make planted settings for tests and toy runs.

Every judge returns named score columns with the total under `score`; `WeightedJudge` adds its parts, so the
written provenance shows why a rewrite won.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from omnialign.data.datamodules.preference import media_as_input
from omnialign.data.interleaved import encoder_for
from omnialign.data.media import load_video
from omnialign.data.sample import MediaRef, Message, Part, Sample
from omnialign.models.backbone import BackboneOptions, load_processor
from omnialign.models.rules import KeywordRule
from omnialign.models.score import ScoreModel

SCORE = "score"
Scores = dict[str, list[float]]
"""Score columns, one value per candidate; `score` is the total the selection uses."""


@dataclass(frozen=True)
class Candidates:
    """Parallel lists: the user's prompt, a rewrite of it, and the video generated from the rewrite."""

    prompts: list[str]
    rewrites: list[str]
    media: list[MediaRef] | None = None

    def __post_init__(self) -> None:
        lengths = {len(self.prompts), len(self.rewrites)} | ({len(self.media)} if self.media else set())
        if len(lengths) > 1:
            raise ValueError(f"prompts, rewrites and media must have one entry per candidate, got {lengths}")


class RewriteJudge(ABC):
    """Scores rewrite candidates (prompt, rewrite, video); frozen, never trained by the refiner's objectives.
    Not `omnialign.eval.judges.Judge`, which rates a model's answers for evaluation."""

    needs_media: bool = True
    """Whether `score` reads the videos (a stage without videos can only use judges that do not)."""

    def prepare(self, device: torch.device) -> None:  # noqa: B027 - rule-based judges need nothing
        """Load or move what scoring needs (called before scoring; cheap when already done)."""

    @abstractmethod
    def score(self, candidates: Candidates) -> Scores:
        """Score columns for the candidates, `score` among them."""

    def describe(self) -> str:
        """What this judge is, for provenance."""
        return type(self).__name__

    def _media(self, candidates: Candidates) -> list[MediaRef]:
        if candidates.media is None:
            raise ValueError(f"{self.describe()} judges videos; generate them (set `diffusion`)")
        return candidates.media


class KeywordJudge(RewriteJudge):
    """A `KeywordRule` on each rewrite (`omnialign.models.rules`)."""

    needs_media = False

    def __init__(self, pattern: str, weight: float = 1.0, max_count: int | None = None) -> None:
        """
        Args:
            pattern: Python regular expression searched in each rewrite.
            weight: Score per match.
            max_count: Count at most this many matches (None: no cap).
        """
        self.rule = KeywordRule(pattern, weight, max_count)

    def score(self, candidates: Candidates) -> Scores:
        return {SCORE: self.rule.scores(candidates.rewrites)}

    def describe(self) -> str:
        return f"KeywordJudge({self.rule.describe()})"


class BrightnessJudge(RewriteJudge):
    """Mean pixel value of the video in [0, 1]: a visual rule for planted tests."""

    def __init__(self, num_frames: int = 4) -> None:
        """`num_frames`: frames sampled uniformly from each video."""
        self.num_frames = num_frames

    def score(self, candidates: Candidates) -> Scores:
        media = self._media(candidates)
        return {SCORE: [float(load_video(ref, self.num_frames).mean() / 255.0) for ref in media]}


ScoreTransform = Literal["score", "safety"]


class ScoreModelJudge(RewriteJudge):
    """A trained SafeSora score model (preference or moderation) read at one head.

    `transform='score'` reads the head as a reward (normalised when the model has a normaliser);
    `'safety'` reads a moderation head's logit as the probability that the video is *not* flagged,
    `1 - σ(logit)`, so that higher is better like every other score.
    """

    def __init__(
        self,
        path: str,
        head: str,
        transform: ScoreTransform = "score",
        processor: str | None = None,
        batch_size: int = 8,
        max_length: int = 2048,
    ) -> None:
        """
        Args:
            path: Folder written by `ScoreModel.save_pretrained` (a score or moderation run's export).
            head: Head to read (`helpfulness`, `harmlessness`, `unsafe`, a harm category, ...).
            transform: `score` or `safety` (see the class docstring).
            processor: Where its processor is, when not in `path`.
            batch_size: Candidates per forward pass.
            max_length: Longest encoded sequence.
        """
        if transform not in ("score", "safety"):
            raise ValueError(f"transform must be 'score' or 'safety', got '{transform}'")
        self.path = path
        self.head = head
        self.transform = transform
        self.processor_path = processor or path
        self.batch_size = batch_size
        self.max_length = max_length
        self.model: ScoreModel | None = None

    def prepare(self, device: torch.device) -> None:
        if self.model is None:
            self.model = ScoreModel.from_pretrained(self.path).eval().requires_grad_(False)
            self.head_index = self.model.head_index(self.head)
            processor = load_processor(BackboneOptions(name=self.processor_path))
            self.encoder = encoder_for(processor, max_length=self.max_length)
        self.model.to(device)

    def _sample(self, prompt: str, video: MediaRef) -> Sample:
        """The user's prompt with the video shown in the user turn, as the score datamodules encode it."""
        sample = Sample((Message("user", (Part.of_text(prompt),)),), responses=((Part.of_media(video),),))
        return media_as_input(sample, 0)

    def score(self, candidates: Candidates) -> Scores:
        if self.model is None:
            self.prepare(torch.device("cpu"))
        media = self._media(candidates)
        samples = [self._sample(p, v) for p, v in zip(candidates.prompts, media, strict=True)]
        # safety reads logits, never normalised: σ needs them as trained
        normalised = self.transform != "safety"
        scores = self.model.score_samples(samples, self.encoder, normalised, self.batch_size)[
            :, self.head_index
        ]
        values = 1.0 - torch.sigmoid(scores) if self.transform == "safety" else scores
        return {SCORE: values.cpu().tolist()}

    def describe(self) -> str:
        return f"ScoreModelJudge({self.path!r}, head={self.head!r}, transform={self.transform!r})"


class WeightedJudge(RewriteJudge):
    """A weighted sum of named judges (e.g. helpfulness from the preference model plus harmlessness from
    the moderation model); each part is kept as its own column."""

    def __init__(self, judges: dict[str, RewriteJudge], weights: dict[str, float] | None = None) -> None:
        """
        Args:
            judges: Judge per name; the names become score columns.
            weights: Weight per name (default 1 each); every name needs one when given.
        """
        if not judges:
            raise ValueError("WeightedJudge needs at least one judge")
        weights = weights if weights is not None else {name: 1.0 for name in judges}
        if set(weights) != set(judges) or SCORE in judges:
            raise ValueError(f"weights {sorted(weights)} must name exactly the judges {sorted(judges)}")
        self.judges = judges
        self.weights = weights
        self.needs_media = any(judge.needs_media for judge in judges.values())

    def prepare(self, device: torch.device) -> None:
        for judge in self.judges.values():
            judge.prepare(device)

    def score(self, candidates: Candidates) -> Scores:
        parts = {name: judge.score(candidates)[SCORE] for name, judge in self.judges.items()}
        total = sum(self.weights[name] * np.asarray(values) for name, values in parts.items())
        return {SCORE: [float(v) for v in total], **parts}

    def describe(self) -> str:
        inner = ", ".join(f"{self.weights[n]} × {j.describe()}" for n, j in self.judges.items())
        return f"WeightedJudge({inner})"
