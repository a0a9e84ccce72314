"""Safe RLHF score models (Dai et al. 2024): the reward (helpfulness) model, the cost (harmlessness) model
and a multi-label moderation head.

Cost sign convention, used everywhere in OmniAlign and defined once in `safety_sign`:
    s(y) = +1 if y is UNSAFE, -1 if y is SAFE   (paper §3.2, Eq. 6)
so the cost-model's sign term `-log σ(s·C(y))` pushes unsafe responses to C > 0 and safe ones to C < 0,
and a PPO-Lagrangian cost threshold of 0 means "safe on average". Callers pass the dataset's `is_safe`
booleans, never signs: safe-rlhf's collator carries the opposite "safety sign" (+1 safe) and negates it
inside the trainer, a double negation this module avoids.

Regulariser (both models, as in safe-rlhf's trainers): `reg · mean(r_w², r_l²)`, i.e. per example
`reg · (r_w² + r_l²) / 2` (sequence-wise) and the same mean over the divergent tokens (token-wise). It keeps
scores near 0 so the BT loss cannot be lowered by inflating the scale.

Sequence-wise losses take one end-of-sequence score per response, [B]. Token-wise losses take a score per
token, [B, T], and `span_mask` from `divergent_span_mask`: the Bradley-Terry term is applied at every
position from the first token where the two sequences differ to the later of their two ends, and averaged.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

from omnialign.alignment.ops import masked_mean

UNSAFE_SIGN = 1.0
SAFE_SIGN = -1.0


def safety_sign(is_safe: Tensor) -> Tensor:
    """The cost sign `s`: +1 (`UNSAFE_SIGN`) for an unsafe response, -1 (`SAFE_SIGN`) for a safe one."""
    return torch.where(is_safe.bool(), SAFE_SIGN, UNSAFE_SIGN)


class ScoreOutput(NamedTuple):
    losses: Tensor
    """Per-example loss, [B]; differentiable."""
    accuracies: Tensor
    """Detached float 0/1: the preferred ordering holds (higher score for the better / unsafer one), [B]."""
    margins: Tensor
    """Detached score difference in the preferred direction, [B] (token-wise: mean over the span)."""


class CostOutput(NamedTuple):
    losses: Tensor
    accuracies: Tensor
    """Detached float 0/1: `C(unsafer) > C(safer)`, [B]."""
    margins: Tensor
    """Detached `C(unsafer) - C(safer)`, [B] (token-wise: mean over the span)."""
    sign_accuracies: Tensor
    """Detached fraction (0, 0.5 or 1) of the pair's two responses whose cost has the right sign, [B]."""


def divergent_span_mask(
    chosen_ids: Tensor, rejected_ids: Tensor, chosen_attention: Tensor, rejected_attention: Tensor
) -> Tensor:
    """[B, T] bool mask of the positions token-wise score losses compare, for two right-padded [B, T]
    batches sharing their prompt: from the first position where the ids differ (inside either sequence)
    to the last real token of the longer sequence, inclusive. Identical pairs give an empty row.
    """
    positions = torch.arange(chosen_ids.shape[-1], device=chosen_ids.device)
    inside = chosen_attention.bool() | rejected_attention.bool()
    differs = (chosen_ids != rejected_ids) & inside
    first = torch.where(differs, positions, chosen_ids.shape[-1]).amin(dim=-1, keepdim=True)
    last = torch.where(inside, positions, -1).amax(dim=-1, keepdim=True)
    return (positions >= first) & (positions <= last)


def _bt_terms(higher: Tensor, lower: Tensor, regularization: float) -> Tensor:
    return -F.logsigmoid(higher - lower) + regularization * (higher**2 + lower**2) / 2.0


def reward_loss_sequencewise(
    chosen_scores: Tensor, rejected_scores: Tensor, regularization: float = 0.0
) -> ScoreOutput:
    """Bradley-Terry reward loss (Safe RLHF Eq. 5; Ouyang et al. 2022 Eq. 1) on end-of-sequence scores:
    `-log σ(r_w - r_l) + reg·(r_w² + r_l²)/2`.
    """
    losses = _bt_terms(chosen_scores, rejected_scores, regularization)
    margins = (chosen_scores - rejected_scores).detach()
    return ScoreOutput(losses, (margins > 0).float(), margins)


def reward_loss_tokenwise(
    chosen_scores: Tensor, rejected_scores: Tensor, span_mask: Tensor, regularization: float = 0.0
) -> ScoreOutput:
    """Token-wise reward loss (safe-rlhf `loss_type='token-wise'`): the sequence-wise terms at every
    position of `span_mask`, averaged per example. Accuracy is on the span-mean margin.
    """
    mask = span_mask.to(chosen_scores.dtype)
    losses = masked_mean(_bt_terms(chosen_scores, rejected_scores, regularization), mask, dim=-1)
    margins = masked_mean((chosen_scores - rejected_scores).detach(), mask, dim=-1)
    return ScoreOutput(losses, (margins > 0).float(), margins)


def _cost_terms(
    unsafer: Tensor, safer: Tensor, unsafer_sign: Tensor, safer_sign: Tensor, regularization: float
) -> Tensor:
    return (
        _bt_terms(unsafer, safer, regularization)
        - F.logsigmoid(unsafer_sign * unsafer)
        - F.logsigmoid(safer_sign * safer)
    )


def _sign_accuracy(unsafer: Tensor, safer: Tensor, unsafer_sign: Tensor, safer_sign: Tensor) -> Tensor:
    return ((unsafer_sign * unsafer > 0).float() + (safer_sign * safer > 0).float()).detach() / 2.0


def cost_loss_sequencewise(
    unsafer_costs: Tensor,
    safer_costs: Tensor,
    unsafer_is_safe: Tensor,
    safer_is_safe: Tensor,
    regularization: float = 0.0,
) -> CostOutput:
    """Cost-model loss (Safe RLHF Eq. 6) on end-of-sequence costs:
        -log σ(C_u - C_s) - log σ(s_u·C_u) - log σ(s_s·C_s) + reg·(C_u² + C_s²)/2
    with `s = safety_sign(is_safe)`. The ordering term ranks the more harmful response higher; the sign
    terms pin the zero of the cost scale between safe and unsafe.
    """
    unsafer_sign, safer_sign = safety_sign(unsafer_is_safe), safety_sign(safer_is_safe)
    losses = _cost_terms(unsafer_costs, safer_costs, unsafer_sign, safer_sign, regularization)
    margins = (unsafer_costs - safer_costs).detach()
    signs = _sign_accuracy(unsafer_costs, safer_costs, unsafer_sign, safer_sign)
    return CostOutput(losses, (margins > 0).float(), margins, signs)


def cost_loss_tokenwise(
    unsafer_costs: Tensor,
    safer_costs: Tensor,
    unsafer_is_safe: Tensor,
    safer_is_safe: Tensor,
    span_mask: Tensor,
    regularization: float = 0.0,
) -> CostOutput:
    """Token-wise cost loss: the sequence-wise terms at every position of `span_mask` ([B, T] costs),
    averaged per example (safe-rlhf averages each of the three terms over the same span, which is equal).
    Sign accuracy is judged on the span-mean cost of each response.
    """
    mask = span_mask.to(unsafer_costs.dtype)
    unsafer_sign = safety_sign(unsafer_is_safe).unsqueeze(-1)
    safer_sign = safety_sign(safer_is_safe).unsqueeze(-1)
    terms = _cost_terms(unsafer_costs, safer_costs, unsafer_sign, safer_sign, regularization)
    unsafer_mean = masked_mean(unsafer_costs.detach(), mask, dim=-1)
    safer_mean = masked_mean(safer_costs.detach(), mask, dim=-1)
    margins = unsafer_mean - safer_mean
    signs = _sign_accuracy(unsafer_mean, safer_mean, unsafer_sign.squeeze(-1), safer_sign.squeeze(-1))
    return CostOutput(masked_mean(terms, mask, dim=-1), (margins > 0).float(), margins, signs)


REWARD_LOSSES: dict[str, Callable[..., ScoreOutput]] = {
    "sequence-wise": reward_loss_sequencewise,
    "token-wise": reward_loss_tokenwise,
}
"""By safe-rlhf's `loss_type` name. The token-wise entry also takes `span_mask` and [B, T] scores."""

COST_LOSSES: dict[str, Callable[..., CostOutput]] = {
    "sequence-wise": cost_loss_sequencewise,
    "token-wise": cost_loss_tokenwise,
}
"""By safe-rlhf's `loss_type` name. The token-wise entry also takes `span_mask` and [B, T] costs."""


class ModerationOutput(NamedTuple):
    losses: Tensor
    """Per-example BCE averaged over the labels, [B]; differentiable."""
    label_accuracies: Tensor
    """Detached fraction of the example's labels predicted right (logit > 0 ⇔ label 1), [B]."""
    exact_matches: Tensor
    """Detached float 0/1: every label of the example predicted right, [B]."""


def moderation_loss(logits: Tensor, labels: Tensor, pos_weight: Tensor | None = None) -> ModerationOutput:
    """Multi-label moderation loss: binary cross-entropy with logits over K independent labels, e.g. the
    harm categories of BeaverTails / PKU-SafeRLHF plus one overall "unsafe" flag, in whatever column
    order the dataset defines.

    `pos_weight` ([K], optional) scales each label's positive term, for rare categories (a weight of
    n_negative / n_positive balances a category, as in `torch.nn.BCEWithLogitsLoss`).
    """
    targets = labels.to(logits.dtype)
    per_label = F.binary_cross_entropy_with_logits(logits, targets, pos_weight=pos_weight, reduction="none")
    correct = ((logits.detach() > 0) == labels.bool()).float()
    return ModerationOutput(per_label.mean(dim=-1), correct.mean(dim=-1), correct.amin(dim=-1))
