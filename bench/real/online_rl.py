"""Online RL on the real SmolLM2-135M-Instruct: held-out mean reward, cost and KL to the base, before and
after training with a config under configs/smollm2/rl/.

    uv run python bench/real/online_rl.py grpo ppo            # one run per config name, a table of results

The policy is built from the config exactly as `apps/train.py fit --config ...` builds it (the same CLI, not
a copy of its settings), evaluated on the held-out prompts, trained, and evaluated again. Evaluation runs the
module's own rollout (`collect`): `samples_per_prompt` sampled answers per held-out prompt, the config's
reward rule, and the per-answer KL to the reference (the base model: LoRA adapters disabled), k1-estimated
on the policy's own samples (sum over tokens of log π − log π_ref, averaged over answers). The cost rule is
applied to every run's held-out answers, so a plain-PPO run, which never sees the cost, is measured on it
too.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from lightning.pytorch import seed_everything

from omnialign.alignment.cli import OmniAlignCLI
from omnialign.alignment.modules.rl import OnlineRLModule
from omnialign.alignment.rollout import KeywordScorer, Scorer
from omnialign.data.datamodules import PromptDataModule

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = ROOT / "configs" / "smollm2" / "rl"
HELDOUT = ROOT / "data" / "smollm2" / "everyday" / "heldout.jsonl"
COST_RULE = r"\AThe\b"
"""The cost of the PPO / PPO-Lagrangian configs (answers opening with `The`), applied to every run."""


@dataclass
class HeldOut:
    """Means over the held-out answers."""

    reward: float
    cost: float
    kl: float
    answers: int


@torch.no_grad()
def evaluate(module: OnlineRLModule, files: list[str], cost: Scorer, seed: int = 1234) -> HeldOut:
    """Held-out reward, cost and KL to the reference of `module`'s policy (see the module docstring).

    The module is detached from its trainer while it samples, so the rollout carries no training samples."""
    module.configure_model()
    trainer, module.trainer = module._trainer, None
    data = PromptDataModule(files, val_files=files, schema="prompts", eval_batch_size=16)
    data.attach_processor(module.processor)
    data.setup("fit")
    rewards, costs, kls = [], [], []
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for batch in data.val_dataloader():  # in file order
            experience = module.collect(batch)
            cost.prepare(module.processor, module.device)
            rewards.append(experience.scores["reward"])
            costs.append(cost.score(experience.rollout))
            kls.append(module.kl_per_token(experience).sum(-1))
    module.trainer = trainer
    reward, spent, kl = (torch.cat(values) for values in (rewards, costs, kls))
    return HeldOut(reward.mean().item(), spent.mean().item(), kl.mean().item(), reward.numel())


def run(name: str, overrides: list[str], heldout: list[str]) -> dict:
    """Build config `name` through the train app's CLI, evaluate, fit, evaluate; wall times included."""
    config = CONFIGS / f"{name}.yaml"
    args = ["--config", str(config), "--trainer.enable_progress_bar=false", *overrides]
    seed_everything(0)
    cli = OmniAlignCLI(args=args, run=False)
    cost = KeywordScorer(COST_RULE)
    before = evaluate(cli.model, heldout, cost)
    started = time.perf_counter()
    cli.trainer.fit(cli.model, datamodule=cli.datamodule)
    fit_s = time.perf_counter() - started
    after = evaluate(cli.model, heldout, cost)
    extra = {"lambda": cli.model.multiplier.item()} if hasattr(cli.model, "multiplier") else {}
    return {
        "name": name,
        "before": before,
        "after": after,
        "fit_s": fit_s,
        "rollouts": cli.trainer.global_step,
        **extra,
    }


def table(results: list[dict]) -> str:
    lines = [
        "| config | held-out reward before → after | cost (`The` opener) before → after | KL to base after "
        "(nats/answer) | final λ | fit wall time |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        b, a = r["before"], r["after"]
        lam = f"{r['lambda']:.2f}" if "lambda" in r else "–"
        lines.append(
            f"| {r['name']} | {b.reward:.3f} → {a.reward:.3f} | {b.cost:.3f} → {a.cost:.3f} | {a.kl:.3f} "
            f"| {lam} | {r['fit_s']:.0f} s |"
        )
    answers = results[0]["after"].answers if results else 0
    return "\n".join(lines) + f"\n\nHeld-out answers per evaluation: {answers}.\n"


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("configs", nargs="+", help="names of configs under configs/smollm2/rl/")
    parser.add_argument("--heldout", nargs="+", default=[str(HELDOUT)])
    parser.add_argument("--override", action="append", default=[], help="extra train-app argument")
    args = parser.parse_args(argv)
    torch.set_num_threads(min(2, torch.get_num_threads()))
    results = [run(name, args.override, args.heldout) for name in args.configs]
    print(table(results))
    return results


if __name__ == "__main__":
    main()
