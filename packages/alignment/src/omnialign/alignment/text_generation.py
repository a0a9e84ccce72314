"""Samples in, generated text out: batched, seeded generation with any backbone and its own processor.

Offline stages (LLF sampling, critique and refinement; best-of-N prompt rewrites) generate from `Sample`s
rather than from a DataLoader. They reuse the rollout machinery (the same encoder that training uses, left
padding, the pluggable `RolloutBackend`, special-token suppression) so a response is produced exactly as an
RL rollout would produce it, and a batch is seeded on its own: rerunning one batch of a resumed stage
regenerates the same text without replaying the batches before it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from omnialign.alignment.rollout.generation import (
    GenerationOptions,
    HFGenerateBackend,
    RolloutBackend,
    SpecialIds,
    response_mask_of,
)
from omnialign.data.collate import model_inputs, pad_sequences
from omnialign.data.interleaved import encoder_for
from omnialign.data.sample import Sample
from omnialign.models.backbone import tokenizer_of


class TextGenerator:
    """One model + processor that answers prompts with text."""

    def __init__(
        self,
        model: nn.Module,
        processor: Any,
        options: GenerationOptions,
        backend: RolloutBackend | None = None,
        max_length: int = 2048,
    ) -> None:
        """
        Args:
            model: A causal LM (any supported backbone) in eval mode.
            processor: Its processor or tokenizer (chat template, media processing).
            options: Sampling settings.
            backend: Generation engine (default: HF `generate` with `model` itself).
            max_length: Longest prompt in tokens; a longer one is an error naming the sample.
        """
        self.model = model
        self.options = options
        self.backend = backend or HFGenerateBackend()
        self.encoder = encoder_for(processor, max_length=max_length)
        self.tokenizer = tokenizer_of(processor)
        self.tokens = SpecialIds.of(self.tokenizer)

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def generate(self, samples: Sequence[Sample], seed: int) -> list[str]:
        """One response per sample, sampled under `seed` (the caller's RNG state is left untouched)."""
        encoded = [self.encoder.encode_prompt(sample) for sample in samples]
        batch = model_inputs(pad_sequences(encoded, self.tokens.pad, side="left"))
        batch = {key: value.to(self.device) for key, value in batch.items()}
        devices = [self.device] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(seed)
            generated = self.backend.generate(self.model, batch, self.options, self.tokens, list(samples))
        keep = response_mask_of(generated, self.tokens.eos).bool()
        generated = torch.where(keep, generated, torch.full_like(generated, self.tokens.pad))
        texts = self.tokenizer.batch_decode(generated.cpu(), skip_special_tokens=True)
        return [text.strip() for text in texts]
