"""A PPO critic: a scalar value head on a backbone (a one-head `ScoreModel`), read at every token.

Values are aligned with the tokens like log-probs: `values[:, t]` is V of the state *before* token t (the
prefix that chose it), i.e. the head's output at position t-1. The critic reads the policy's own rollout
batch, so its backbone must share the policy's processor (same tokenizer and media processing).
"""

from __future__ import annotations

from typing import Any

import torch.nn.functional as F
from torch import Tensor, nn

from omnialign.data.collate import model_inputs
from omnialign.models.backbone import BackboneOptions
from omnialign.models.score import ScoreConfig, ScoreModel, build_score_model


class Critic(nn.Module):
    def __init__(self, model: ScoreModel) -> None:
        super().__init__()
        self.model = model

    def forward(self, batch: dict[str, Tensor]) -> Tensor:
        """`[B, T]` values aligned with the tokens, 0 outside the response mask."""
        inputs = model_inputs(batch)
        attention_mask = inputs.pop("attention_mask")
        token_scores = self.model(attention_mask=attention_mask, **inputs).token_scores[..., 0]
        return F.pad(token_scores[:, :-1], (1, 0)) * batch["response_mask"]


def build_critic(options: BackboneOptions, processor: Any, path: str | None = None) -> Critic:
    """A critic from a saved score model folder (`path`, e.g. the reward model: the usual PPO initialisation)
    or from the backbone `options` with a fresh value head; always full-weight (no LoRA)."""
    if path is not None:
        return Critic(ScoreModel.from_pretrained(path))
    options = BackboneOptions(**{**vars(options), "lora": None})
    return Critic(build_score_model(options, processor, ScoreConfig(["value"])))
