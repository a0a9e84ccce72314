"""Prompt-only batches, for RL rollouts, LLF sampling and evaluation: any modality, any schema with prompts
(`prompts`, `safesora/eval`, or the prompts of a preference or SFT schema).

Prompts are always left-padded, whatever the tokenizer's training side: a decoder-only model generates
after the last position, so every row's prompt must end there. Each batch carries the samples' `index`
in its split so a rollout can fetch the sample back (`sample`) and re-encode prompt + generated response for
a reward model whose tokenizer differs from the policy's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from omnialign.data.collate import pad_sequences
from omnialign.data.datamodules.base import SampleDataModule
from omnialign.data.encode import EncodedSequence
from omnialign.data.sample import Sample


@dataclass
class PromptItem:
    prompt: EncodedSequence
    index: int


class PromptDataModule(SampleDataModule):
    """Prompts of any schema, left-padded for generation."""

    def __init__(self, *args: Any, schema: str = "prompts", **kwargs: Any) -> None:
        """
        Args:
            schema: Record schema of the files (`prompts`, `safesora/eval`, or any schema whose prompts
                should be used, e.g. `align-anything/text-image-to-text`).
        """
        super().__init__(*args, **kwargs)
        if self.packing:
            raise ValueError("prompt batches are left-padded for generation; packing does not apply")
        self.schema = schema

    def encode(self, sample: Sample, index: int) -> PromptItem:
        return PromptItem(self.encoder.encode_prompt(sample), index)

    def collate(self, items: list[PromptItem]) -> dict[str, Any]:
        batch: dict[str, Any] = pad_sequences(
            [item.prompt for item in items], self.encoder.tokenizer.pad_token_id, side="left"
        )
        batch["targets"] = {"index": torch.tensor([item.index for item in items], dtype=torch.long)}
        return batch

    def sample(self, split: str, index: int) -> Sample:
        """The sample behind a batch row (`targets['index']`)."""
        return self._samples[split][index]
