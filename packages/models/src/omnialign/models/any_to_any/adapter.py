"""The family adapter interface and the adapter lookup by model type (shared pieces: `common.py`)."""

from __future__ import annotations

from typing import Protocol

from torch import Tensor, nn

from omnialign.models.any_to_any.code_cache import CodeCache
from omnialign.models.any_to_any.common import base_model
from omnialign.models.any_to_any.janus import JanusAdapter
from omnialign.models.any_to_any.shared_vocabulary import CODECS, SharedVocabularyAdapter


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


def adapter_for(model: nn.Module, code_cache: str | None = None) -> AnyToAnyAdapter | None:
    """The adapter of the model's family, or None for models that write text only; with `code_cache`, image
    codes are cached in that folder (see `code_cache.CodeCache`)."""
    model_type = getattr(getattr(base_model(model), "config", None), "model_type", None)
    cache = CodeCache.at(code_cache) if code_cache else None
    if model_type == "janus":
        return JanusAdapter(cache)
    if model_type in CODECS:
        return SharedVocabularyAdapter(CODECS[model_type], cache)
    return None
