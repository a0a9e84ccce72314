"""Rollouts for online RL: sampling k responses per prompt (HF `generate`, or vLLM behind the same interface)
and scoring them with reward/cost models or rules."""

from omnialign.alignment.rollout.generation import (
    GenerationOptions,
    HFGenerateBackend,
    Rollout,
    RolloutBackend,
    build_rollout,
)
from omnialign.alignment.rollout.scoring import KeywordScorer, ScoreModelScorer, Scorer
from omnialign.alignment.rollout.vllm_engine import VLLMBackend

__all__ = [
    "GenerationOptions",
    "HFGenerateBackend",
    "KeywordScorer",
    "Rollout",
    "RolloutBackend",
    "ScoreModelScorer",
    "Scorer",
    "VLLMBackend",
    "build_rollout",
]
