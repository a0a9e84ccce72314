"""Score models (reward, cost, preference dimensions) over any backbone: a linear head on the hidden state.

The sequence score is read at the last *real* token, found from the attention mask, so a left-padded and a
right-padded batch give the same scores. Several heads can share one backbone (one per preference
dimension: align-anything's five, SafeSora's helpfulness/harmlessness/sub-preferences), trained together from
per-dimension labels in one run. Token-wise scores (the head on every position) serve token-level rewards.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import torch
from safetensors.torch import load_file, save_file
from torch import Tensor, nn
from transformers import AutoModel, PreTrainedModel

HEAD_FILE = "score_head.safetensors"
CONFIG_FILE = "score_config.json"


def last_token_index(attention_mask: Tensor) -> Tensor:
    """Index of the last position whose mask is 1, per row, whatever side the padding is on."""
    positions = torch.arange(attention_mask.shape[-1], device=attention_mask.device)
    return (attention_mask.long() * (positions + 1)).argmax(dim=-1)


class ScoreNormalizer(nn.Module):
    """Running mean/variance of the scores seen in training, applied when scores are read out.

    `affine` maps scores to zero mean and unit variance (rewards: only differences matter). `scale` divides by
    the standard deviation only, because a cost's *sign* carries meaning (C > 0 unsafe) and must survive.
    Statistics are buffers, so they are saved with the model and synchronised like weights.
    """

    def __init__(
        self, num_heads: int, kind: Literal["affine", "scale"], momentum: float | None = None
    ) -> None:
        super().__init__()
        self.kind = kind
        self.momentum = momentum  # None: exact cumulative statistics; else an exponential moving average
        self.register_buffer("mean", torch.zeros(num_heads))
        self.register_buffer("var", torch.ones(num_heads))
        self.register_buffer("count", torch.zeros((), dtype=torch.long))

    @torch.no_grad()
    def update(self, scores: Tensor) -> None:
        """Fold a batch of detached scores `[N, heads]` into the statistics."""
        scores = scores.detach().float().reshape(-1, self.mean.shape[0])
        batch_mean, batch_var, n = scores.mean(0), scores.var(0, unbiased=False), scores.shape[0]
        if self.momentum is not None and self.count > 0:
            self.mean.lerp_(batch_mean, self.momentum)
            self.var.lerp_(batch_var, self.momentum)
        else:  # parallel-variance merge (Chan et al.), exact over everything seen
            total = self.count + n
            delta = batch_mean - self.mean
            self.mean.add_(delta * n / total)
            self.var.copy_(
                (self.var * self.count + batch_var * n + delta**2 * self.count * n / total) / total
            )
        self.count.add_(n)

    def forward(self, scores: Tensor) -> Tensor:
        std = self.var.clamp_min(1e-8).sqrt().to(scores.dtype)
        if self.kind == "affine":
            return (scores - self.mean.to(scores.dtype)) / std
        return scores / std


@dataclass
class ScoreConfig:
    """What, besides the backbone's own config, a score model needs to be rebuilt."""

    heads: list[str]
    normalizer: Literal["affine", "scale"] | None = None
    normalizer_momentum: float | None = None


@dataclass
class ScoreOutput:
    scores: Tensor  # [B, heads]: at the last real token
    token_scores: Tensor  # [B, T, heads]: at every position (token-wise objectives)


class ScoreModel(nn.Module):
    def __init__(self, backbone: PreTrainedModel, config: ScoreConfig) -> None:
        super().__init__()
        if not config.heads:
            raise ValueError("a score model needs at least one head")
        self.backbone = backbone
        self.config = config
        hidden = backbone.config.get_text_config().hidden_size
        self.head = nn.Linear(hidden, len(config.heads), bias=True, dtype=backbone.dtype)
        nn.init.normal_(self.head.weight, std=1.0 / (hidden + 1) ** 0.5)
        nn.init.zeros_(self.head.bias)
        self.normalizer = (
            ScoreNormalizer(len(config.heads), config.normalizer, config.normalizer_momentum)
            if config.normalizer is not None
            else None
        )

    def head_index(self, name: str) -> int:
        if name not in self.config.heads:
            raise KeyError(f"no score head '{name}'; heads: {self.config.heads}")
        return self.config.heads.index(name)

    def forward(self, attention_mask: Tensor, **inputs: Tensor) -> ScoreOutput:
        """Raw (unnormalised) scores; training objectives use these."""
        hidden = self.backbone(attention_mask=attention_mask, use_cache=False, **inputs).last_hidden_state
        token_scores = self.head(hidden).float()
        rows = torch.arange(hidden.shape[0], device=hidden.device)
        return ScoreOutput(token_scores[rows, last_token_index(attention_mask)], token_scores)

    @torch.no_grad()
    def score(self, attention_mask: Tensor, **inputs: Tensor) -> Tensor:
        """Scores for use downstream (RL, evaluation): normalised when a normaliser is configured."""
        scores = self(attention_mask=attention_mask, **inputs).scores
        return self.normalizer(scores) if self.normalizer is not None else scores

    def save_pretrained(self, directory: str | Path) -> None:
        directory = Path(directory)
        self.backbone.save_pretrained(directory)
        head_state = {f"head.{k}": v for k, v in self.head.state_dict().items()}
        if self.normalizer is not None:
            head_state |= {f"normalizer.{k}": v for k, v in self.normalizer.state_dict().items()}
        save_file({k: v.detach().contiguous() for k, v in head_state.items()}, directory / HEAD_FILE)
        (directory / CONFIG_FILE).write_text(json.dumps(asdict(self.config), indent=2))

    @classmethod
    def from_pretrained(cls, directory: str | Path, **model_kwargs) -> ScoreModel:
        directory = Path(directory)
        config = ScoreConfig(**json.loads((directory / CONFIG_FILE).read_text()))
        model = cls(AutoModel.from_pretrained(directory, **model_kwargs), config)
        state = load_file(directory / HEAD_FILE)
        model.head.load_state_dict({k[5:]: v for k, v in state.items() if k.startswith("head.")})
        if model.normalizer is not None:
            prefix = "normalizer."
            model.normalizer.load_state_dict(
                {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
            )
        return model
