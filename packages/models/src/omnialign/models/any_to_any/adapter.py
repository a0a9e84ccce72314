"""The family adapter interface, the image markers of a processor, and the adapter lookup by model type."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import torch
from torch import Tensor, nn

from omnialign.data.interleaved import RESPONSE_PART


class AnyToAnyAdapter(Protocol):
    """What objectives and tools need from one any-to-any family.

    `model` is the policy (the family's `...ForConditionalGeneration`, possibly under peft); `body` is its
    base model (`JanusModel`, `Emu3Model`, `ChameleonModel`), which is also the backbone of a score model.
    """

    def image_codes(self, model: nn.Module, pixel_values: Tensor) -> Tensor:
        """`[N, C, H, W]` pixels (as the processor prepares them) -> `[N, L]` VQ codebook indices, by the
        model's VQ, row-major over the code grid."""
        ...

    def decode_codes(self, model: nn.Module, codes: Tensor) -> Tensor:
        """`[N, L]` codebook indices of square grids -> `[N, C, H, W]` pixels in the processor's range."""
        ...

    def hidden_states(self, body: nn.Module, batch: dict[str, Tensor]) -> Tensor:
        """`[B, T, hidden]` last hidden states of the base model on an interleaved batch, prompt images read
        as the family reads them and response images as the VQ codes the model writes."""
        ...

    def response_token_logprobs(
        self, model: nn.Module, batch: dict[str, Tensor], temperature: float
    ) -> Tensor:
        """`[B, T]` log-prob of every response token (text from the text head, image codes from whichever
        head writes them), zero outside `response_mask`."""
        ...

    def sample_image_codes(
        self, model: nn.Module, prompts: dict[str, Tensor], span: Tensor, guidance_scale: float
    ) -> Tensor:
        """`[B, L]` codebook indices of one image sampled per left-padded prompt with classifier-free
        guidance; `span` is the family's token span of one image (`ImageMarkers.span`), whose opening tokens
        the sampler feeds after the prompt."""
        ...


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


def adapter_for(model: nn.Module, code_cache: str | None = None) -> AnyToAnyAdapter | None:
    """The adapter of the model's family, or None for models that write text only; with `code_cache`, image
    codes are cached in that folder (see `code_cache.CodeCache`)."""
    from omnialign.models.any_to_any.code_cache import CodeCache
    from omnialign.models.any_to_any.janus import JanusAdapter
    from omnialign.models.any_to_any.shared_vocabulary import CODECS, SharedVocabularyAdapter

    model_type = getattr(getattr(base_model(model), "config", None), "model_type", None)
    cache = CodeCache.at(code_cache) if code_cache else None
    if model_type == "janus":
        return JanusAdapter(cache)
    if model_type in CODECS:
        return SharedVocabularyAdapter(CODECS[model_type], cache)
    return None
