"""Pieces every any-to-any family adapter shares: the image markers of a processor, the base model under a
peft wrapper, response-image positions, and log-prob picking. Family adapters (`janus`, `shared_vocabulary`)
import these; the adapter lookup (`adapter.py`) imports the families, so nothing imports in a circle."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from omnialign.data.interleaved import RESPONSE_PART


@dataclass(frozen=True)
class ImageMarkers:
    """Token ids that open an image, stand for one image position, and close an image."""

    begin: int
    placeholder: int
    end: int

    @classmethod
    def of(cls, processor: Any) -> ImageMarkers:
        """Read from the processor: Janus, Emu3 and Chameleon all name them `image_start_token`,
        `image_token`, `image_end_token`."""
        ids = processor.tokenizer.convert_tokens_to_ids
        return cls(
            ids(processor.image_start_token), ids(processor.image_token), ids(processor.image_end_token)
        )

    def prefix(self, span: Tensor) -> Tensor:
        """The tokens of an image span before its first position (`<boi>`; Emu3 adds `h*w<|image token|>`)."""
        return span[: int((span == self.placeholder).nonzero()[0])]


def base_model(model: nn.Module) -> nn.Module:
    """The transformers model under a peft wrapper (or the model itself)."""
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def body_of(model: nn.Module) -> nn.Module:
    """The base model of a policy (`model.model` of a `...ForConditionalGeneration`), or the base model
    itself when given one (a score model's backbone)."""
    base = base_model(model)
    return base.model if hasattr(base, "lm_head") else base


def response_images(batch: dict[str, Tensor]) -> Tensor:
    """`[B, T]` bool: the positions of response image codes (none for a batch without response images).
    `response_part` is 1 on response image positions only, so a batch without `response_mask` (a score
    model's inputs) reads it alone."""
    part = batch.get(RESPONSE_PART, torch.zeros_like(batch["input_ids"])).bool()
    return part & batch["response_mask"].bool() if "response_mask" in batch else part


def pick(logits: Tensor, targets: Tensor, temperature: float) -> Tensor:
    """Log-softmax of `logits / temperature` at `targets`, in float32."""
    logits = logits.float() / temperature
    return logits.gather(-1, targets.unsqueeze(-1)).squeeze(-1) - torch.logsumexp(logits, dim=-1)
