"""Scorers turn a rollout into one score per response: a learned reward or cost model (`ScoreModelScorer`),
or a rule on the response text (`KeywordScorer`) for tests, toy tasks and verifiable rewards.

A score model reads the rollout's own token batch when its processor is the policy's (same class, vocabulary
and chat template); otherwise each prompt sample is re-encoded with the scorer's processor together with the
decoded response, so a reward model may use another tokenizer, chat template or model family than the policy.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import torch
from torch import Tensor

from omnialign.alignment.rollout.generation import Rollout
from omnialign.data.encode import ChatEncoder
from omnialign.data.sample import Part, Sample
from omnialign.models.backbone import DTYPES, BackboneOptions, load_processor, tokenizer_of
from omnialign.models.rules import KeywordRule
from omnialign.models.score import ScoreConfig, ScoreModel, build_score_model


class Scorer(ABC):
    """One score per rollout row; frozen, never trained by the RL objective."""

    @abstractmethod
    def prepare(self, policy_processor: Any, device: torch.device) -> None:
        """Build or move what scoring needs (called before every rollout; must be cheap when done)."""

    @abstractmethod
    def score(self, rollout: Rollout) -> Tensor:
        """`[N]` float32 scores, in row order."""


class KeywordScorer(Scorer):
    """A `KeywordRule` on each decoded response (`omnialign.models.rules`).

    With a cost scorer on another pattern this is the toy Safe-RLHF task: reward one behaviour, bound another.
    """

    def __init__(self, pattern: str, weight: float = 1.0, max_count: int | None = None) -> None:
        """
        Args:
            pattern: Python regular expression searched in each decoded response.
            weight: Score per match.
            max_count: Count at most this many matches (None: no cap).
        """
        self.rule = KeywordRule(pattern, weight, max_count)
        self.device = torch.device("cpu")

    def prepare(self, policy_processor: Any, device: torch.device) -> None:
        self.device = device

    def score(self, rollout: Rollout) -> Tensor:
        return torch.tensor(self.rule.scores(rollout.responses), dtype=torch.float32, device=self.device)


def same_processor(a: Any, b: Any) -> bool:
    """Whether two processors encode every sample to the same ids (class, vocabulary, chat template)."""
    ta, tb = tokenizer_of(a), tokenizer_of(b)
    return type(a) is type(b) and a.chat_template == b.chat_template and ta.get_vocab() == tb.get_vocab()


class ScoreModelScorer(Scorer):
    """A trained score model (reward or cost, `omnialign.models.score`) read at one head.

    Built from `path` (a folder written by `ScoreModel.save_pretrained`, e.g. a score run's export), or from
    `backbone` with freshly initialised heads (throughput runs and tests only). A frozen scorer only runs
    forwards, so it can be held in bf16/fp16 (`dtype`) at half the memory of fp32 while the policy trains in
    whatever precision it needs; scores are returned in float32 either way.
    """

    def __init__(
        self,
        path: str | None = None,
        backbone: BackboneOptions | None = None,
        head: str | None = None,
        normalised: bool = True,
        max_length: int = 2048,
        dtype: str | None = None,
    ) -> None:
        """
        Args:
            path: Folder of a saved score model (its processor is loaded from the same folder).
            backbone: Instead of `path`: a backbone with an untrained `head` (tests, benchmarks).
            head: Which head to read (default: the model's only/first head).
            normalised: Apply the model's running-statistics normaliser, if it has one.
            max_length: Longest re-encoded sequence when the scorer's processor differs from the policy's.
            dtype: Parameter dtype of the loaded model (float32, bfloat16, float16); None: the saved
                model's own (`path`) or `backbone.dtype`.
        """
        if (path is None) == (backbone is None):
            raise ValueError("give exactly one of path or backbone")
        if dtype is not None and dtype not in DTYPES:
            raise ValueError(f"ScoreModelScorer dtype must be one of {sorted(DTYPES)}, got '{dtype}'")
        self.path = path
        self.backbone = backbone
        self.head = head
        self.normalised = normalised
        self.max_length = max_length
        self.dtype = dtype
        self.model: ScoreModel | None = None
        self.encoder: ChatEncoder | None = None  # None: read the policy's batch as it is

    def _build(self, policy_processor: Any) -> None:
        options = self.backbone or BackboneOptions(name=self.path)
        processor = load_processor(options)
        self.model = self._load(options, processor).eval().requires_grad_(False)
        if not same_processor(processor, policy_processor):
            self.encoder = ChatEncoder(processor, max_length=self.max_length)

    def _load(self, options: BackboneOptions, processor: Any) -> ScoreModel:
        if self.path is not None:
            dtype = {} if self.dtype is None else {"dtype": DTYPES[self.dtype]}
            return ScoreModel.from_pretrained(self.path, **dtype)
        if self.dtype is not None:
            options = BackboneOptions(**{**vars(options), "dtype": self.dtype})
        return build_score_model(options, processor, ScoreConfig([self.head or "score"]))

    def prepare(self, policy_processor: Any, device: torch.device) -> None:
        if self.model is None:
            self._build(policy_processor)
        self.model.to(device)

    def score(self, rollout: Rollout) -> Tensor:
        model = self.model
        if self.encoder is None:
            scores = model.score_batch(rollout.batch, self.normalised)
        else:
            scores = model.score_samples(
                self._samples(rollout), self.encoder, self.normalised, len(rollout.responses)
            )
        index = model.head_index(self.head) if self.head is not None else 0
        return scores[:, index]

    @staticmethod
    def _samples(rollout: Rollout) -> list[Sample]:
        """Each row's prompt with its decoded response, for a scorer that encodes with its own processor."""
        if rollout.samples is None:
            raise ValueError("re-encoding for a scorer with its own processor needs the rollout's samples")
        return [
            Sample(sample.prompt, responses=((Part.of_text(text),),))
            for sample, text in zip(rollout.samples, rollout.responses, strict=True)
        ]
