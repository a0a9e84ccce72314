"""OmniAlign's side of the peer benchmark: each objective built by the train app's own CLI class from a
config, as a user's `apps/train.py fit --config ...` builds it, then `trainer.fit` with a timing callback.

End-to-end time starts before the model loads and ends after the last step, so it counts loading, tokenising
and (for the precomputed reference) the reference pass, exactly as the peer's time counts its `__init__`.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from lightning.pytorch import Callback
from peer.timing import StepClock
from peer.workload import Workload, records, write_jsonl

from omnialign.alignment.cli import OmniAlignCLI

KEYWORD_SCORER = "omnialign.alignment.rollout.KeywordScorer"
QUIET = {
    "logger": False,
    "enable_checkpointing": False,
    "enable_progress_bar": False,
    "enable_model_summary": False,
    "num_sanity_val_steps": 0,
    "accelerator": "cpu",
    "devices": 1,
}


class Timing(Callback):
    """Feeds the step clock from Lightning's hooks; a GRPO step is one rollout plus its updates."""

    def __init__(self, clock: StepClock) -> None:
        self.clock = clock

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self.clock.step_begin(batch_idx)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.clock.step_end(batch_idx)


class RolloutLog(Callback):
    """Per-rollout generation and update times from the GRPO module's own throughput metrics."""

    def __init__(self, samples: int, epochs: int) -> None:
        self.samples, self.epochs = samples, epochs
        self.rollouts: list[tuple[float, float, float]] = []  # (rollout seconds, tokens, update seconds)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        metrics = trainer.callback_metrics
        tokens = float(metrics["train/response_length"]) * self.samples
        update = self.samples * self.epochs / float(metrics["train/update_samples_per_s"])
        self.rollouts.append((tokens / float(metrics["train/rollout_tokens_per_s"]), tokens, update))

    def rates(self, skip: int) -> dict[str, float]:
        timed = self.rollouts[skip:]
        updates = sum(u for _, _, u in timed)
        return {
            "generated_tokens_per_s": sum(t for _, t, _ in timed) / sum(s for s, _, _ in timed),
            "update_samples_per_s": self.samples * self.epochs * len(timed) / updates,
        }


def _optimizer(workload: Workload) -> dict[str, Any]:
    return {"class_path": "torch.optim.AdamW", "init_args": {"lr": workload.lr}}


def _fit(
    config: dict[str, Any],
    clock: StepClock,
    start: float,
    batches: int,
    workdir: Path,
    extra: Callback | None = None,
) -> dict[str, float]:
    trainer = {**QUIET, "max_epochs": 1, "limit_train_batches": batches, "limit_val_batches": 0}
    config = {
        "seed_everything": 0,
        "trainer": trainer | {"default_root_dir": str(workdir)},
        **config,
    }
    cli = OmniAlignCLI(args=config, run=False)
    cli.trainer.callbacks.extend([Timing(clock), *([extra] if extra else [])])
    cli.trainer.fit(cli.model, cli.datamodule)
    return {"timed_seconds": clock.seconds, "end_to_end_seconds": time.perf_counter() - start}


def preference_data(workload: Workload, workdir: Path, count: int, **layout: bool) -> dict[str, Any]:
    """The pairs as a preference datamodule; `layout`: `packing` or `shared_prefix` (default: padded)."""
    files = [str(write_jsonl(records(workload, count), workdir / "pairs.jsonl"))]
    return {
        "class_path": "omnialign.data.datamodules.preference.PreferenceDataModule",
        "init_args": {
            "schema": "preference",
            "train_files": files,
            "batch_size": workload.batch_size,
            "max_length": workload.max_length,
            **layout,
        },
    }


def run(objective: str, variant: str, workload: Workload, folder: Path, workdir: Path) -> dict[str, float]:
    """Train `objective` (`dpo`, `reward`, `sft`, `grpo`) in `variant` and time it. A variant is words joined
    by `-`: DPO's reference mode first (`live`, `precomputed`), then any of `pack` (padding-free packing),
    `prefix` (shared-prefix pairs: each prompt once) and `gc` (gradient checkpointing)."""
    start = time.perf_counter()
    words = set(variant.split("-"))
    backbone = {"name": str(folder), "gradient_checkpointing": "gc" in words}
    clock = StepClock(workload.warmup_steps, workload.timed_steps)
    pairs = workload.steps * workload.batch_size
    if objective == "dpo":
        model = {
            "class_path": "omnialign.alignment.modules.dpo.DPOModule",
            "init_args": {
                "backbone": backbone,
                "beta": workload.beta,
                "reference": "precomputed" if variant.startswith("precomputed") else "frozen",
                "optimizer": _optimizer(workload),
            },
        }
        data = preference_data(
            workload, workdir, pairs, packing="pack" in words, shared_prefix="prefix" in words
        )
    elif objective == "reward":
        model = {
            "class_path": "omnialign.alignment.modules.score.ScoreModule",
            "init_args": {"backbone": backbone, "objective": "reward", "optimizer": _optimizer(workload)},
        }
        data = preference_data(workload, workdir, pairs, shared_prefix="prefix" in words)
    elif objective == "sft":
        rows = [
            {"system": r["system"], "prompt": r["prompt"], "response": r["chosen"]}
            for r in records(workload, pairs)
        ]
        model = {
            "class_path": "omnialign.alignment.modules.sft.SFTModule",
            "init_args": {"backbone": backbone, "optimizer": _optimizer(workload)},
        }
        data = {
            "class_path": "omnialign.data.datamodules.SFTDataModule",
            "init_args": {
                "train_files": [str(write_jsonl(rows, workdir / "sft.jsonl"))],
                "batch_size": workload.batch_size,
                "max_length": workload.max_length,
                "packing": "pack" in words,
            },
        }
    else:
        return run_grpo(workload, folder, workdir, start, shared_prefix="prefix" in words)
    return _fit({"model": model, "data": data}, clock, start, workload.steps, workdir)


def run_grpo(
    workload: Workload, folder: Path, workdir: Path, start: float, shared_prefix: bool
) -> dict[str, float]:
    """GRPO: one training step is a rollout of `prompts` x `samples_per_prompt` answers and its updates
    (`shared_prefix`: each mini-batch's distinct prompts run once in its log-prob passes)."""
    rollouts = workload.rollouts_warmup + workload.rollouts_timed
    rows = [
        {"system": r["system"], "prompt": r["prompt"]} for r in records(workload, rollouts * workload.prompts)
    ]
    clock = StepClock(workload.rollouts_warmup, workload.rollouts_timed)
    model = {
        "class_path": "omnialign.alignment.modules.rl.GroupRLModule",
        "init_args": {
            "backbone": {"name": str(folder)},
            "reward": {"class_path": KEYWORD_SCORER, "init_args": {"pattern": "e"}},
            "generation": {"max_new_tokens": workload.max_new_tokens},
            "samples_per_prompt": workload.samples_per_prompt,
            "kl_coef": 0.04,
            "ppo_epochs": workload.epochs,
            "mini_batches": 2,
            "baseline": "grpo",
            "shared_prefix": shared_prefix,
            "optimizer": _optimizer(workload),
        },
    }
    data = {
        "class_path": "omnialign.data.datamodules.PromptDataModule",
        "init_args": {
            "train_files": [str(write_jsonl(rows, workdir / "prompts.jsonl"))],
            "batch_size": workload.prompts,
        },
    }
    log = RolloutLog(workload.prompts * workload.samples_per_prompt, workload.epochs)
    result = _fit({"model": model, "data": data}, clock, start, rollouts, workdir, log)
    return result | log.rates(workload.rollouts_warmup)
