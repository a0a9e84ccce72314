"""Online RL for any→text policies: PPO, PPO-Lagrangian (Safe RLHF) and critic-free GRPO/RLOO, one module
family with manual optimisation.

Each training batch is a batch of prompts (any input modality, `PromptDataModule`). One step:
1. rollout: sample k responses per prompt with the policy (a `GenerationBackend` of
   `omnialign.models.generation`), score them (`Scorer`: reward and, for PPO-Lagrangian, cost), and compute
   the sampling log-probs and the reference's (`omnialign.alignment.reference`);
2. targets: advantages (GAE on critic values for PPO, group baselines for GRPO/RLOO) and value targets;
3. `ppo_epochs` passes over the rollout in `mini_batches` mini-batches of whole tiles (see
   `rollout.generation`), each an optimiser step of the clipped policy loss (+ the critics' clipped value
   loss).
The reference is a frozen copy of the backbone, or the policy with its LoRA adapters disabled (no copy).
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Literal

import torch
from lightning.pytorch.cli import OptimizerCallable
from torch import Tensor, nn

from omnialign.alignment.losses.rl import (
    KL_ESTIMATORS,
    gae,
    grpo_advantages,
    lagrange_update,
    lagrangian_advantages,
    ppo_policy_loss,
    rloo_advantages,
    shaped_rewards,
    value_loss,
)
from omnialign.alignment.losses.sft import sft_nll
from omnialign.alignment.modules.base import PolicyModule
from omnialign.alignment.modules.critic import build_critic
from omnialign.alignment.ops import masked_mean, masked_whiten
from omnialign.alignment.optim import build_schedule
from omnialign.alignment.reference import ReferencePolicy, ReferenceSource, drop_rebuilt
from omnialign.alignment.rollout import Rollout, build_rollout
from omnialign.alignment.rollout.generation import tile
from omnialign.alignment.rollout.scoring import Scorer
from omnialign.data.datamodules import PromptDataModule, SFTDataModule
from omnialign.models.backbone import BackboneOptions, load_causal_lm, tokenizer_of
from omnialign.models.generation.logprobs import response_token_logprobs
from omnialign.models.generation.shared_prompts import shared_prompt_logprobs
from omnialign.models.generation.text import (
    GenerationBackend,
    GenerationOptions,
    HFGenerateBackend,
    SpecialIds,
)

NOT_HYPERPARAMETERS = ["optimizer", "critic_optimizer", "reward", "cost", "backend", "ptx_data"]


@dataclass
class Experience:
    """One rollout with everything the update needs that does not change during it."""

    rollout: Rollout
    scores: dict[str, Tensor]
    """Scorer name → `[N]` scores."""
    logprobs: Tensor
    """`[N, T]` log-probs of the sampled tokens under the sampling policy."""
    ref_logprobs: Tensor | None
    """`[N, T]` under the reference (None when `kl_coef` is 0)."""

    @property
    def mask(self) -> Tensor:
        return self.rollout.batch["response_mask"].float()


class OnlineRLModule(PolicyModule):
    """Rollout, reference log-probs and the PPO-epoch loop; subclasses define targets and the loss."""

    def __init__(
        self,
        reward: Scorer,
        backbone: BackboneOptions | None = None,
        generation: GenerationOptions | None = None,
        backend: GenerationBackend | None = None,
        samples_per_prompt: int = 4,
        kl_coef: float = 0.05,
        kl_estimator: Literal["k1", "k2", "k3"] = "k1",
        reference: ReferenceSource = "frozen",
        reference_dtype: str | None = None,
        clip_eps: float = 0.2,
        clip_eps_high: float | None = None,
        ppo_epochs: int = 1,
        mini_batches: int = 1,
        max_grad_norm: float | None = 1.0,
        ptx_data: SFTDataModule | None = None,
        ptx_coef: float = 0.0,
        shared_prefix: bool = False,
        **kwargs,
    ) -> None:
        """
        Args:
            reward: Scores each response (a score model or a rule).
            generation: Sampling options of the rollout.
            backend: Rollout engine (default: HF `generate` with the policy itself).
            samples_per_prompt: k responses per prompt (GRPO/RLOO need k >= 2).
            kl_coef: β of the KL to the reference (0: no reference is built or run).
            kl_estimator: Per-token KL estimator (Schulman's k1/k2/k3).
            reference: `frozen` (a second copy of the backbone) or `adapters` (the policy with its LoRA
                adapters disabled; needs `backbone.lora`).
            reference_dtype: Parameter dtype of a frozen reference (float32, bfloat16, float16): it only runs
                forwards, so bf16 halves its memory at a small cost in log-prob precision. None: the
                policy's `backbone.dtype`.
            clip_eps: PPO's ratio clip ε.
            clip_eps_high: Upper clip (DAPO's clip-higher); default `clip_eps`.
            ppo_epochs: Passes over each rollout.
            mini_batches: Optimiser steps per pass; must divide `samples_per_prompt` (mini-batches are whole
                tiles of one sample per prompt, so media tensors split exactly).
            max_grad_norm: Gradient-norm clip per optimiser (None: off).
            ptx_data: Supervised data mixed into every update (InstructGPT's PPO-ptx), one batch per
                optimiser step, cycling; it gets the policy's processor.
            ptx_coef: Weight γ of the PTX loss (token-mean NLL of the supervised responses).
            shared_prefix: Score each mini-batch with every distinct prompt run once, its sampled responses
                all continuing it in one unpadded row (`shared_prompts`; same log-probs as the padded
                batch): fewer tokens whenever a mini-batch holds several samples per prompt. Text-only
                policies.
        """
        super().__init__(backbone=backbone, **kwargs)
        if samples_per_prompt % mini_batches:
            raise ValueError(
                f"mini_batches ({mini_batches}) must divide samples_per_prompt ({samples_per_prompt})"
            )
        self.reference_policy = ReferencePolicy(reference, reference_dtype)
        self.reference_policy.check(has_lora=self.backbone_options.lora is not None)
        self.automatic_optimization = False
        self.scorers: dict[str, Scorer] = {"reward": reward}
        self.generation = generation or GenerationOptions()
        self.backend = backend or HFGenerateBackend()
        self.samples_per_prompt = samples_per_prompt
        self.kl_coef = kl_coef
        self.kl = KL_ESTIMATORS[kl_estimator]
        self.reference: nn.Module | None = None
        self.clip = (clip_eps, clip_eps_high)
        self.ppo_epochs = ppo_epochs
        self.mini_batches = mini_batches
        self.max_grad_norm = max_grad_norm
        if ptx_coef > 0 and ptx_data is None:
            raise ValueError("ptx_coef > 0 needs ptx_data (an SFT data module)")
        self.ptx_data = ptx_data if ptx_coef > 0 else None
        self.ptx_coef = ptx_coef
        self.shared_prefix = shared_prefix
        self._ptx_batches: Iterator[dict] | None = None
        self.strict_loading = False  # the reference is rebuilt, never checkpointed

    # -- networks --------------------------------------------------------------------------------------
    def configure_model(self) -> None:
        super().configure_model()
        if self.kl_coef > 0 and self.reference is None:
            options = BackboneOptions(**{**vars(self.backbone_options), "lora": None})
            self.reference = self.reference_policy.frozen_copy(
                lambda: load_causal_lm(options, self.processor)
            )

    def trained_groups(self) -> list[list[nn.Parameter]]:
        """Parameter groups, one optimiser each: the policy's (subclasses add the critics')."""
        return [[p for p in self.policy.parameters() if p.requires_grad]]

    def optimizer_factories(self) -> list[OptimizerCallable]:
        return [self.optimizer_factory]

    def configure_optimizers(self):
        updates = int(self.trainer.estimated_stepping_batches) * self.ppo_epochs * self.mini_batches
        optimizers = [
            self.create_optimizer(factory, params)
            for factory, params in zip(self.optimizer_factories(), self.trained_groups(), strict=True)
        ]
        return optimizers, [build_schedule(o, self.schedule, updates) for o in optimizers]

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        drop_rebuilt(checkpoint["state_dict"])

    # -- PTX ----------------------------------------------------------------------------------------------
    def on_fit_start(self) -> None:
        super().on_fit_start()
        if self.ptx_data is not None:
            self.ptx_data.attach_processor(self.processor)
            self.ptx_data.setup("fit")

    def _next_ptx_batch(self) -> dict[str, Tensor]:
        batch = next(self._ptx_batches, None) if self._ptx_batches is not None else None
        if batch is None:  # first use, or the supervised data ran out: start another pass
            self._ptx_batches = iter(self.ptx_data.train_dataloader())
            batch = next(self._ptx_batches)
        return self.transfer_batch_to_device(batch, self.device, 0)

    def ptx_loss(self) -> Tensor:
        """Token-mean NLL of the next supervised batch's responses."""
        out = sft_nll(*self.response_logprobs(self.policy, self._next_ptx_batch()))
        return out.loss.sum() / out.num_tokens.sum().clamp_min(1.0)

    # -- rollout ---------------------------------------------------------------------------------------
    def _log_probs(self, model: nn.Module, batch: dict[str, Tensor]) -> Tensor:
        score = shared_prompt_logprobs if self.shared_prefix else response_token_logprobs
        return score(model, batch, self.generation.temperature)

    def _by_mini_batch(self, rollout: Rollout, fn: Callable[[dict[str, Tensor]], Tensor]) -> Tensor:
        """`fn` over the rollout one mini-batch of tiles at a time (bounded memory), rows in order."""
        chunks = torch.arange(self.samples_per_prompt).chunk(self.mini_batches)
        return torch.cat([fn(rollout.select(chunk.tolist())) for chunk in chunks])

    def _reference_log_probs(self, rollout: Rollout) -> Tensor | None:
        if self.kl_coef == 0:
            return None
        with self.reference_policy.network(self.reference, self.policy) as reference:
            return self._by_mini_batch(rollout, lambda b: self._log_probs(reference, b))

    def _samples(self, prompts: dict) -> list | None:
        data = self.datamodule()
        if not isinstance(data, PromptDataModule):
            return None
        return [
            data.sample("train", i) for i in prompts["targets"]["index"].tolist()
        ] * self.samples_per_prompt

    @torch.no_grad()
    def collect(self, prompts: dict) -> Experience:
        """Sample, score and compute the fixed log-probs of one rollout (policy in eval mode: no dropout)."""
        was_training = self.policy.training
        self.policy.eval()
        tokenizer = tokenizer_of(self.processor)
        ids = SpecialIds.of(tokenizer)
        tiled, samples = tile(prompts, self.samples_per_prompt), self._samples(prompts)
        generated = self.backend.generate(self.policy, tiled, self.generation, ids, samples)
        rollout = build_rollout(tiled, generated, self.samples_per_prompt, ids.eos, ids.pad, tokenizer)
        rollout.samples = samples
        scores = {}
        for name, scorer in self.scorers.items():
            scorer.prepare(self.processor, self.device)
            scores[name] = scorer.score(rollout)
        logprobs = self._by_mini_batch(rollout, lambda b: self._log_probs(self.policy, b))
        experience = Experience(rollout, scores, logprobs, self._reference_log_probs(rollout))
        self.policy.train(was_training)
        return experience

    # -- update ----------------------------------------------------------------------------------------
    def kl_per_token(self, experience: Experience) -> Tensor:
        if experience.ref_logprobs is None:
            return torch.zeros_like(experience.logprobs)
        return self.kl(experience.logprobs, experience.ref_logprobs) * experience.mask

    def before_update(self, experience: Experience) -> None:
        """Hook between rollout and update (PPO-Lagrangian steps its multiplier here)."""

    def targets(self, experience: Experience) -> dict[str, Tensor]:
        """Per-row `[N, T]` tensors the loss needs; must hold `advantages`."""
        raise NotImplementedError

    def policy_terms(
        self, batch: dict[str, Tensor], advantages: Tensor, old_logprobs: Tensor
    ) -> tuple[Tensor, dict[str, Tensor], Tensor]:
        """Clipped policy loss (token mean over the mini-batch), its diagnostics, and the new log-probs."""
        mask = batch["response_mask"]
        logprobs = self._log_probs(self.policy, batch)
        out = ppo_policy_loss(logprobs, old_logprobs, advantages, *self.clip)
        loss = masked_mean(out.losses, mask)
        metrics = {
            "policy_loss": loss.detach(),
            "clip_fraction": masked_mean(out.clipped, mask),
            "approx_kl": masked_mean(out.approx_kl, mask),
        }
        return loss, metrics, logprobs

    def update_loss(
        self, batch: dict[str, Tensor], targets: dict[str, Tensor], old_logprobs: Tensor
    ) -> tuple[Tensor, dict[str, Tensor]]:
        """The loss of one mini-batch; subclasses add their terms to the policy's."""
        loss, metrics, _ = self.policy_terms(batch, targets["advantages"], old_logprobs)
        return loss, metrics

    def _step(self, loss: Tensor) -> None:
        """Backward, clip, step; gradients are freed right after the step, so they never sit beside the
        next mini-batch's activations (a full parameter-sized buffer of peak memory otherwise)."""
        optimizers = self.optimizers()
        optimizers = optimizers if isinstance(optimizers, list) else [optimizers]
        self.manual_backward(loss)
        for optimizer in optimizers:
            if self.max_grad_norm is not None:
                self.clip_gradients(
                    optimizer, gradient_clip_val=self.max_grad_norm, gradient_clip_algorithm="norm"
                )
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
        schedulers = self.lr_schedulers()
        for scheduler in schedulers if isinstance(schedulers, list) else [schedulers]:
            scheduler.step()

    def optimise(self, experience: Experience, targets: dict[str, Tensor]) -> dict[str, Tensor]:
        """`ppo_epochs` shuffled passes over the rollout's tiles; returns the mean update diagnostics."""
        rollout, history = experience.rollout, defaultdict(list)
        for _ in range(self.ppo_epochs):
            order = torch.randperm(self.samples_per_prompt).chunk(self.mini_batches)
            for chunk in order:
                tiles = chunk.tolist()
                rows = rollout.rows_of(tiles)
                picked = {key: value[rows] for key, value in targets.items()}
                loss, metrics = self.update_loss(rollout.select(tiles), picked, experience.logprobs[rows])
                if self.ptx_data is not None:
                    ptx = self.ptx_loss()
                    loss, metrics["ptx_loss"] = loss + self.ptx_coef * ptx, ptx.detach()
                self._step(loss)
                for name, value in metrics.items():
                    history[name].append(value.detach().float())
        return {name: torch.stack(values).mean() for name, values in history.items()}

    def rollout_metrics(self, experience: Experience) -> dict[str, Tensor]:
        mask = experience.mask
        return {
            **{name: scores.mean() for name, scores in experience.scores.items()},
            "kl": (self.kl_per_token(experience)).sum(-1).mean(),
            "response_length": mask.sum(-1).mean(),
        }

    def training_step(self, batch: dict, batch_idx: int) -> None:
        """One rollout and its PPO epochs; throughput is logged as generated tokens per second of rollout
        (generation, scoring, reference) and rollout samples per second of update (targets + epochs)."""
        started = time.perf_counter()
        experience = self.collect(batch)
        collected = time.perf_counter()
        self.before_update(experience)
        targets = self.targets(experience)
        metrics = {**self.rollout_metrics(experience), **self.optimise(experience, targets)}
        updated = time.perf_counter()
        samples = experience.mask.shape[0]
        metrics["rollout_tokens_per_s"] = torch.tensor(experience.mask.sum().item() / (collected - started))
        metrics["update_samples_per_s"] = torch.tensor(samples * self.ppo_epochs / (updated - collected))
        self.log_metrics("train", metrics, samples)


class PPOModule(OnlineRLModule):
    """PPO (Ouyang et al. 2022): per-token reward −β·KL plus the clipped score at the last response token,
    GAE on a learned critic, clipped policy and value losses."""

    streams: tuple[str, ...] = ("reward",)

    def __init__(
        self,
        reward: Scorer,
        critic: BackboneOptions | None = None,
        critic_path: str | None = None,
        critic_optimizer: OptimizerCallable | None = None,
        gamma: float = 1.0,
        lam: float = 0.95,
        value_clip_eps: float | None = 0.2,
        score_clip: float | None = None,
        whiten_advantages: bool = True,
        **kwargs,
    ) -> None:
        """
        Args:
            critic: Critic backbone (default: the policy's backbone without LoRA, fresh value head); it must
                share the policy's processor.
            critic_path: Initialise each critic from a saved score model instead (e.g. the reward model).
            critic_optimizer: Optimiser of the critics (default: the policy's).
            gamma: Discount γ over response tokens.
            lam: GAE's λ.
            value_clip_eps: Value-loss clip around the rollout's values (None: unclipped).
            score_clip: Clip scores to ±this before shaping (None: off).
            whiten_advantages: Normalise advantages over the rollout's response tokens.
        """
        super().__init__(reward=reward, **kwargs)
        self.critic_options = critic
        self.critic_path = critic_path
        self.critic_optimizer = critic_optimizer
        self.gamma, self.lam = gamma, lam
        self.value_clip_eps = value_clip_eps
        self.score_clip = score_clip
        self.whiten_advantages = whiten_advantages
        self.critics: nn.ModuleDict | None = None
        self.save_hyperparameters(ignore=NOT_HYPERPARAMETERS)

    def configure_model(self) -> None:
        super().configure_model()
        if self.critics is None:
            options = self.critic_options or self.backbone_options
            self.critics = nn.ModuleDict(
                {name: build_critic(options, self.processor, self.critic_path) for name in self.streams}
            )

    def trained_groups(self) -> list[list[nn.Parameter]]:
        return [*super().trained_groups(), list(self.critics.parameters())]

    def optimizer_factories(self) -> list[OptimizerCallable]:
        return [self.optimizer_factory, self.critic_optimizer or self.optimizer_factory]

    def token_rewards(self, experience: Experience) -> dict[str, Tensor]:
        kl = self.kl_per_token(experience)
        score = experience.scores["reward"]
        return {"reward": shaped_rewards(score, kl, experience.mask, self.kl_coef, self.score_clip)}

    def combine(self, advantages: dict[str, Tensor]) -> Tensor:
        return advantages["reward"]

    @torch.no_grad()
    def targets(self, experience: Experience) -> dict[str, Tensor]:
        mask, targets, advantages = experience.mask, {}, {}
        for name, rewards in self.token_rewards(experience).items():
            values = self._by_mini_batch(experience.rollout, self.critics[name]).float()
            out = gae(rewards, values, mask, self.gamma, self.lam)
            advantages[name] = out.advantages
            targets[f"values/{name}"], targets[f"returns/{name}"] = values, out.returns
        combined = self.combine(advantages)
        targets["advantages"] = masked_whiten(combined, mask) * mask if self.whiten_advantages else combined
        return targets

    def update_loss(
        self, batch: dict[str, Tensor], targets: dict[str, Tensor], old_logprobs: Tensor
    ) -> tuple[Tensor, dict[str, Tensor]]:
        loss, metrics = super().update_loss(batch, targets, old_logprobs)
        mask = batch["response_mask"]
        for name, critic in self.critics.items():
            old, returns = targets[f"values/{name}"], targets[f"returns/{name}"]
            out = value_loss(critic(batch), old, returns, self.value_clip_eps)
            term = masked_mean(out.losses, mask)
            loss = loss + term
            metrics[f"value_loss/{name}"] = term.detach()
        return loss, metrics


class PPOLagrangianModule(PPOModule):
    """PPO-Lagrangian (Safe RLHF, Dai et al. 2024): reward and cost critics, advantages
    `(A_r − λ·A_c)/(1+λ)`, and λ (kept as `log λ`) raised while the moving mean episode cost is above the
    threshold and lowered while below. The cost stream carries +β·KL so the combined advantage keeps exactly
    −β·KL at every λ. λ and the cost window are buffers: saved in checkpoints and equal on every rank."""

    streams = ("reward", "cost")

    def __init__(
        self,
        reward: Scorer,
        cost: Scorer,
        cost_threshold: float = 0.0,
        lambda_init: float = 1.0,
        lambda_lr: float = 0.1,
        lambda_max: float | None = None,
        update_delay: int = 0,
        cost_window: int = 1,
        **kwargs,
    ) -> None:
        """
        Args:
            cost: Scores each response's cost (positive: unsafe).
            cost_threshold: Target bound d on the mean episode cost.
            lambda_init: Initial multiplier λ.
            lambda_lr: Step size of the log λ update.
            lambda_max: Upper bound of λ (None: unbounded).
            update_delay: Rollouts before λ starts to move (the critics settle first).
            cost_window: Number of recent rollouts whose mean cost drives the update.
        """
        if lambda_init <= 0 or cost_window < 1:
            raise ValueError("lambda_init must be > 0 and cost_window >= 1")
        super().__init__(reward=reward, **kwargs)
        self.scorers["cost"] = cost
        self.cost_threshold = cost_threshold
        self.lambda_lr, self.lambda_max = lambda_lr, lambda_max
        self.update_delay = update_delay
        self.register_buffer("log_lambda", torch.tensor(math.log(lambda_init)))
        self.register_buffer("cost_history", torch.zeros(cost_window))
        self.register_buffer("rollouts_seen", torch.zeros((), dtype=torch.long))

    @property
    def multiplier(self) -> Tensor:
        return self.log_lambda.exp()

    def update_multiplier(self, costs: Tensor) -> None:
        """Fold one rollout's mean episode cost (averaged over ranks) into the window, then, past the delay,
        take one step of `lagrange_update` on log λ."""
        mean = costs.detach().float().mean().to(self.log_lambda.device)
        if self._trainer is not None and self.trainer.world_size > 1:
            mean = self.trainer.strategy.reduce(mean, reduce_op="mean")
        window = self.cost_history.shape[0]
        self.cost_history[self.rollouts_seen % window] = mean
        self.rollouts_seen += 1
        if self.rollouts_seen <= self.update_delay:
            return
        moving_mean = self.cost_history[: min(int(self.rollouts_seen), window)].mean()
        self.log_lambda.copy_(
            lagrange_update(
                self.log_lambda, moving_mean, self.cost_threshold, self.lambda_lr, self.lambda_max
            )
        )

    def before_update(self, experience: Experience) -> None:
        self.update_multiplier(experience.scores["cost"])

    def token_rewards(self, experience: Experience) -> dict[str, Tensor]:
        kl, mask = self.kl_per_token(experience), experience.mask
        cost = shaped_rewards(experience.scores["cost"], -kl, mask, self.kl_coef, self.score_clip)
        return {**super().token_rewards(experience), "cost": cost}

    def combine(self, advantages: dict[str, Tensor]) -> Tensor:
        return lagrangian_advantages(advantages["reward"], advantages["cost"], self.multiplier)

    def rollout_metrics(self, experience: Experience) -> dict[str, Tensor]:
        return {**super().rollout_metrics(experience), "lambda": self.multiplier}


class GroupRLModule(OnlineRLModule):
    """Critic-free policy gradient with group baselines over the k samples of each prompt: GRPO (Shao et al.
    2024; the KL to the reference is a loss term, k3 by default) or RLOO (Ahmadian et al. 2024)."""

    def __init__(
        self,
        reward: Scorer,
        baseline: Literal["grpo", "rloo"] = "grpo",
        scale_by_std: bool = True,
        kl_estimator: Literal["k1", "k2", "k3"] = "k3",
        **kwargs,
    ) -> None:
        """
        Args:
            baseline: `grpo` (group mean, optionally / std) or `rloo` (leave-one-out mean).
            scale_by_std: GRPO only: divide by the group's std (False: Dr. GRPO).
        """
        super().__init__(reward=reward, kl_estimator=kl_estimator, **kwargs)
        if self.samples_per_prompt < 2:
            raise ValueError("group baselines need samples_per_prompt >= 2")
        self.baseline = baseline
        self.scale_by_std = scale_by_std
        self.save_hyperparameters(ignore=NOT_HYPERPARAMETERS)

    @torch.no_grad()
    def targets(self, experience: Experience) -> dict[str, Tensor]:
        k = self.samples_per_prompt
        groups = experience.scores["reward"].view(k, -1).T  # [prompts, k]: row j·B + b is sample j of b
        if self.baseline == "grpo":
            advantages = grpo_advantages(groups, self.scale_by_std)
        else:
            advantages = rloo_advantages(groups)
        targets = {"advantages": advantages.T.reshape(-1, 1) * experience.mask}
        if experience.ref_logprobs is not None:
            targets["ref_logprobs"] = experience.ref_logprobs
        return targets

    def update_loss(
        self, batch: dict[str, Tensor], targets: dict[str, Tensor], old_logprobs: Tensor
    ) -> tuple[Tensor, dict[str, Tensor]]:
        loss, metrics, logprobs = self.policy_terms(batch, targets["advantages"], old_logprobs)
        if "ref_logprobs" in targets:
            kl = masked_mean(self.kl(logprobs, targets["ref_logprobs"]), batch["response_mask"])
            loss = loss + self.kl_coef * kl
            metrics["kl_loss"] = kl.detach()
        return loss, metrics
