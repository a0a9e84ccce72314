"""PPO-Lagrangian and PPO-ptx under data parallelism: 2 `ddp` processes (gloo, CPU) started by Lightning.

The ranks see different episode costs (a cost of `1 + 2·rank` per response: 1 on rank 0, 3 on rank 1), so a
multiplier updated from each rank's own cost would differ between ranks. After one rollout log λ must be the
same on both and equal the single-process update from the global mean cost 2:
`log λ = log 1 + lr·(2 − d)·1 = 0.5·(2 − 0.5) = 0.75`. PTX runs on each rank with the supervised loader
sharded by rank (disjoint rows), and DDP keeps the policies identical.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from omnialign.alignment.modules.rl import PPOLagrangianModule
from omnialign.alignment.rollout import KeywordScorer
from omnialign.data.fixtures import write_fixture

HERE = Path(__file__).resolve().parent
THRESHOLD, LAMBDA_LR = 0.5, 0.5

# Lightning's ddp launcher starts rank 1 by running this same file again, so it must be a file.
_TRAIN = """
import json, sys
from pathlib import Path
import torch
from lightning.pytorch import Trainer, seed_everything
from omnialign.alignment.modules.rl import PPOLagrangianModule
from omnialign.models.generation.text import GenerationOptions
from omnialign.alignment.rollout import KeywordScorer, Scorer
from omnialign.data.datamodules import PromptDataModule, SFTDataModule
from omnialign.models.backbone import BackboneOptions

out, prompts, sft = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
threshold, lr = float(sys.argv[4]), float(sys.argv[5])


class RankCost(Scorer):
    \"\"\"1 + 2·rank for every response: the ranks' episode costs differ by construction.\"\"\"

    def prepare(self, policy_processor, device):
        self.device = device

    def score(self, rollout):
        rank = torch.distributed.get_rank() if torch.distributed.is_initialized() else 0
        return torch.full((len(rollout.responses),), 1.0 + 2 * rank, device=self.device)


class Record(PPOLagrangianModule):
    \"\"\"What each rank saw: its own mean cost, the PTX rows it trained on, log λ after the update.\"\"\"

    seen = {"cost": [], "log_lambda": [], "ptx_rows": []}

    def before_update(self, experience):
        self.seen["cost"].append(experience.scores["cost"].mean().item())
        super().before_update(experience)
        self.seen["log_lambda"].append(self.log_lambda.item())

    def _next_ptx_batch(self):
        batch = super()._next_ptx_batch()
        rows = zip(batch["input_ids"], batch["attention_mask"].bool())
        self.seen["ptx_rows"].extend(str(ids[real].tolist()) for ids, real in rows)
        return batch


torch.set_num_threads(1)
seed_everything(0)
module = Record(
    reward=KeywordScorer("e"),
    cost=RankCost(),
    backbone=BackboneOptions(name="tiny:llama"),
    generation=GenerationOptions(max_new_tokens=4),
    samples_per_prompt=2,
    mini_batches=2,
    cost_threshold=threshold,
    lambda_init=1.0,
    lambda_lr=lr,
    ptx_data=SFTDataModule([sft], batch_size=2),
    ptx_coef=1.0,
    optimizer=lambda params: torch.optim.AdamW(params, lr=1e-3),
)
trainer = Trainer(
    accelerator="cpu", devices=2, strategy="ddp", max_epochs=1, logger=False, enable_checkpointing=False,
    enable_progress_bar=False, enable_model_summary=False,
)
data = PromptDataModule([prompts], schema="align-anything/text-to-text", batch_size=2)
trainer.fit(module, datamodule=data)
weights = torch.cat([p.detach().flatten() for p in module.policy.parameters()])
result = {**module.seen, "weights_sum": weights.double().sum().item()}
result["weights_abs"] = weights.abs().sum().item()
(out / f"rank{trainer.global_rank}.json").write_text(json.dumps(result))
"""


def _run(tmp_path: Path) -> list[dict]:
    prompts = write_fixture(tmp_path, "align-anything/text-to-text", rows=4, seed=0).path
    sft = tmp_path / "sft.jsonl"
    rows = [{"prompt": f"question {i}?", "response": f"answer number {i}"} for i in range(8)]
    sft.write_text("".join(json.dumps(row) + "\n" for row in rows))
    script = tmp_path / "train_rl_ddp.py"
    script.write_text(_TRAIN)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])}
    args = [str(tmp_path), str(prompts), str(sft), str(THRESHOLD), str(LAMBDA_LR)]
    run = subprocess.run(
        [sys.executable, str(script), *args], env=env, capture_output=True, text=True, timeout=400
    )
    assert run.returncode == 0, run.stderr[-3000:]
    return [json.loads((tmp_path / f"rank{rank}.json").read_text()) for rank in (0, 1)]


@pytest.mark.slow
def test_lagrange_multiplier_and_ptx_under_two_ddp_processes(tmp_path):
    rank0, rank1 = _run(tmp_path)
    # 4 prompts, batch 2 per rank: one rollout per rank, each with its own (different) cost
    assert rank0["cost"] == [1.0] and rank1["cost"] == [3.0]
    assert rank0["log_lambda"] == rank1["log_lambda"]

    single = PPOLagrangianModule(
        reward=KeywordScorer("e"), cost=KeywordScorer("o"), cost_threshold=THRESHOLD, lambda_lr=LAMBDA_LR
    )
    single.update_multiplier(torch.tensor([1.0, 3.0]))  # one process holding both ranks' episodes
    assert rank0["log_lambda"][0] == pytest.approx(single.log_lambda.item())
    assert rank0["log_lambda"][0] == pytest.approx(0.75)

    # PTX: 2 optimiser steps per rollout, one supervised batch of 2 each; the ranks' rows are disjoint
    assert len(rank0["ptx_rows"]) == len(rank1["ptx_rows"]) == 4
    assert not set(rank0["ptx_rows"]) & set(rank1["ptx_rows"])
    assert rank0["weights_sum"] == pytest.approx(rank1["weights_sum"], rel=1e-9, abs=1e-9)
    assert rank0["weights_abs"] == pytest.approx(rank1["weights_abs"], rel=1e-9)
