"""bench/real/online_rl.py on a cut-down setting: the GRPO config on SmolLM2-135M-Instruct, one rollout of 4
prompts and one optimiser step, three held-out prompts. Checks the measurement itself (reward of the rule in
range, KL to the base exactly 0 before any update since LoRA starts as the identity, and nonzero after one),
not learning: the learning numbers are the benchmark's, in BENCHMARKS.md."""

from __future__ import annotations

import math

import pytest
from bench_scripts import bench_script

online_rl = bench_script("online_rl")


@pytest.mark.heavy
def test_online_rl_bench_measures_heldout_reward_and_kl_around_a_short_run(tmp_path):
    heldout = tmp_path / "heldout.jsonl"
    heldout.write_text("".join(online_rl.HELDOUT.read_text().splitlines(keepends=True)[:3]))
    overrides = [
        "--trainer.limit_train_batches=1",
        f"--trainer.default_root_dir={tmp_path}",
        "--trainer.logger=false",
        "--data.init_args.batch_size=4",  # one rollout of 4 prompts x 4 samples, one optimiser step
        "--model.init_args.ppo_epochs=1",
        "--model.init_args.mini_batches=1",
    ]
    args = ["grpo", "--heldout", str(heldout), *(f"--override={o}" for o in overrides)]
    (result,) = online_rl.main(args)
    before, after = result["before"], result["after"]
    assert before.answers == after.answers == 12  # 3 prompts x 4 samples
    for measured in (before, after):
        assert 0.0 <= measured.reward <= 1.0 and 0.0 <= measured.cost <= 1.0
    assert before.kl == 0.0
    assert math.isfinite(after.kl) and after.kl != 0.0
