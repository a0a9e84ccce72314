"""Rollout generation: k sampled responses per prompt, returned as one training-ready batch.

Prompts arrive left-padded (`PromptDataModule`), so every row's prompt ends at the same column and the
response starts right after it. The k samples of a batch of B prompts are laid out as k *tiles* of B rows
(row `j·B + b` is sample j of prompt b), not interleaved: media tensors (pixel patches, video frames, audio
features) are concatenated in row order, so a tile's media are exactly one copy of the prompt batch's media.
That makes every tile, and every set of tiles, a valid batch without knowing how a processor lays out its
media, which is how the PPO epochs split a rollout into mini-batches for any input modality.

Sampling itself is inference and lives below the objectives (`omnialign.models.generation`): a
`GenerationBackend` only turns prompts into token ids; everything after (masks, positions, media) is built
here, so a vLLM engine and HF `generate` give identical batches.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from omnialign.data.collate import model_inputs
from omnialign.data.encode import PER_TOKEN_KEYS
from omnialign.data.sample import Sample
from omnialign.models.generation.text import response_mask_of

ROW_KEYS = frozenset({"input_ids", "attention_mask", "position_ids", "response_mask"}) | PER_TOKEN_KEYS
"""Batch keys with one row per sequence; every other model input is a media tensor (see the module doc)."""


def split_media(batch: dict[str, Tensor]) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
    """(per-row model inputs, media tensors) of a batch."""
    inputs = model_inputs(batch)
    rows = {key: value for key, value in inputs.items() if key in ROW_KEYS}
    return rows, {key: value for key, value in inputs.items() if key not in ROW_KEYS}


def tile(batch: dict[str, Tensor], k: int) -> dict[str, Tensor]:
    """The prompt batch repeated k times as whole tiles (rows and media alike)."""
    return {key: torch.cat([value] * k) for key, value in model_inputs(batch).items()}


@dataclass
class Rollout:
    """A batch of prompt + sampled response rows (k tiles of B prompts) and what the scorers need."""

    batch: dict[str, Tensor]
    """Model inputs of all `k·B` rows plus an exact `response_mask`."""
    media: dict[str, Tensor]
    """One copy of the prompt batch's media tensors (every tile carries exactly these)."""
    samples_per_prompt: int
    responses: list[str]
    """Decoded response text per row (special tokens dropped), for rule-based scorers and logging."""
    samples: list[Sample] | None = None
    """The prompt sample of each row, for scorers that re-encode with their own processor."""

    @property
    def prompts(self) -> int:
        return self.batch["input_ids"].shape[0] // self.samples_per_prompt

    def rows_of(self, tiles: Sequence[int]) -> Tensor:
        """Row indices of the given tiles, in order."""
        b = self.prompts
        return torch.cat([torch.arange(j * b, (j + 1) * b) for j in tiles]).to(self.batch["input_ids"].device)

    def select(self, tiles: Sequence[int]) -> dict[str, Tensor]:
        """A valid batch of the given tiles: their rows with the matching copies of the media."""
        rows = self.rows_of(tiles)
        picked = {key: value[rows] for key, value in self.batch.items() if key in ROW_KEYS}
        return {**picked, **{key: torch.cat([value] * len(tiles)) for key, value in self.media.items()}}


def build_rollout(
    prompts: dict[str, Tensor], generated: Tensor, k: int, eos_id: int, pad_id: int, tokenizer: Any
) -> Rollout:
    """Join tiled prompts and their generated ids into training rows with exact masks."""
    rows, media = split_media(prompts)
    mask = response_mask_of(generated, eos_id)
    generated = torch.where(mask.bool(), generated, torch.full_like(generated, pad_id))
    attention = torch.cat([rows["attention_mask"], mask], dim=1)
    batch = {
        "input_ids": torch.cat([rows["input_ids"], generated], dim=1),
        "attention_mask": attention,
        "response_mask": torch.cat([torch.zeros_like(rows["attention_mask"]), mask], dim=1),
    }
    if "position_ids" in rows:
        batch["position_ids"] = (attention.cumsum(-1) - 1).clamp_min(0)
    for key in PER_TOKEN_KEYS & rows.keys():  # response tokens are text (0)
        batch[key] = torch.cat([rows[key], torch.zeros_like(generated)], dim=1)
    media_once = {key: value[: value.shape[0] // k] for key, value in media.items()}
    texts = tokenizer.batch_decode(generated, skip_special_tokens=True)
    return Rollout({**batch, **media}, media_once, k, texts)
