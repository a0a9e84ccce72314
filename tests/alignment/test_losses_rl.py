"""RL pieces: KL estimators, reward shaping, GAE (vectorised ≡ loop), PPO clip, value clip, PPO-Lagrangian,
GRPO and RLOO."""

import math

import pytest
import torch
from torch.testing import assert_close

from omnialign.alignment.losses.rl import (
    KL_ESTIMATORS,
    discounted_returns,
    gae,
    grpo_advantages,
    lagrange_multiplier_loss,
    lagrange_update,
    lagrangian_advantages,
    last_token_mask,
    ppo_policy_loss,
    rloo_advantages,
    shaped_rewards,
    value_loss,
)


def test_kl_estimators_hand_values():
    """log π = -1, log π_ref = -2: k1 = 1, k2 = ½, k3 = (e^-1 - 1) + 1 = e^-1. All vanish at π = π_ref."""
    lp, ref = torch.tensor([-1.0, -0.7]), torch.tensor([-2.0, -0.7])
    assert_close(KL_ESTIMATORS["k1"](lp, ref), torch.tensor([1.0, 0.0]))
    assert_close(KL_ESTIMATORS["k2"](lp, ref), torch.tensor([0.5, 0.0]))
    assert_close(KL_ESTIMATORS["k3"](lp, ref), torch.tensor([math.exp(-1), 0.0]))
    assert (KL_ESTIMATORS["k3"](torch.randn(100), torch.randn(100)) >= 0).all()


def test_shaped_rewards_hand_values():
    """KL = 1 everywhere, β = 0.1, scores clipped to ±1 and added at each row's last response token;
    an empty row gets nothing."""
    mask = torch.tensor([[0, 1, 1, 0], [1, 1, 1, 1], [0, 0, 0, 0]])
    assert torch.equal(
        last_token_mask(mask), torch.tensor([[0, 0, 1, 0], [0, 0, 0, 1], [0, 0, 0, 0]], dtype=torch.bool)
    )
    rewards = shaped_rewards(
        torch.tensor([5.0, -0.5, 3.0]), torch.ones(3, 4), mask, kl_coef=0.1, score_clip=1.0
    )
    expected = torch.tensor([[0.0, -0.1, 0.9, 0.0], [-0.1, -0.1, -0.1, -0.6], [0.0, 0.0, 0.0, 0.0]])
    assert_close(rewards, expected)


def _gae_loop(rewards, values, mask, gamma, lam):
    """The textbook recursion, one row and one token at a time, over the response tokens only."""
    advantages, returns = torch.zeros_like(rewards), torch.zeros_like(rewards)
    for b in range(rewards.shape[0]):
        idx = mask[b].nonzero().flatten().tolist()
        last_gae, next_value = 0.0, 0.0
        for t in reversed(idx):
            delta = rewards[b, t].item() + gamma * next_value - values[b, t].item()
            last_gae = delta + gamma * lam * last_gae
            advantages[b, t] = last_gae
            returns[b, t] = last_gae + values[b, t].item()
            next_value = values[b, t].item()
    return advantages, returns


def test_gae_hand_values():
    """r = [0, 1], V = [0.5, 0.2], γ = 0.9, λ = 0.8: δ1 = 1 - 0.2 = 0.8, δ0 = 0.9·0.2 - 0.5 = -0.32,
    A1 = 0.8, A0 = -0.32 + 0.72·0.8 = 0.256; returns A + V = [0.756, 1.0]."""
    out = gae(torch.tensor([[0.0, 1.0]]), torch.tensor([[0.5, 0.2]]), torch.ones(1, 2), gamma=0.9, lam=0.8)
    assert_close(out.advantages, torch.tensor([[0.256, 0.8]]))
    assert_close(out.returns, torch.tensor([[0.756, 1.0]]))


@pytest.mark.parametrize(("gamma", "lam"), [(1.0, 0.95), (0.99, 0.9), (0.9, 0.0), (0.8, 1.0)])
def test_gae_vectorised_equals_loop_with_prompts_padding_and_gaps(gamma, lam):
    torch.manual_seed(0)
    batch, length = 6, 37
    rewards, values = torch.randn(batch, length), torch.randn(batch, length)
    mask = torch.zeros(batch, length, dtype=torch.long)
    for b, (start, stop) in enumerate([(0, 37), (5, 20), (10, 11), (3, 36), (0, 0), (2, 30)]):
        mask[b, start:stop] = 1
    mask[5, 12:17] = 0  # tool output between two response turns: transparent
    out = gae(rewards, values, mask, gamma, lam)
    advantages, returns = _gae_loop(rewards, values, mask, gamma, lam)
    assert_close(out.advantages, advantages, atol=1e-5, rtol=1e-5)
    assert_close(out.returns, returns, atol=1e-5, rtol=1e-5)


def test_gae_long_sequence_is_finite_and_exact():
    torch.manual_seed(1)
    rewards, values = torch.randn(2, 3000, dtype=torch.float64), torch.randn(2, 3000, dtype=torch.float64)
    mask = torch.ones(2, 3000)
    mask[1, 2500:] = 0
    out = gae(rewards, values, mask, gamma=0.999, lam=0.95)
    advantages, _ = _gae_loop(rewards, values, mask, 0.999, 0.95)
    assert torch.isfinite(out.advantages).all()
    assert_close(out.advantages, advantages, atol=1e-9, rtol=1e-9)


def test_discounted_returns():
    """r = [1, 0, 2] with a gap at index 1, γ = 0.5: G2 = 2, G0 = 1 + 0.5·2 = 2 (the gap is skipped)."""
    returns = discounted_returns(torch.tensor([[1.0, 7.0, 2.0]]), torch.tensor([[1, 0, 1]]), gamma=0.5)
    assert_close(returns, torch.tensor([[2.0, 0.0, 2.0]]))
    torch.manual_seed(2)
    rewards, mask = torch.randn(3, 9), (torch.rand(3, 9) > 0.3).long()
    expected = _gae_loop(rewards, torch.zeros_like(rewards), mask, 0.9, 1.0)[1]
    assert_close(discounted_returns(rewards, mask, 0.9), expected, atol=1e-6, rtol=1e-6)


def _ppo(ratio: float, advantage: float, **kwargs):
    logprobs = torch.tensor([math.log(ratio)], requires_grad=True)
    out = ppo_policy_loss(logprobs, torch.zeros(1), torch.tensor([advantage]), **kwargs)
    out.losses.sum().backward()
    return out, logprobs.grad.item()


def test_ppo_clips_large_ratios_and_stops_their_gradient():
    """ε = 0.2. ρ = 2, A = 1: loss -min(2, 1.2) = -1.2, clipped, zero gradient.
    ρ = 0.5, A = -1: loss -min(-0.5, -0.8) = 0.8, clipped, zero gradient."""
    out, grad = _ppo(2.0, 1.0)
    assert_close(out.losses, torch.tensor([-1.2]))
    assert out.clipped.item() == 1.0 and grad == 0.0
    out, grad = _ppo(0.5, -1.0)
    assert_close(out.losses, torch.tensor([0.8]))
    assert out.clipped.item() == 1.0 and grad == 0.0


def test_ppo_keeps_the_gradient_on_the_pessimistic_side():
    """Gradients are in log-prob space, d(-A·ρ)/d log π = -A·ρ. ρ = 2, A = -1: the unclipped term -A·ρ = 2
    is the larger (worse) one, so no clip and gradient 2; ρ = 0.5, A = 1: loss -0.5, gradient -0.5."""
    out, grad = _ppo(2.0, -1.0)
    assert_close(out.losses, torch.tensor([2.0]))
    assert out.clipped.item() == 0.0 and grad == pytest.approx(2.0)
    out, grad = _ppo(0.5, 1.0)
    assert_close(out.losses, torch.tensor([-0.5]))
    assert out.clipped.item() == 0.0 and grad == pytest.approx(-0.5)


def test_ppo_lower_loss_for_higher_advantage_and_asymmetric_clip():
    advantages = torch.tensor([-1.0, 0.0, 1.0, 2.0])
    out = ppo_policy_loss(torch.zeros(4), torch.zeros(4), advantages)
    assert_close(out.losses, -advantages)
    assert (out.losses.diff() < 0).all()
    assert_close(out.approx_kl, torch.zeros(4))
    wide, _ = _ppo(2.0, 1.0, clip_eps=0.2, clip_eps_high=0.28)
    assert_close(wide.losses, torch.tensor([-1.28]))


def test_value_loss_hand_values():
    """V = 1.5, V_old = 1, R = 2, ε = 0.2: unclipped ½·0.25; clipped V = 1.2 → ½·0.64 = 0.32 (taken)."""
    values = torch.tensor([1.5], requires_grad=True)
    out = value_loss(values, torch.tensor([1.0]), torch.tensor([2.0]), clip_eps=0.2)
    assert_close(out.losses, torch.tensor([0.32]))
    assert out.clipped.item() == 1.0
    out.losses.sum().backward()
    assert values.grad.item() == 0.0
    plain = value_loss(torch.tensor([1.5]), torch.tensor([1.0]), torch.tensor([2.0]))
    assert_close(plain.losses, torch.tensor([0.125]))
    assert plain.clipped.item() == 0.0


def test_lagrangian_advantages():
    """A_r = 1, A_c = 2: λ = 1 → (1 - 2)/2 = -0.5; λ = 0 → A_r; λ = 3 → (1 - 6)/4 = -1.25."""
    a_r, a_c = torch.tensor([1.0]), torch.tensor([2.0])
    assert_close(lagrangian_advantages(a_r, a_c, 1.0), torch.tensor([-0.5]))
    assert_close(lagrangian_advantages(a_r, a_c, 0.0), a_r)
    assert_close(lagrangian_advantages(a_r, a_c, torch.tensor(3.0)), torch.tensor([-1.25]))


def test_lagrange_update_direction_and_cap():
    """log λ = 0 (λ = 1), lr 0.1: cost 1 over threshold 0 → +0.1; cost -1 → -0.1; λ_max = 1.05 caps at
    log 1.05."""
    log_lambda = torch.tensor(0.0)
    assert_close(lagrange_update(log_lambda, torch.tensor(1.0), 0.0, lambda_lr=0.1), torch.tensor(0.1))
    assert_close(lagrange_update(log_lambda, torch.tensor(-1.0), 0.0, lambda_lr=0.1), torch.tensor(-0.1))
    capped = lagrange_update(log_lambda, torch.tensor(1.0), 0.0, lambda_lr=0.1, lambda_max=1.05)
    assert_close(capped, torch.tensor(math.log(1.05)))


def test_lagrange_update_is_an_sgd_step_on_the_multiplier_loss():
    log_lambda = torch.tensor(0.3, requires_grad=True)
    cost = torch.tensor(0.7)
    lagrange_multiplier_loss(log_lambda, cost, 0.2).backward()
    expected = log_lambda.detach() - 0.05 * log_lambda.grad
    assert_close(lagrange_update(log_lambda, cost, 0.2, lambda_lr=0.05), expected)


def test_grpo_advantages():
    """Rewards [1, 0, 1, 0]: mean ½, unbiased std √(1/3) → ±½·√3 = ±0.866025; unscaled ±½; a group with
    equal rewards gets 0."""
    rewards = torch.tensor([[1.0, 0.0, 1.0, 0.0], [2.0, 2.0, 2.0, 2.0]])
    half_root3 = 0.5 * math.sqrt(3)
    expected = torch.tensor([[half_root3, -half_root3, half_root3, -half_root3], [0.0, 0.0, 0.0, 0.0]])
    assert_close(grpo_advantages(rewards, eps=0.0)[0], expected[0])
    assert_close(grpo_advantages(rewards)[1], expected[1])
    assert_close(grpo_advantages(rewards, scale_by_std=False)[0], torch.tensor([0.5, -0.5, 0.5, -0.5]))


def test_rloo_advantages():
    """[1, 2, 3]: leave-one-out baselines [2.5, 2, 1.5] → [-1.5, 0, 1.5]; they sum to zero per prompt."""
    assert_close(rloo_advantages(torch.tensor([[1.0, 2.0, 3.0]])), torch.tensor([[-1.5, 0.0, 1.5]]))
    torch.manual_seed(3)
    assert_close(rloo_advantages(torch.randn(5, 4)).sum(dim=-1), torch.zeros(5), atol=1e-6, rtol=0)


@pytest.mark.parametrize("shape", [(4,), (3, 1)])
def test_group_advantages_need_groups(shape):
    with pytest.raises(ValueError, match="k >= 2"):
        grpo_advantages(torch.zeros(shape))
    with pytest.raises(ValueError, match="k >= 2"):
        rloo_advantages(torch.zeros(shape))
