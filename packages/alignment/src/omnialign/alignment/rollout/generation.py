"""Rollout generation: k sampled responses per prompt, returned as one training-ready batch.

Prompts arrive left-padded (`PromptDataModule`), so every row's prompt ends at the same column and the
response starts right after it. The k samples of a batch of B prompts are laid out as k *tiles* of B rows
(row `j·B + b` is sample j of prompt b), not interleaved: media tensors (pixel patches, video frames, audio
features) are concatenated in row order, so a tile's media are exactly one copy of the prompt batch's media.
That makes every tile, and every set of tiles, a valid batch without knowing how a processor lays out its
media, which is how the PPO epochs split a rollout into mini-batches for any input modality.

The backend only turns prompts into token ids; everything after (masks, positions, media) is shared, so a
vLLM engine (`rollout.vllm_engine`) and HF `generate` give identical batches.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from omnialign.alignment.rollout.sharding import needs_synced_generation
from omnialign.data.collate import model_inputs
from omnialign.data.encode import PER_TOKEN_KEYS
from omnialign.data.sample import Sample

ROW_KEYS = frozenset({"input_ids", "attention_mask", "position_ids", "response_mask"}) | PER_TOKEN_KEYS
"""Batch keys with one row per sequence; every other model input is a media tensor (see the module doc)."""


@dataclass
class GenerationOptions:
    """How responses are sampled. Defaults sample from the policy's own distribution (no top-k/top-p), which
    PPO's importance ratios assume."""

    max_new_tokens: int = 64
    """Longest response; a response that reaches it without an end-of-turn is scored as it is."""
    temperature: float = 1.0
    """Sampling temperature; log-probs for the update use the same one."""
    top_p: float = 1.0
    """Nucleus sampling mass (1.0: off)."""
    top_k: int = 0
    """Top-k sampling (0: off)."""
    do_sample: bool = True
    """False: greedy decoding (evaluation; the sampling settings are then unused). Rollouts must sample."""

    def __post_init__(self) -> None:
        if self.max_new_tokens < 1 or self.temperature <= 0:
            raise ValueError("max_new_tokens must be >= 1 and temperature > 0")


def split_media(batch: dict[str, Tensor]) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
    """(per-row model inputs, media tensors) of a batch."""
    inputs = model_inputs(batch)
    rows = {key: value for key, value in inputs.items() if key in ROW_KEYS}
    return rows, {key: value for key, value in inputs.items() if key not in ROW_KEYS}


def tile(batch: dict[str, Tensor], k: int) -> dict[str, Tensor]:
    """The prompt batch repeated k times as whole tiles (rows and media alike)."""
    return {key: torch.cat([value] * k) for key, value in model_inputs(batch).items()}


@dataclass(frozen=True)
class SpecialIds:
    """The token ids generation must know: end of turn, padding, and the ids a response may never contain."""

    eos: int
    pad: int
    suppressed: list[int]
    """Every special token but end-of-turn: chat markers and media placeholders. A sampled `<|image_pad|>`
    would make the next forward expect image features that are not there, and a reply has no use for a
    turn marker. Sampling renormalises over the rest; PPO's ratios compare the same (unsuppressed) log-probs
    of the sampled tokens before and after an update, so they stay consistent."""

    @staticmethod
    def of(tokenizer) -> SpecialIds:
        eos = tokenizer.eos_token_id
        special = [i for i, token in tokenizer.added_tokens_decoder.items() if token.special and i != eos]
        return SpecialIds(eos, tokenizer.pad_token_id, sorted(special))


class RolloutBackend(ABC):
    """Samples response token ids for a tiled prompt batch."""

    @abstractmethod
    def generate(
        self,
        model: nn.Module,
        prompts: dict[str, Tensor],
        options: GenerationOptions,
        tokens: SpecialIds,
        samples: Sequence[Sample] | None = None,
    ) -> Tensor:
        """`[N, G]` response ids, `G <= max_new_tokens`, never one of `tokens.suppressed`; anything after a
        row's first `tokens.eos` is ignored. `samples` (the prompt sample of each row) serve engines that take
        raw media instead of the batch's media tensors."""


class HFGenerateBackend(RolloutBackend):
    """transformers' `generate`, with the policy being trained (no weight copy, works on CPU).

    Under ZeRO-3 or FSDP with several ranks every rank keeps stepping until all are done (`synced_gpus`):
    each forward gathers sharded weights collectively, so a rank that stopped early would hang the others.
    """

    @torch.no_grad()
    def generate(
        self,
        model: nn.Module,
        prompts: dict[str, Tensor],
        options: GenerationOptions,
        tokens: SpecialIds,
        samples: Sequence[Sample] | None = None,
    ) -> Tensor:
        # generate derives positions from the attention mask (left padding included) and extends them itself
        inputs = {key: value for key, value in prompts.items() if key != "position_ids"}
        width = inputs["input_ids"].shape[1]
        out = model.generate(
            **inputs,
            do_sample=options.do_sample,
            max_new_tokens=options.max_new_tokens,
            temperature=options.temperature,
            top_p=options.top_p,
            top_k=options.top_k,
            eos_token_id=tokens.eos,
            pad_token_id=tokens.pad,
            suppress_tokens=tokens.suppressed or None,
            use_cache=True,
            synced_gpus=needs_synced_generation(model),
        )
        return out[:, width:]


def response_mask_of(generated: Tensor, eos_id: int) -> Tensor:
    """1 on each generated token up to and including the first `eos_id`, 0 after it."""
    is_eos = (generated == eos_id).long()
    return ((is_eos.cumsum(-1) - is_eos) == 0).long()


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
