"""Diffusion SFT (with Min-SNR weights) and Diffusion-DPO."""

import math

import pytest
import torch
from torch.testing import assert_close

from omnialign.alignment.losses.diffusion import (
    diffusion_dpo_loss,
    diffusion_sft_loss,
    min_snr_weights,
    per_example_mse,
)


def test_per_example_mse_is_a_mean_over_latent_dims_in_float32():
    """Zeros against ones → 1, against twos → 4, whatever the latent shape."""
    target = torch.stack([torch.ones(4, 2, 3), 2 * torch.ones(4, 2, 3)]).bfloat16()
    mse = per_example_mse(torch.zeros_like(target), target)
    assert mse.dtype == torch.float32
    assert_close(mse, torch.tensor([1.0, 4.0]))


def test_sft_loss_without_and_with_min_snr():
    """SNR [1, 10], γ = 5: ε-prediction weights min(SNR, 5)/SNR = [1, 0.5]; v: min/(SNR + 1) = [0.5, 5/11];
    x0: [1, 5]."""
    prediction, target = torch.zeros(2, 3), torch.tensor([[1.0, 1.0, 1.0], [2.0, 2.0, 2.0]])
    snr = torch.tensor([1.0, 10.0])
    assert_close(diffusion_sft_loss(prediction, target).losses, torch.tensor([1.0, 4.0]))
    weighted = diffusion_sft_loss(prediction, target, snr=snr, min_snr_gamma=5.0)
    assert_close(weighted.losses, torch.tensor([1.0, 2.0]))
    assert_close(weighted.mse, torch.tensor([1.0, 4.0]))
    assert_close(min_snr_weights(snr, 5.0, "v_prediction"), torch.tensor([0.5, 5 / 11]))
    assert_close(min_snr_weights(snr, 5.0, "sample"), torch.tensor([1.0, 5.0]))


def test_sft_min_snr_needs_both_arguments():
    with pytest.raises(ValueError, match="both"):
        diffusion_sft_loss(torch.zeros(1, 2), torch.zeros(1, 2), snr=torch.ones(1))


def test_diffusion_dpo_is_log2_when_the_policy_is_the_reference():
    torch.manual_seed(0)
    noise = torch.randn(3, 4, 8, 8)
    pred_w, pred_l = torch.randn(3, 4, 8, 8), torch.randn(3, 4, 8, 8)
    mse_w, mse_l = per_example_mse(pred_w, noise), per_example_mse(pred_l, noise)
    out = diffusion_dpo_loss(mse_w, mse_l, mse_w, mse_l, beta=2500.0)
    assert torch.equal(out.losses, torch.full((3,), math.log(2)))
    assert_close(out.implicit_accuracies, torch.zeros(3))


def test_diffusion_dpo_hand_values():
    """Model errors (w, l) = (0.1, 0.3), reference (0.2, 0.2), β = 5: model_diff = -0.2, ref_diff = 0,
    logit = -5·(-0.2) = 1 → -log σ(1) = 0.313262, implicit accuracy 1.
    Swapped roles: -log σ(-1) = 1.313262."""
    out = diffusion_dpo_loss(
        torch.tensor([0.1, 0.3]),
        torch.tensor([0.3, 0.1]),
        torch.tensor([0.2, 0.2]),
        torch.tensor([0.2, 0.2]),
        5.0,
    )
    assert_close(out.losses, torch.tensor([0.313262, 1.313262]), atol=1e-6, rtol=0)
    assert_close(out.model_diffs, torch.tensor([-0.2, 0.2]))
    assert_close(out.ref_diffs, torch.zeros(2))
    assert_close(out.implicit_accuracies, torch.tensor([1.0, 0.0]))


def test_diffusion_dpo_gradients_reach_the_model_only():
    """Lowering the winner's error and raising the loser's both lower the loss; the reference gets nothing."""
    model_w, model_l = torch.tensor([0.2], requires_grad=True), torch.tensor([0.2], requires_grad=True)
    ref_w, ref_l = torch.tensor([0.2], requires_grad=True), torch.tensor([0.2], requires_grad=True)
    out = diffusion_dpo_loss(model_w, model_l, ref_w, ref_l, beta=10.0)
    out.losses.sum().backward()
    assert model_w.grad.item() > 0 and model_l.grad.item() < 0
    assert ref_w.grad is None and ref_l.grad is None
    assert not any(t.requires_grad for t in out[1:])
