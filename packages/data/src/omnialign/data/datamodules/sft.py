"""SFT batches: prompt + response with the loss mask on the response only, for any input modality."""

from __future__ import annotations

import torch

from omnialign.data.collate import pad_sequences
from omnialign.data.datamodules.base import SampleDataModule
from omnialign.data.encode import ChatEncoder, EncodedSequence
from omnialign.data.sample import Sample


class SFTDataModule(SampleDataModule):
    """Reads SFT records (prompt/response or chat `messages`) of any modality."""

    schema = "sft"

    def on_processor_attached(self) -> None:
        self.encoder = ChatEncoder(self.processor, max_length=self.max_length)

    def encode(self, sample: Sample) -> EncodedSequence:
        return self.encoder.encode(sample, response_index=0)

    def collate(self, items: list[EncodedSequence]) -> dict[str, torch.Tensor]:
        tokenizer = self.encoder.tokenizer
        return pad_sequences(items, tokenizer.pad_token_id, side=tokenizer.padding_side)
