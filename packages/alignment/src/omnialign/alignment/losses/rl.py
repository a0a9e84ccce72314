"""Online RL pieces for PPO, PPO-Lagrangian (Safe RLHF), GRPO and RLOO.

Shapes: per-token tensors are [B, T] and aligned with the tokens (see `omnialign.alignment.ops`);
`mask` is the response mask. Masked-out positions inside a row (a prompt before the response, padding after
it, tool output between turns) are *transparent* to the recursions here: the step after response token t is
the next response token, wherever it is. Every output is 0 outside the mask.

Rewards, values and advantages are targets, not things to differentiate: compute them from detached
tensors (or under `torch.no_grad()`). The losses (`ppo_policy_loss`, `value_loss`) are per token, with
per-token detached diagnostics, so the module chooses the masked reduction.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor


def kl_k1(logprobs: Tensor, ref_logprobs: Tensor) -> Tensor:
    """Per-token KL(π‖π_ref) estimator k1 = log π - log π_ref (Schulman 2020, "Approximating KL
    divergence"): unbiased for samples from π, high variance, can be negative."""
    return logprobs - ref_logprobs


def kl_k2(logprobs: Tensor, ref_logprobs: Tensor) -> Tensor:
    """k2 = ½·(log π - log π_ref)²: biased but low variance, always ≥ 0."""
    return 0.5 * (logprobs - ref_logprobs) ** 2


def kl_k3(logprobs: Tensor, ref_logprobs: Tensor) -> Tensor:
    """k3 = (ρ - 1) - log ρ with ρ = π_ref/π: unbiased, ≥ 0 and low variance. Not clamped: a token the
    reference finds e^20 times likelier than the policy does give a huge value, and the caller should see it.
    """
    log_rho = ref_logprobs - logprobs
    return torch.expm1(log_rho) - log_rho


KL_ESTIMATORS: dict[str, Callable[[Tensor, Tensor], Tensor]] = {"k1": kl_k1, "k2": kl_k2, "k3": kl_k3}


def last_token_mask(mask: Tensor) -> Tensor:
    """[B, T] bool, True at the last position of each row where `mask` is set (none for an empty row)."""
    counts = mask.long().cumsum(dim=-1)
    return mask.bool() & (counts == counts[..., -1:])


def shaped_rewards(
    scores: Tensor, kl: Tensor, mask: Tensor, kl_coef: float, score_clip: float | None = None
) -> Tensor:
    """Per-token RLHF reward (Ziegler et al. 2019; Ouyang et al. 2022 Eq. 2): `-β·KL_t` at every response
    token, plus the sequence score (clipped to ±`score_clip` if given) at the last response token.
    `scores` [B], `kl` [B, T] per-token estimates (`KL_ESTIMATORS`), `β = kl_coef`.
    """
    if score_clip is not None:
        scores = scores.clamp(-score_clip, score_clip)
    m = mask.to(kl.dtype)
    return -kl_coef * kl * m + last_token_mask(mask).to(kl.dtype) * scores.unsqueeze(-1)


def _reverse_scan(x: Tensor, decay: Tensor) -> Tensor:
    """Solve `y_t = x_t + decay_t · y_{t+1}` (y beyond the end = 0) along the last dim, exactly.

    Recursive doubling (Hillis-Steele): after the pass with stride k, `y_t` holds the next 2k terms of
    the discounted sum and `decay_t` the product of the next 2k factors. ⌈log2 T⌉ tensor passes and no
    division, so nothing over- or underflows the way the `γ^-t`-cumsum trick does on long sequences.
    """
    length = x.shape[-1]
    stride = 1
    while stride < length:
        y_ahead = F.pad(x[..., stride:], (0, stride))
        decay_ahead = F.pad(decay[..., stride:], (0, stride))
        x = x + decay * y_ahead
        decay = decay * decay_ahead
        stride *= 2
    return x


def _next_masked(values: Tensor, mask: Tensor) -> Tensor:
    """`values` at the next masked position strictly after t (0 if none)."""
    at_or_after = _reverse_scan(values * mask, 1.0 - mask)
    return F.pad(at_or_after[..., 1:], (0, 1))


class GAEOutput(NamedTuple):
    advantages: Tensor
    """[B, T], 0 outside the mask."""
    returns: Tensor
    """[B, T] value targets `advantages + values`, 0 outside the mask."""


def gae(rewards: Tensor, values: Tensor, mask: Tensor, gamma: float, lam: float) -> GAEOutput:
    """Generalised advantage estimation (Schulman et al. 2016, Eq. 16), vectorised:
        δ_t = r_t + γ·V_{t'} - V_t,   A_t = δ_t + γλ·A_{t'}
    where t' is the next response token after t (V and A past the last one are 0: the episode ends).
    """
    m = mask.to(values.dtype)
    values, rewards = values * m, rewards * m
    deltas = (rewards + gamma * _next_masked(values, m) - values) * m
    decay = gamma * lam * m + (1.0 - m)
    advantages = _reverse_scan(deltas, decay) * m
    return GAEOutput(advantages, (advantages + values) * m)


def discounted_returns(rewards: Tensor, mask: Tensor, gamma: float) -> Tensor:
    """Monte-Carlo returns `G_t = r_t + γ·G_{t'}` over the response tokens (REINFORCE-style baselines)."""
    m = mask.to(rewards.dtype)
    return _reverse_scan(rewards * m, gamma * m + (1.0 - m)) * m


class PolicyLossOutput(NamedTuple):
    losses: Tensor
    """Per-token clipped surrogate loss, [B, T]; differentiable."""
    clipped: Tensor
    """Detached float 0/1 per token: the clipped term was the active one (mean → clip fraction)."""
    approx_kl: Tensor
    """Detached per-token k3 estimate of KL(π_old‖π) from the old samples (mean → approx KL)."""


def ppo_policy_loss(
    logprobs: Tensor,
    old_logprobs: Tensor,
    advantages: Tensor,
    clip_eps: float = 0.2,
    clip_eps_high: float | None = None,
) -> PolicyLossOutput:
    """PPO clipped surrogate (Schulman et al. 2017, Eq. 7), negated to be minimised, per token:
        max(-A·ρ, -A·clip(ρ, 1 - ε, 1 + ε_high)),  ρ = π/π_old
    `clip_eps_high` (default: `clip_eps`) allows DAPO's asymmetric "clip-higher". Past the clip, in the
    direction the advantage favours, the loss is constant in ρ and its gradient is 0.
    """
    high = clip_eps if clip_eps_high is None else clip_eps_high
    log_ratio = logprobs - old_logprobs
    ratio = torch.exp(log_ratio)
    unclipped = -advantages * ratio
    clipped = -advantages * ratio.clamp(1.0 - clip_eps, 1.0 + high)
    losses = torch.maximum(unclipped, clipped)
    log_ratio = log_ratio.detach()
    approx_kl = torch.expm1(log_ratio) - log_ratio
    return PolicyLossOutput(losses, (clipped > unclipped).float().detach(), approx_kl)


class ValueLossOutput(NamedTuple):
    losses: Tensor
    """Per-token value loss, [B, T]; differentiable."""
    clipped: Tensor
    """Detached float 0/1 per token: the clipped prediction's error was the larger one."""


def value_loss(
    values: Tensor, old_values: Tensor, returns: Tensor, clip_eps: float | None = None
) -> ValueLossOutput:
    """Clipped value loss (as in OpenAI baselines' PPO2), per token:
        ½·max((V - R)², (V_old + clip(V - V_old, -ε, ε) - R)²)
    `clip_eps=None` gives the plain ½·(V - R)².
    """
    unclipped = (values - returns) ** 2
    if clip_eps is None:
        return ValueLossOutput(0.5 * unclipped, torch.zeros_like(unclipped).detach())
    clipped_values = old_values + (values - old_values).clamp(-clip_eps, clip_eps)
    clipped = (clipped_values - returns) ** 2
    return ValueLossOutput(0.5 * torch.maximum(unclipped, clipped), (clipped > unclipped).float().detach())


def lagrangian_advantages(
    reward_advantages: Tensor, cost_advantages: Tensor, multiplier: float | Tensor
) -> Tensor:
    """PPO-Lagrangian combined advantage (Safe RLHF Eq. 11, as implemented in safe-rlhf):
    `(A_r - λ·A_c) / (1 + λ)`. The `1 + λ` keeps its scale that of one advantage, so PPO's clip range
    means the same thing at every λ. Pass λ detached: the policy must not move the multiplier.
    """
    return (reward_advantages - multiplier * cost_advantages) / (1.0 + multiplier)


def lagrange_multiplier_loss(log_lambda: Tensor, mean_episode_cost: Tensor, cost_threshold: float) -> Tensor:
    """Dual objective for the multiplier, `-(J_C - d)·λ` with `λ = exp(log λ)` (Safe RLHF Eq. 10):
    minimising it raises λ while the mean episode cost `J_C` exceeds the threshold `d`. For modules that
    step `log λ` with their own optimiser; `lagrange_update` is the plain-SGD step of the same loss.
    """
    return -(mean_episode_cost - cost_threshold) * log_lambda.exp()


def lagrange_update(
    log_lambda: Tensor,
    mean_episode_cost: Tensor,
    cost_threshold: float,
    lambda_lr: float,
    lambda_max: float | None = None,
) -> Tensor:
    """One SGD step on `lagrange_multiplier_loss` in log space, as safe-rlhf does, returning the new log λ:
        log λ ← min(log λ + lr·(J_C - d)·λ, log λ_max)
    Cost above the threshold grows λ, below shrinks it; log space keeps λ > 0 and `lambda_max` caps it.
    """
    log_lambda = log_lambda.detach()
    step = lambda_lr * (mean_episode_cost.detach() - cost_threshold) * log_lambda.exp()
    new = log_lambda + step
    return new if lambda_max is None else new.clamp(max=math.log(lambda_max))


def _check_group(rewards: Tensor) -> None:
    if rewards.dim() != 2 or rewards.shape[-1] < 2:
        raise ValueError(f"expected rewards of shape [prompts, k >= 2], got {tuple(rewards.shape)}")


def grpo_advantages(rewards: Tensor, scale_by_std: bool = True, eps: float = 1e-4) -> Tensor:
    """GRPO outcome advantages (Shao et al. 2024, §4.1.2): for the k samples of each prompt,
    `(r - mean(r)) / (std(r) + eps)` with the unbiased std, as in DeepSeekMath and TRL.
    `scale_by_std=False` keeps only the centring (Dr. GRPO, Liu et al. 2025: the std division favours
    prompts that are too easy or too hard). `rewards` [P, k] → advantages [P, k].
    """
    _check_group(rewards)
    centred = rewards - rewards.mean(dim=-1, keepdim=True)
    return centred / (rewards.std(dim=-1, keepdim=True) + eps) if scale_by_std else centred


def rloo_advantages(rewards: Tensor) -> Tensor:
    """RLOO (Ahmadian et al. 2024, Eq. 7): each sample's baseline is the mean reward of the *other*
    k - 1 samples of its prompt, so the baseline is independent of the sample and the estimator unbiased:
    `r_i - (Σ_j r_j - r_i)/(k - 1)`. `rewards` [P, k] → advantages [P, k].
    """
    _check_group(rewards)
    k = rewards.shape[-1]
    baseline = (rewards.sum(dim=-1, keepdim=True) - rewards) / (k - 1)
    return rewards - baseline
