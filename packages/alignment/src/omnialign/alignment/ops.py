"""Tensor pieces every objective needs, written once: masked reductions, whitening, pairing by winner.

Convention used everywhere: `response_mask[b, t]` is 1 where *token* t of sequence b is a response token
(one the objective scores). Per-token log-probs come from inference (`omnialign.models.generation.logprobs`),
aligned with the tokens, position 0 set to zero.
"""

from __future__ import annotations

import torch
from torch import Tensor


def masked_mean(values: Tensor, mask: Tensor, dim: int | None = None) -> Tensor:
    """Mean over the positions where `mask` is 1; an all-zero mask gives 0 rather than NaN."""
    mask = mask.to(values.dtype)
    if dim is None:
        return (values * mask).sum() / mask.sum().clamp_min(1.0)
    return (values * mask).sum(dim=dim) / mask.sum(dim=dim).clamp_min(1.0)


def masked_whiten(values: Tensor, mask: Tensor, shift_mean: bool = True, eps: float = 1e-8) -> Tensor:
    """Normalise to unit variance (and zero mean unless `shift_mean=False`) over the masked positions."""
    mean = masked_mean(values, mask)
    var = masked_mean((values - mean) ** 2, mask)
    whitened = (values - mean) * torch.rsqrt(var + eps)
    return whitened if shift_mean else whitened + mean


def pair_by_winner(values: Tensor, winner: Tensor) -> tuple[Tensor, Tensor]:
    """(winner's, other's) values of each pair from `[2B, ...]` values ordered (first responses, second
    responses); `winner` `[B]` holds 0 (first) or 1 (second)."""
    pairs = values.unflatten(0, (2, -1))
    index = winner.view(1, -1, *([1] * (values.dim() - 1))).expand(1, *pairs.shape[1:])
    return pairs.gather(0, index).squeeze(0), pairs.gather(0, 1 - index).squeeze(0)
