"""The family adapter interface and its lookup by model type."""

from __future__ import annotations

from typing import Protocol

from torch import Tensor, nn


class AnyToAnyAdapter(Protocol):
    """What objectives and tools need from one any-to-any family."""

    def image_codes(self, model: nn.Module, pixel_values: Tensor) -> Tensor:
        """`[N, C, H, W]` pixels (as the processor prepares them) -> `[N, L]` VQ codes, by the model's VQ."""
        ...

    def decode_codes(self, model: nn.Module, codes: Tensor) -> Tensor:
        """`[N, L]` codes -> `[N, C, H, W]` pixels in the processor's value range."""
        ...

    def response_token_logprobs(
        self, model: nn.Module, batch: dict[str, Tensor], temperature: float
    ) -> Tensor:
        """`[B, T]` log-prob of every response token (text from the text head, image codes from the image
        head), zero outside `response_mask`."""
        ...


def base_model(model: nn.Module) -> nn.Module:
    """The transformers model under a peft wrapper (or the model itself)."""
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def adapter_for(model: nn.Module, code_cache: str | None = None) -> AnyToAnyAdapter | None:
    """The adapter of the model's family, or None for models that write text only; with `code_cache`, image
    codes are cached in that folder (see `code_cache.CodeCache`)."""
    from omnialign.models.any_to_any.code_cache import CodeCache
    from omnialign.models.any_to_any.janus import JanusAdapter

    config = getattr(base_model(model), "config", None)
    if getattr(config, "model_type", None) != "janus":
        return None
    return JanusAdapter(CodeCache.at(code_cache) if code_cache else None)
