"""SFT batches: prompt + response with the loss mask on the response only, for any input modality."""

from __future__ import annotations

import torch

from omnialign.data.datamodules.base import SampleDataModule
from omnialign.data.encode import EncodedSequence
from omnialign.data.sample import Sample


class SFTDataModule(SampleDataModule):
    """Reads SFT records (prompt/response or chat `messages`) of any modality."""

    schema = "sft"

    def encode(self, sample: Sample, index: int) -> EncodedSequence:
        return self.encoder.encode(sample, response_index=0)

    def collate(self, items: list[EncodedSequence]) -> dict[str, torch.Tensor]:
        return self.collate_sequences(items)
