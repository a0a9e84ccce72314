"""Supervised fine-tuning loss: negative log-likelihood of the response tokens."""

from __future__ import annotations

from typing import Literal, NamedTuple

from torch import Tensor

from omnialign.alignment.ops import masked_sum


class SFTOutput(NamedTuple):
    loss: Tensor
    """Per-example NLL, [B]: summed over response tokens (`averaging='token'`) or averaged over them
    (`'sequence'`); differentiable."""
    num_tokens: Tensor
    """Detached response-token count per example, [B]."""


def sft_nll(
    token_logprobs: Tensor, response_mask: Tensor, averaging: Literal["token", "sequence"] = "token"
) -> SFTOutput:
    """Masked next-token NLL from per-token log-probs (`ops.token_logprobs`, [B, T]).

    The two modes give the two batch reductions a module may want, without reducing over the batch here:
    - `'token'`: per-example *sums*; reduce with `loss.sum() / num_tokens.sum()` so every response token
      weighs the same (long answers count more; standard LM training).
    - `'sequence'`: per-example *means* over its response tokens; reduce with `loss.mean()` so every
      example weighs the same. An example without response tokens has loss 0.
    """
    mask = response_mask.to(token_logprobs.dtype)
    nll_sum = -masked_sum(token_logprobs, mask)
    num_tokens = mask.sum(dim=-1).detach()
    if averaging == "token":
        return SFTOutput(nll_sum, num_tokens)
    if averaging == "sequence":
        return SFTOutput(nll_sum / num_tokens.clamp_min(1.0), num_tokens)
    raise ValueError(f"averaging must be 'token' or 'sequence', got {averaging!r}")
