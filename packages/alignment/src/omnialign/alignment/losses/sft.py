"""Supervised fine-tuning loss: negative log-likelihood of the response tokens."""

from __future__ import annotations

from typing import Literal, NamedTuple

from torch import Tensor


class SFTOutput(NamedTuple):
    loss: Tensor
    """Per-example NLL, [B]: summed over response tokens (`averaging='token'`) or averaged over them
    (`'sequence'`); differentiable."""
    num_tokens: Tensor
    """Detached response-token count per example, [B]."""


def sft_nll(
    response_logprobs: Tensor, num_tokens: Tensor, averaging: Literal["token", "sequence"] = "token"
) -> SFTOutput:
    """NLL from each example's summed response-token log-probs ([B]) and its response-token count ([B]).

    Taking per-sequence sums (not a [B, T] grid) lets padded and packed batches share this function. The two
    modes give the two batch reductions a module may want, without reducing over the batch here:
    - `'token'`: per-example *sums*; reduce with `loss.sum() / num_tokens.sum()` so every response token
      weighs the same (long answers count more; standard LM training).
    - `'sequence'`: per-example *means* over its response tokens; reduce with `loss.mean()` so every
      example weighs the same. An example without response tokens has loss 0.
    """
    num_tokens = num_tokens.to(response_logprobs.dtype).detach()
    if averaging == "token":
        return SFTOutput(-response_logprobs, num_tokens)
    if averaging == "sequence":
        return SFTOutput(-response_logprobs / num_tokens.clamp_min(1.0), num_tokens)
    raise ValueError(f"averaging must be 'token' or 'sequence', got {averaging!r}")
