"""Rollouts for online RL: k sampled responses per prompt as one training-ready batch (`Rollout`), scored by
reward/cost models or rules (`Scorer`). Sampling itself is inference (`omnialign.models.generation`: HF
`generate` or vLLM behind one `GenerationBackend` interface)."""

from omnialign.alignment.rollout.generation import Rollout, build_rollout
from omnialign.alignment.rollout.scoring import KeywordScorer, ScoreModelScorer, Scorer

__all__ = ["KeywordScorer", "Rollout", "ScoreModelScorer", "Scorer", "build_rollout"]
