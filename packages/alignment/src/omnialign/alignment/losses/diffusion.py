"""Diffusion objectives: denoising SFT (with optional Min-SNR weighting) and Diffusion-DPO.

Squared errors are **means over every non-batch dimension** (channels, frames, height, width), as in the
Diffusion-DPO reference training script and diffusers' examples, so β does not depend on the latent size.
They are computed in float32 even for bf16/fp16 predictions: Diffusion-DPO differences four such errors,
and the differences are far below bf16's resolution.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

import torch.nn.functional as F
from torch import Tensor

PredictionType = Literal["epsilon", "v_prediction", "sample"]


def per_example_mse(prediction: Tensor, target: Tensor) -> Tensor:
    """`mean((prediction - target)²)` over all but the first (batch) dimension, in float32: [B]."""
    errors = (prediction.float() - target.float()) ** 2
    return errors.flatten(start_dim=1).mean(dim=1)


class DiffusionSFTOutput(NamedTuple):
    losses: Tensor
    """Per-example (weighted) loss, [B]; differentiable."""
    mse: Tensor
    """Detached unweighted per-example MSE, [B]."""


def min_snr_weights(snr: Tensor, gamma: float, prediction_type: PredictionType) -> Tensor:
    """Min-SNR-γ loss weights (Hang et al. 2023, Eq. 9 and Table 1), converted to the network's target:
    `min(SNR, γ)/SNR` for ε-prediction, `min(SNR, γ)/(SNR + 1)` for v-prediction, `min(SNR, γ)` for x0.
    They stop the many low-noise timesteps, which are easy, from dominating the gradient.
    """
    clipped = snr.clamp(max=gamma)
    if prediction_type == "epsilon":
        return clipped / snr
    if prediction_type == "v_prediction":
        return clipped / (snr + 1.0)
    return clipped


def diffusion_sft_loss(
    prediction: Tensor,
    target: Tensor,
    snr: Tensor | None = None,
    min_snr_gamma: float | None = None,
    prediction_type: PredictionType = "epsilon",
) -> DiffusionSFTOutput:
    """Denoising loss (Ho et al. 2020, Eq. 14 "L_simple"; v-prediction: Salimans & Ho 2022): per-example
    MSE between the network output and its target (the noise ε, the velocity v or the clean sample,
    according to the scheduler's `prediction_type`), optionally Min-SNR weighted: pass the per-example
    `snr` of the sampled timesteps ([B]) together with `min_snr_gamma` (5 in the paper).
    """
    if (snr is None) != (min_snr_gamma is None):
        raise ValueError("Min-SNR weighting needs both `snr` and `min_snr_gamma`")
    mse = per_example_mse(prediction, target)
    losses = mse if snr is None else mse * min_snr_weights(snr.float(), min_snr_gamma, prediction_type)
    return DiffusionSFTOutput(losses, mse.detach())


class DiffusionDPOOutput(NamedTuple):
    losses: Tensor
    """Per-example loss, [B]; differentiable through the model errors only."""
    model_diffs: Tensor
    """Detached `mse_θ(x_w) - mse_θ(x_l)`, [B]: negative when the model denoises the winner better."""
    ref_diffs: Tensor
    """Detached `mse_ref(x_w) - mse_ref(x_l)`, [B]."""
    implicit_accuracies: Tensor
    """Detached float 0/1: the logit inside σ is > 0 (the model improved on the reference), [B]."""


def diffusion_dpo_loss(
    model_mse_chosen: Tensor,
    model_mse_rejected: Tensor,
    ref_mse_chosen: Tensor,
    ref_mse_rejected: Tensor,
    beta: float,
) -> DiffusionDPOOutput:
    """Diffusion-DPO (Wallace et al. 2023, Eq. 14, with ω(λ_t) = 1):
        -log σ(-β·((‖ε - ε_θ(x_w)‖² - ‖ε - ε_ref(x_w)‖²) - (‖ε - ε_θ(x_l)‖² - ‖ε - ε_ref(x_l)‖²)))
    on per-example errors from `per_example_mse` (same noise and timestep for the model and the reference,
    and for the pair). `beta` is the paper's β·T folded into one number; the reference training script
    multiplies by `-0.5·beta_dpo`, so its `--beta_dpo B` corresponds to `beta = B / 2` here. With the model
    equal to the reference the logit is 0 and every loss is exactly log 2. The reference errors get no
    gradient (detached here).
    """
    model_diffs = model_mse_chosen - model_mse_rejected
    ref_diffs = (ref_mse_chosen - ref_mse_rejected).detach()
    logits = -beta * (model_diffs - ref_diffs)
    return DiffusionDPOOutput(
        -F.logsigmoid(logits), model_diffs.detach(), ref_diffs, (logits.detach() > 0).float()
    )
