"""Tensor pieces every objective needs, written once: next-token log-probs over a response mask, masked
reductions, whitening.

Convention used everywhere: `response_mask[b, t]` is 1 where *token* t of sequence b is a response token
(one the objective scores). Logits at position t-1 predict token t, so the first token of a sequence is never
scored; `token_logprobs` returns tensors aligned with the tokens, with position 0 set to zero.
"""

from __future__ import annotations

import torch
from torch import Tensor


def token_logprobs(logits: Tensor, input_ids: Tensor, temperature: float = 1.0) -> Tensor:
    """Log-probability of each token given its prefix, aligned with `input_ids` (position 0 is 0).

    Computed as `logit[target] - logsumexp(logits)` row by row, so no `[B, T, V]` log-softmax tensor is
    materialised: for a 150k vocabulary that tensor is the largest allocation of a preference step.
    """
    shifted = logits[:, :-1, :]
    if temperature != 1.0:
        shifted = shifted / temperature
    targets = input_ids[:, 1:]
    picked = torch.gather(shifted, -1, targets.unsqueeze(-1)).squeeze(-1).float()
    normaliser = torch.stack([torch.logsumexp(row.float(), dim=-1) for row in shifted])
    out = torch.zeros(input_ids.shape, dtype=picked.dtype, device=logits.device)
    out[:, 1:] = picked - normaliser
    return out


def masked_sum(values: Tensor, mask: Tensor, dim: int = -1) -> Tensor:
    return (values * mask).sum(dim=dim)


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


def sequence_logprobs(logits: Tensor, input_ids: Tensor, response_mask: Tensor) -> tuple[Tensor, Tensor]:
    """Sum of response-token log-probs per sequence, and the number of response tokens (for averaging)."""
    per_token = token_logprobs(logits, input_ids)
    mask = response_mask.to(per_token.dtype)
    return masked_sum(per_token, mask), mask.sum(dim=-1)


def pair_by_winner(values: Tensor, winner: Tensor) -> tuple[Tensor, Tensor]:
    """(winner's, other's) values of each pair from `[2B, ...]` values ordered (first responses, second
    responses); `winner` `[B]` holds 0 (first) or 1 (second)."""
    pairs = values.unflatten(0, (2, -1))
    index = winner.view(1, -1, *([1] * (values.dim() - 1))).expand(1, *pairs.shape[1:])
    return pairs.gather(0, index).squeeze(0), pairs.gather(0, 1 - index).squeeze(0)
