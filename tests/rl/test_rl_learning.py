"""Learning on a toy task with a planted, rule-based reward: a random-weight tiny:llama policy samples
12-token responses to 8 text prompts (k = 4 each); the reward counts the letter `e` in the response text.
Numbers measured on 2 CPU cores are in each test's docstring."""

from __future__ import annotations

from functools import partial

import pytest
import torch
from lightning.pytorch import seed_everything
from rl_helpers import fit, text_prompts

from omnialign.alignment.modules.rl import GroupRLModule, PPOLagrangianModule, PPOModule
from omnialign.alignment.rollout import GenerationOptions, KeywordScorer
from omnialign.models.backbone import BackboneOptions

COMMON = {
    "backbone": BackboneOptions(name="tiny:llama"),
    "generation": GenerationOptions(max_new_tokens=12),
    "samples_per_prompt": 4,
    "kl_coef": 0.01,
    "ppo_epochs": 2,
    "mini_batches": 2,
    "optimizer": partial(torch.optim.AdamW, lr=3e-3),
}


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


@pytest.mark.slow
def test_ppo_raises_the_planted_reward(tmp_path):
    """Measured: mean reward 1.5 → ~3-4 over 12 rollouts (and ~25 after 30); the KL to the reference grows
    from 0 as the policy moves."""
    seed_everything(0)
    module = PPOModule(reward=KeywordScorer("e"), **COMMON)
    rewards = fit(module, text_prompts(tmp_path), steps=12).series("reward")
    assert _mean(rewards[-3:]) > 1.5 * _mean(rewards[:3]), rewards


@pytest.mark.slow
@pytest.mark.parametrize("baseline", ["grpo", "rloo"])
def test_group_baselines_raise_the_planted_reward(tmp_path, baseline):
    seed_everything(0)
    module = GroupRLModule(reward=KeywordScorer("e"), baseline=baseline, **COMMON)
    rewards = fit(module, text_prompts(tmp_path), steps=12).series("reward")
    assert _mean(rewards[-3:]) > 1.5 * _mean(rewards[:3]), rewards


def _lagrangian(lambda_init: float, lambda_lr: float) -> PPOLagrangianModule:
    """`lambda_max` matters: the log-space step grows with λ itself, so an unbounded λ can overflow."""
    return PPOLagrangianModule(
        reward=KeywordScorer("[eo]"),
        cost=KeywordScorer("o"),
        cost_threshold=COST_THRESHOLD,
        lambda_init=lambda_init,
        lambda_lr=lambda_lr,
        lambda_max=10.0,
        **COMMON,
    )


COST_THRESHOLD = 0.5


@pytest.mark.slow
def test_lagrangian_holds_the_cost_near_the_threshold_where_ppo_does_not(tmp_path):
    """Reward: letters `e` or `o`; cost: letters `o`, threshold 0.5 (the untrained policy's mean cost is ~1).
    Plain PPO is the same module with λ frozen at 1e-4 (`lambda_lr` 0): the cost critic is trained but the
    advantage is A_r. Measured over 15 rollouts: ...
    """
    seed_everything(0)
    ppo = fit(_lagrangian(1e-4, 0.0), text_prompts(tmp_path / "ppo"), steps=15)
    seed_everything(0)
    lagrangian = fit(_lagrangian(1.0, 0.5), text_prompts(tmp_path / "lag"), steps=15)
    ppo_cost, lag_cost = _mean(ppo.series("cost")[-5:]), _mean(lagrangian.series("cost")[-5:])
    print("ppo", ppo.series("cost"), ppo.series("reward"))
    print("lag", lagrangian.series("cost"), lagrangian.series("reward"), lagrangian.series("lambda"))
    assert ppo_cost > 2 * COST_THRESHOLD
    assert abs(lag_cost - COST_THRESHOLD) < 0.3
    assert lagrangian.series("lambda")[-1] > 1.0
