"""Diffusion SFT and Diffusion-DPO for any diffusion model `omnialign.models.diffusion` builds (text→image,
text→video, text→audio) through one module, in latent space through the model's frozen VAE.

- `sft`: the denoising loss on the preferred response of each pair (the paper's "SFT on winners" baseline),
  ε- or v-prediction as the scheduler says, optionally Min-SNR weighted.
- `dpo`: Diffusion-DPO (Wallace et al. 2023). Each pair's two latents get the *same* noise and timestep, and
  the reference sees exactly what the model sees, so the loss compares errors on equal footing. The
  reference denoiser is a frozen copy (`frozen`, never checkpointed) or the trained denoiser with its LoRA
  adapters disabled (`adapters`, no second copy in memory).

Validation draws its noise, timesteps and VAE samples from a `torch.Generator` seeded by the batch index, so
validation metrics of different checkpoints are computed on the same noised latents.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Literal, NamedTuple

import torch
from lightning.pytorch.cli import OptimizerCallable
from torch import Tensor, nn

from omnialign.alignment.losses.diffusion import diffusion_dpo_loss, diffusion_sft_loss, per_example_mse
from omnialign.alignment.modules.base import AlignmentModule, _adamw
from omnialign.alignment.ops import pair_by_winner
from omnialign.alignment.optim import ScheduleOptions
from omnialign.alignment.reference import REFERENCE_PREFIX, ReferencePolicy, ReferenceSource, drop_rebuilt
from omnialign.models.diffusion import DiffusionModel, DiffusionOptions, build_diffusion_model, load_tokenizer

Objective = Literal["sft", "dpo"]
# Weights rebuilt from the diffusion model's source on load: kept out of Lightning checkpoints.
REBUILT_PREFIXES = (REFERENCE_PREFIX, "diffusion.vae.", "diffusion.text_encoder.", "diffusion.vocoder.")


class NoisedBatch(NamedTuple):
    """A batch's latents noised for one denoising step, `[N, ...]`."""

    noisy: Tensor
    timesteps: Tensor
    target: Tensor
    """What the denoiser predicts: the noise (ε-prediction) or the velocity (v-prediction)."""
    condition: dict[str, Tensor | None]
    """The denoiser's text-conditioning keyword arguments."""
    snr: Tensor
    """Signal-to-noise ratio of each timestep, for Min-SNR weighting."""


def _repeat(condition: dict[str, Tensor | None], times: int) -> dict[str, Tensor | None]:
    return {k: None if v is None else v.repeat(times, *([1] * (v.dim() - 1))) for k, v in condition.items()}


class DiffusionModule(AlignmentModule):
    def __init__(
        self,
        diffusion: DiffusionOptions | None = None,
        objective: Objective = "dpo",
        beta: float = 2500.0,
        reference: ReferenceSource = "frozen",
        reference_dtype: str | None = None,
        min_snr_gamma: float | None = None,
        val_seed: int = 0,
        optimizer: OptimizerCallable = _adamw,
        schedule: ScheduleOptions | None = None,
    ) -> None:
        """
        Args:
            diffusion: Which diffusion model to train (hub id / tiny name, optional LoRA).
            objective: `sft` (denoising loss on the preferred media) or `dpo` (Diffusion-DPO).
            beta: Diffusion-DPO's β·T as one number (the reference script's `--beta_dpo 5000` is 2500 here).
            reference: `frozen` copy of the denoiser, or `adapters` (the denoiser with LoRA disabled; needs
                `diffusion.lora`).
            reference_dtype: Parameter dtype of a `frozen` reference denoiser (float32, bfloat16, float16);
                None: the denoiser's own.
            min_snr_gamma: Min-SNR-γ weighting of the SFT loss (5 in the paper); None for plain MSE.
            val_seed: Seed of validation noise (batch `i` uses `val_seed + i`).
        """
        self.diffusion_options = diffusion or DiffusionOptions()
        super().__init__(optimizer=optimizer, schedule=schedule)
        self.reference_policy = ReferencePolicy(reference, reference_dtype)
        self.reference_policy.check(has_lora=self.diffusion_options.lora is not None)
        self.objective = objective
        self.beta = beta
        self.min_snr_gamma = min_snr_gamma
        self.val_seed = val_seed
        self.diffusion: DiffusionModel | None = None
        self.reference: nn.Module | None = None
        self.strict_loading = False  # rebuilt weights (REBUILT_PREFIXES) are not checkpointed
        self.save_hyperparameters(ignore=["optimizer"])

    def build_processor(self):
        return load_tokenizer(self.diffusion_options)

    def configure_model(self) -> None:
        if self.diffusion is not None:
            return
        self.diffusion = build_diffusion_model(self.diffusion_options)
        if self.objective == "dpo":
            self.reference = self.reference_policy.frozen_copy(lambda: copy.deepcopy(self.diffusion.unet))

    # -- noising -------------------------------------------------------------------------------------
    def noised(
        self, media: Tensor, input_ids: Tensor, mask: Tensor, rng: torch.Generator | None
    ) -> NoisedBatch:
        """Latents of `media` `[G·B, ...]` (G groups of B, e.g. first and second responses) noised with one
        noise draw and timestep per prompt, shared across the G groups."""
        diffusion = self.diffusion
        latents = diffusion.encode_media(media, rng)
        groups = latents.shape[0] // input_ids.shape[0]
        shape = (input_ids.shape[0], *latents.shape[1:])
        noise = torch.randn(shape, generator=rng, device=rng.device if rng else None).to(latents)
        steps = diffusion.scheduler.config.num_train_timesteps
        timesteps = torch.randint(0, steps, shape[:1], generator=rng, device=noise.device).to(latents.device)
        noise, timesteps = noise.repeat(groups, *([1] * (noise.dim() - 1))), timesteps.repeat(groups)
        scheduler = diffusion.scheduler
        noisy = scheduler.add_noise(latents, noise, timesteps)
        if scheduler.config.prediction_type == "v_prediction":
            target = scheduler.get_velocity(latents, noise, timesteps)
        else:
            target = noise
        alphas = scheduler.alphas_cumprod.to(latents.device)[timesteps]
        condition = _repeat(diffusion.condition(input_ids, mask), groups)
        return NoisedBatch(noisy, timesteps, target, condition, alphas / (1 - alphas))

    def _rng(self, split: str, batch_idx: int) -> torch.Generator | None:
        if split == "train":
            return None
        return torch.Generator(device=self.device).manual_seed(self.val_seed + batch_idx)

    @staticmethod
    def denoising_errors(unet: nn.Module, noised: NoisedBatch) -> Tensor:
        prediction = unet(noised.noisy, noised.timesteps, **noised.condition).sample
        return per_example_mse(prediction, noised.target)

    def reference_errors(self, noised: NoisedBatch) -> Tensor:
        with self.reference_policy.network(self.reference, self.diffusion.unet) as reference:
            return self.denoising_errors(reference, noised)

    # -- objectives ----------------------------------------------------------------------------------
    def _sft_loss(self, batch: dict, rng: torch.Generator | None) -> tuple[Tensor, dict[str, Tensor]]:
        media, _ = pair_by_winner(batch["media"], batch["targets"]["chosen"])
        noised = self.noised(media, batch["input_ids"], batch["attention_mask"], rng)
        prediction = self.diffusion.unet(noised.noisy, noised.timesteps, **noised.condition).sample
        weighted = self.min_snr_gamma is not None
        out = diffusion_sft_loss(
            prediction,
            noised.target,
            noised.snr if weighted else None,
            self.min_snr_gamma,
            self.diffusion.scheduler.config.prediction_type,
        )
        return out.losses.mean(), {"mse": out.mse}

    def _dpo_loss(self, batch: dict, rng: torch.Generator | None) -> tuple[Tensor, dict[str, Tensor]]:
        chosen = batch["targets"]["chosen"]
        noised = self.noised(batch["media"], batch["input_ids"], batch["attention_mask"], rng)
        model_w, model_l = pair_by_winner(self.denoising_errors(self.diffusion.unet, noised), chosen)
        ref_w, ref_l = pair_by_winner(self.reference_errors(noised), chosen)
        out = diffusion_dpo_loss(model_w, model_l, ref_w, ref_l, self.beta)
        metrics = {
            "implicit_accuracy": out.implicit_accuracies,
            "model_diff": out.model_diffs,
            "ref_diff": out.ref_diffs,
            "mse_chosen": model_w.detach(),
            "mse_rejected": model_l.detach(),
        }
        return out.losses.mean(), metrics

    def loss(self, batch: dict, split: str, batch_idx: int) -> tuple[Tensor, dict[str, Tensor]]:
        rng = self._rng(split, batch_idx)
        if self.objective == "sft":
            return self._sft_loss(batch, rng)
        return self._dpo_loss(batch, rng)

    def training_step(self, batch: dict, batch_idx: int) -> Tensor:
        loss, metrics = self.loss(batch, "train", batch_idx)
        self.log_metrics("train", {"loss": loss, **metrics}, batch["input_ids"].shape[0])
        return loss

    def validation_step(self, batch: dict, batch_idx: int) -> Tensor:
        loss, metrics = self.loss(batch, "val", batch_idx)
        self.log_metrics("val", {"loss": loss, **metrics}, batch["input_ids"].shape[0])
        return loss

    # -- checkpoints and export ----------------------------------------------------------------------
    def on_save_checkpoint(self, checkpoint: dict) -> None:
        drop_rebuilt(checkpoint["state_dict"], REBUILT_PREFIXES)

    def export_pretrained(self, directory: str | Path) -> Path:
        """A diffusers pipeline folder of the model's pipeline class, trained denoiser in it (LoRA fused)."""
        if self.diffusion is None:
            raise RuntimeError("the diffusion model has not been built yet (configure_model was not called)")
        return self.diffusion.save_pipeline(directory)
