"""TRL's side of the peer benchmark: DPOTrainer, RewardTrainer, SFTTrainer and GRPOTrainer, each given the
model folder as a path (TRL loads the policy, and for DPO and GRPO its reference, as a user's script would)
and the same records in TRL's conversational format.

Configurations per trainer:
- `default`: TRL as installed. On a CPU TRL 1.16 has no Triton, and its fused LM-head path then scores every
  position of the batch (prompt and padding too) to keep tile shapes static. TRL also turns gradient
  checkpointing on by default (every trainer), trading a second forward in backward for activation memory.
- `best`: `trl.trainer.utils._use_triton = lambda device: True`, TRL's own GPU branch, which scores only the
  completion positions (the same loss). RewardTrainer does not use that path.
- `-nogc` on either: gradient checkpointing off, as OmniAlign runs by default (faster, more memory).
- SFT `best-pf`: SFTConfig's `padding_free=True` (with `max_length=None`, which TRL requires without packing;
  the records fit anyway): each batch flattened into one row with restarting position ids, as OmniAlign's
  `packing: true`. TRL documents it for FlashAttention 2/3 only, but on CPU with sdpa transformers 5.x builds
  the block-diagonal mask from the position ids: a batch of the tiny workload gives the padded batch's loss
  and gradients through TRL's own `compute_loss` (tests/bench/test_trl_padding_free.py). SFTConfig's
  `packing=True` is not a variant: it bins sequences into `max_length` blocks before batching, so a step
  holds another number of sequences and the sequences/s of the two sides would not count the same work.
  RewardTrainer has no padding-free option.

Not a variant: DPOConfig's `padding_free=True`. TRL 1.16's DPOTrainer.__init__ logs that it "is
temporarily unavailable after a refactor" and resets it to False (trl/trainer/dpo_trainer.py,
`self.padding_free = False`), so it would time the padded default under another name; its documentation
also limits it to FlashAttention 2/3, which a CPU does not run.
"""

from __future__ import annotations

import time
from pathlib import Path

from peer.timing import StepClock
from peer.workload import Workload, assistant, chat_prompt, records, reward_letters
from transformers import TrainerCallback


def use_best_path() -> None:
    """TRL's completion-only LM-head branch on CPU (see the module docstring)."""
    import trl.trainer.utils

    trl.trainer.utils._use_triton = lambda device: True


class Timing(TrainerCallback):
    def __init__(self, clock: StepClock) -> None:
        self.clock = clock

    def on_step_begin(self, args, state, control, **kwargs):
        self.clock.step_begin(state.global_step)

    def on_step_end(self, args, state, control, **kwargs):
        self.clock.step_end(state.global_step - 1)


def common_args(workload: Workload, workdir: Path, steps: int, batch_size: int, variant: str) -> dict:
    """TrainingArguments shared by every trainer. TRL turns gradient checkpointing on by default (less
    activation memory, a second forward in backward); a `-nogc` variant turns it off, as OmniAlign runs."""
    return {
        "gradient_checkpointing": not variant.endswith("nogc"),
        "output_dir": str(workdir / "trl"),
        "use_cpu": True,
        "bf16": False,
        "per_device_train_batch_size": batch_size,
        "learning_rate": workload.lr,
        "lr_scheduler_type": "constant",
        "max_steps": steps,
        "logging_steps": 10_000,
        "save_strategy": "no",
        "report_to": [],
        "seed": workload.seed,
        "dataloader_num_workers": 0,
        "disable_tqdm": True,
        "model_init_kwargs": {"dtype": "float32"},
    }


def run(objective: str, variant: str, workload: Workload, folder: Path, workdir: Path) -> dict[str, float]:
    """Train `objective` with TRL in `variant` (`default`, `best`, `precomputed-default`, ...) and time it."""
    start = time.perf_counter()
    if "best" in variant:
        use_best_path()
    from datasets import Dataset

    if objective == "grpo":
        return run_grpo(workload, folder, workdir, start, Dataset, variant)
    clock = StepClock(workload.warmup_steps, workload.timed_steps)
    rows = records(workload, workload.steps * workload.batch_size)
    args = common_args(workload, workdir, workload.steps, workload.batch_size, variant)
    if objective == "dpo":
        from trl import DPOConfig, DPOTrainer

        data = [
            {"prompt": chat_prompt(r), "chosen": assistant(r["chosen"]), "rejected": assistant(r["rejected"])}
            for r in rows
        ]
        config = DPOConfig(
            **args,
            max_length=workload.max_length,
            beta=workload.beta,
            precompute_ref_log_probs=variant.startswith("precomputed"),
        )
        trainer = DPOTrainer(model=str(folder), args=config, train_dataset=Dataset.from_list(data))
    elif objective == "reward":
        from trl import RewardConfig, RewardTrainer

        data = [
            {"prompt": chat_prompt(r), "chosen": assistant(r["chosen"]), "rejected": assistant(r["rejected"])}
            for r in rows
        ]
        config = RewardConfig(**args, max_length=workload.max_length)
        trainer = RewardTrainer(model=str(folder), args=config, train_dataset=Dataset.from_list(data))
    else:
        from trl import SFTConfig, SFTTrainer

        data = [{"prompt": chat_prompt(r), "completion": assistant(r["chosen"])} for r in rows]
        if "pf" in variant.split("-"):
            config = SFTConfig(**args, padding_free=True, max_length=None)
        else:
            config = SFTConfig(**args, max_length=workload.max_length)
        trainer = SFTTrainer(model=str(folder), args=config, train_dataset=Dataset.from_list(data))
    trainer.add_callback(Timing(clock))
    trainer.train()
    return {"timed_seconds": clock.seconds, "end_to_end_seconds": time.perf_counter() - start}


def run_grpo(
    workload: Workload, folder: Path, workdir: Path, start: float, Dataset, variant: str
) -> dict[str, float]:
    """One rollout = `prompts` x `samples_per_prompt` completions, used for `epochs` passes of 2 mini-batches:
    TRL's `steps_per_generation=2`, `num_iterations=epochs`, so a rollout is 2 x epochs optimiser steps."""
    from trl import GRPOConfig, GRPOTrainer

    samples = workload.prompts * workload.samples_per_prompt
    per_rollout = 2 * workload.epochs
    rollouts = workload.rollouts_warmup + workload.rollouts_timed
    rows = records(workload, rollouts * workload.prompts)
    args = common_args(workload, workdir, rollouts * per_rollout, samples // 2, variant)
    config = GRPOConfig(
        **args,
        num_generations=workload.samples_per_prompt,
        steps_per_generation=2,
        num_iterations=workload.epochs,
        max_completion_length=workload.max_new_tokens,
        temperature=1.0,
        top_p=1.0,
        beta=0.04,
    )

    def letters(completions, **kwargs) -> list[float]:
        return [reward_letters(c[0]["content"]) for c in completions]

    trainer = GRPOTrainer(
        model=str(folder),
        reward_funcs=letters,
        args=config,
        train_dataset=Dataset.from_list([{"prompt": chat_prompt(r)} for r in rows]),
    )
    clock = StepClock(workload.rollouts_warmup * per_rollout, workload.rollouts_timed * per_rollout)
    rollout_log: list[tuple[float, int]] = []  # (seconds, generated tokens) of each rollout
    generate_and_score = trainer._generate_and_score_completions

    def timed_rollout(inputs):
        began = time.perf_counter()
        output = generate_and_score(inputs)
        rollout_log.append((time.perf_counter() - began, int(output["completion_mask"].sum())))
        return output

    trainer._generate_and_score_completions = timed_rollout
    trainer.add_callback(Timing(clock))
    trainer.train()
    timed = rollout_log[workload.rollouts_warmup :]
    rollout_seconds = sum(s for s, _ in timed)
    return {
        "timed_seconds": clock.seconds,
        "end_to_end_seconds": time.perf_counter() - start,
        "generated_tokens_per_s": sum(t for _, t in timed) / rollout_seconds,
        "update_samples_per_s": samples * workload.epochs * len(timed) / (clock.seconds - rollout_seconds),
    }
