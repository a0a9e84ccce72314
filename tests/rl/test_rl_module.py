"""The RL module family on pieces that need no training run: the Lagrange multiplier through the module,
rollout masks and tile selection, group-baseline layout (the vLLM backend: `test_vllm_backend.py`)."""

from __future__ import annotations

import math

import pytest
import torch

from omnialign.alignment.modules.rl import Experience, GroupRLModule, PPOLagrangianModule
from omnialign.alignment.rollout import KeywordScorer, Rollout, build_rollout
from omnialign.alignment.rollout.generation import tile
from omnialign.models.backbone import BackboneOptions
from omnialign.models.generation.text import GenerationOptions, response_mask_of


def _lagrangian(**kwargs) -> PPOLagrangianModule:
    """No network is built: `configure_model` is never called."""
    return PPOLagrangianModule(reward=KeywordScorer("a"), cost=KeywordScorer("b"), **kwargs)


def test_lambda_grows_above_threshold_and_shrinks_below():
    """λ0 = 1, lr 0.5, d = 1: cost 3 → log λ = 0 + 0.5·(3 − 1)·1 = 1; then cost 0 (window 1) →
    log λ = 1 + 0.5·(0 − 1)·e = 1 − e/2."""
    module = _lagrangian(cost_threshold=1.0, lambda_init=1.0, lambda_lr=0.5)
    module.update_multiplier(torch.tensor([3.0, 3.0]))
    assert module.log_lambda.item() == pytest.approx(1.0)
    module.update_multiplier(torch.tensor([0.0, 0.0]))
    assert module.log_lambda.item() == pytest.approx(1.0 - math.e / 2)
    assert module.multiplier.item() < 1.0


def test_lambda_respects_lambda_max_and_update_delay():
    module = _lagrangian(cost_threshold=0.0, lambda_init=1.0, lambda_lr=10.0, lambda_max=2.0, update_delay=2)
    for _ in range(2):  # inside the delay: the window fills, λ stays
        module.update_multiplier(torch.tensor([5.0]))
    assert module.multiplier.item() == pytest.approx(1.0)
    module.update_multiplier(torch.tensor([5.0]))
    assert module.multiplier.item() == pytest.approx(2.0)


def test_lambda_follows_the_moving_mean_of_the_cost_window():
    """Window 2, d = 1: costs 3 then 0 → the second step sees mean 1.5 > d, so λ still grows."""
    module = _lagrangian(cost_threshold=1.0, lambda_lr=0.1, cost_window=2)
    module.update_multiplier(torch.tensor([3.0]))
    first = module.log_lambda.item()
    module.update_multiplier(torch.tensor([0.0]))
    assert module.log_lambda.item() > first
    assert module.cost_history.tolist() == [3.0, 0.0]


def test_lagrangian_advantage_uses_the_current_multiplier():
    module = _lagrangian(lambda_init=3.0)
    a_r, a_c = torch.tensor([[1.0, 2.0]]), torch.tensor([[4.0, -4.0]])
    expected = torch.tensor([[(1 - 12) / 4, (2 + 12) / 4]])
    torch.testing.assert_close(module.combine({"reward": a_r, "cost": a_c}), expected)


def test_response_mask_stops_after_the_first_eos():
    generated = torch.tensor([[5, 6, 2, 7, 2], [5, 5, 5, 5, 5], [2, 9, 9, 9, 9]])
    expected = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [1, 0, 0, 0, 0]])
    assert response_mask_of(generated, eos_id=2).tolist() == expected.tolist()


def _prompt_batch() -> dict:
    """Two left-padded prompts and a fake media tensor of 3 items for the first, 1 for the second."""
    return {
        "input_ids": torch.tensor([[0, 11, 12], [13, 14, 15]]),
        "attention_mask": torch.tensor([[0, 1, 1], [1, 1, 1]]),
        "response_mask": torch.zeros(2, 3, dtype=torch.long),
        "position_ids": torch.tensor([[0, 0, 1], [0, 1, 2]]),
        "pixel_values": torch.arange(4.0).unsqueeze(-1),
        "targets": {"index": torch.tensor([0, 1])},
    }


class _Tokenizer:
    def batch_decode(self, ids, skip_special_tokens):
        return [" ".join(map(str, row.tolist())) for row in ids]


def test_rollout_rows_masks_positions_and_tiles():
    k, eos, pad = 2, 2, 0
    tiled = tile(_prompt_batch(), k)
    generated = torch.tensor([[7, 2, 9], [8, 8, 8], [2, 9, 9], [7, 7, 2]])
    rollout = build_rollout(tiled, generated, k, eos, pad, _Tokenizer())
    batch = rollout.batch
    assert batch["input_ids"][0].tolist() == [0, 11, 12, 7, 2, pad]
    assert batch["response_mask"][0].tolist() == [0, 0, 0, 1, 1, 0]
    assert batch["attention_mask"][0].tolist() == [0, 1, 1, 1, 1, 0]
    assert batch["position_ids"][0].tolist()[1:5] == [0, 1, 2, 3]
    assert batch["pixel_values"].shape[0] == 8  # 4 media items per tile, 2 tiles
    assert rollout.media["pixel_values"].shape[0] == 4
    second_tile = rollout.select([1])
    assert second_tile["input_ids"].tolist() == batch["input_ids"][2:].tolist()
    torch.testing.assert_close(second_tile["pixel_values"], _prompt_batch()["pixel_values"])
    assert rollout.prompts == 2 and rollout.rows_of([1, 0]).tolist() == [2, 3, 0, 1]


@pytest.mark.parametrize("baseline", ["grpo", "rloo"])
def test_group_baselines_compare_the_samples_of_one_prompt(baseline):
    """Rows are tiles: row j·B + b is sample j of prompt b. Prompt 0 scores (1, 3), prompt 1 (10, 10):
    prompt 1's samples tie, so their advantages are 0, and prompt 0's have opposite signs."""
    module = GroupRLModule(reward=KeywordScorer("a"), baseline=baseline, samples_per_prompt=2, kl_coef=0.0)
    rollout = Rollout({"response_mask": torch.ones(4, 3)}, {}, 2, [])
    scores = {"reward": torch.tensor([1.0, 10.0, 3.0, 10.0])}
    experience = Experience(rollout, scores, logprobs=torch.zeros(4, 3), ref_logprobs=None)
    advantages = module.targets(experience)["advantages"][:, 0]
    assert advantages[1] == 0 and advantages[3] == 0
    assert advantages[0] < 0 < advantages[2]
    if baseline == "rloo":
        assert advantages.tolist() == [-2.0, 0.0, 2.0, 0.0]


def test_mini_batches_must_divide_samples_per_prompt():
    with pytest.raises(ValueError, match="must divide"):
        GroupRLModule(reward=KeywordScorer("a"), samples_per_prompt=4, mini_batches=3)


def test_adapters_reference_needs_lora():
    with pytest.raises(ValueError, match="needs LoRA"):
        GroupRLModule(reward=KeywordScorer("a"), reference="adapters", backbone=BackboneOptions())


def test_keyword_scorer_counts_matches_with_cap():
    rollout = Rollout({}, {}, 1, ["aa b a", "", "aaaa"])
    scores = KeywordScorer("a", weight=0.5, max_count=3).score(rollout)
    assert scores.tolist() == [1.5, 0.0, 1.5]


def test_lora_disabled_policy_is_the_reference(tmp_path):
    """With `reference='adapters'` no copy is built; peft initialises LoRA's B to zero, so before any update
    the reference log-probs equal the policy's and the KL is exactly 0."""
    from rl_helpers import text_prompts

    from omnialign.models.backbone import LoraOptions

    module = GroupRLModule(
        reward=KeywordScorer("e"),
        backbone=BackboneOptions(name="tiny:llama", lora=LoraOptions(r=4)),
        reference="adapters",
        samples_per_prompt=2,
        generation=GenerationOptions(max_new_tokens=4),
    )
    module.configure_model()
    assert module.reference is None
    data = text_prompts(tmp_path, rows=2, batch_size=2)
    data.attach_processor(module.processor)
    data.setup("fit")
    experience = module.collect(next(iter(data.reference_dataloader("train"))))
    torch.testing.assert_close(experience.ref_logprobs, experience.logprobs)
    assert experience.logprobs.abs().sum() > 0


@pytest.mark.slow
def test_ptx_loss_is_mixed_into_every_update(tmp_path):
    """PPO-ptx with a reward that never fires (pattern absent from every response): the supervised data
    (one planted response) is what the policy learns; its NLL falls over 3 rollouts × 4 updates."""
    import json

    from lightning.pytorch import seed_everything
    from rl_helpers import fit, text_prompts

    from omnialign.alignment.modules.rl import PPOModule
    from omnialign.data.datamodules import SFTDataModule

    rows = [{"prompt": f"question {i}?", "response": "the quick brown fox"} for i in range(4)]
    path = tmp_path / "sft.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    seed_everything(0)
    module = PPOModule(
        reward=KeywordScorer("§"),
        samples_per_prompt=2,
        mini_batches=2,
        ppo_epochs=2,
        generation=GenerationOptions(max_new_tokens=4),
        ptx_data=SFTDataModule([str(path)], batch_size=2),
        ptx_coef=1.0,
        optimizer=lambda params: torch.optim.AdamW(params, lr=3e-3),
    )
    ptx = fit(module, text_prompts(tmp_path, rows=2, batch_size=2), steps=3).series("ptx_loss")
    assert ptx[-1] < 0.8 * ptx[0], ptx
