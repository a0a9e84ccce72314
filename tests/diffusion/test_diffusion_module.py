"""Diffusion SFT / Diffusion-DPO through `DiffusionModule` on tiny diffusion models and the data/tiny
fixtures."""

from __future__ import annotations

import math
from functools import partial

import lightning.pytorch as pl
import numpy as np
import pytest
import torch
from diffusers import DiffusionPipeline
from diffusion_helpers import assert_held_out, fit, held_out_accuracy, media_pairs

from omnialign.alignment.modules.diffusion import DiffusionModule
from omnialign.models.diffusion import DiffusionLoraOptions, DiffusionOptions

SCHEMAS = {
    "tiny:text-to-image": "align-anything/text-to-image",
    "tiny:text-to-video": "align-anything/text-to-video",
    "tiny:text-to-audio": "align-anything/text-to-audio",
}


def first_batch(module: DiffusionModule, schema: str, **kwargs) -> dict:
    data = media_pairs(schema, batch_size=4, **kwargs)
    data.attach_processor(module.processor)
    data.setup("fit")
    return next(iter(data.train_dataloader()))


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_dpo_at_reference_is_log_two(name):
    """Before any update the policy is the reference, so every pair's logit is 0 and the loss log 2 (up to
    float32 rounding: with grad enabled, attention may take another kernel than the no-grad reference,
    and β = 2500 magnifies a 1e-8 error difference to a 1e-4 logit)."""
    module = DiffusionModule(DiffusionOptions(name=name))
    module.configure_model()
    module.train()  # the denoiser in training mode, the reference frozen in eval mode, as in a fit
    loss, metrics = module.loss(first_batch(module, SCHEMAS[name]), "val", 0)
    assert loss.item() == pytest.approx(math.log(2), abs=1e-3)
    torch.testing.assert_close(metrics["model_diff"], metrics["ref_diff"], rtol=0, atol=1e-6)


def test_lora_disabled_reference_is_the_base_denoiser():
    """LoRA starts as a no-op: the adapters-off reference equals the model, loss log 2; after one update the
    model moves and the reference does not."""
    options = DiffusionOptions(name="tiny:text-to-image", lora=DiffusionLoraOptions(r=4))
    module = DiffusionModule(options, reference="adapters")
    module.configure_model()
    batch = first_batch(module, "align-anything/text-to-image")
    loss, metrics = module.loss(batch, "val", 0)
    assert loss.item() == pytest.approx(math.log(2), abs=1e-6)
    trainable = [p for p in module.parameters() if p.requires_grad]
    assert trainable and all("lora" in n for n, p in module.named_parameters() if p.requires_grad)
    with torch.no_grad():
        for p in trainable:
            p.add_(0.05 * torch.randn_like(p))
    _, moved = module.loss(batch, "val", 0)
    assert torch.equal(moved["ref_diff"], metrics["ref_diff"])
    assert not torch.equal(moved["model_diff"], metrics["model_diff"])


def test_validation_noise_is_reproducible_and_shared_by_the_pair():
    module = DiffusionModule(DiffusionOptions(name="tiny:text-to-image"))
    module.configure_model()
    batch = first_batch(module, "align-anything/text-to-image")
    first = module.noised(batch["media"], batch["input_ids"], batch["attention_mask"], module._rng("val", 3))
    again = module.noised(batch["media"], batch["input_ids"], batch["attention_mask"], module._rng("val", 3))
    assert torch.equal(first.noisy, again.noisy)
    half = batch["input_ids"].shape[0]
    assert torch.equal(first.timesteps[:half], first.timesteps[half:])
    assert torch.equal(first.target[:half], first.target[half:])  # ε is the target: same noise on the pair


def test_sft_trains_on_the_preferred_media_only():
    module = DiffusionModule(DiffusionOptions(name="tiny:text-to-image"), objective="sft", min_snr_gamma=5.0)
    module.configure_model()
    assert module.reference is None
    batch = first_batch(module, "align-anything/text-to-image")
    loss, metrics = module.loss(batch, "val", 0)
    assert metrics["mse"].shape == (batch["input_ids"].shape[0],)
    loss.backward()
    assert module.diffusion.unet.conv_in.weight.grad is not None
    assert module.diffusion.vae.encoder.conv_in.weight.grad is None


@pytest.mark.slow
@pytest.mark.parametrize(
    "name, epochs",
    [("tiny:text-to-image", 12), ("tiny:text-to-video", 12)],
)
def test_dpo_learns_the_planted_brightness_preference(name, epochs, tmp_path):
    """Preferred media are bright, dispreferred dark: after Diffusion-DPO the model denoises held-out bright
    media better than the reference does, relative to dark ones (accuracy 0 before training, since every
    logit is exactly 0), and the exported pipeline generates media of the trained shape."""
    pl.seed_everything(0)
    module = DiffusionModule(
        DiffusionOptions(name=name),
        beta=50.0,
        optimizer=partial(torch.optim.AdamW, lr=3e-3, weight_decay=0.0),
    )
    data = media_pairs(SCHEMAS[name], num_frames=4)
    assert_held_out(data)
    trainer = fit(module, data, epochs, tmp_path)
    accuracy = held_out_accuracy(module, trainer, data, seeds=3)
    print(f"{name}: held-out implicit accuracy {accuracy:.3f}")
    assert accuracy > 0.6

    pipe = DiffusionPipeline.from_pretrained(module.export_pretrained(tmp_path / "export"))
    if name.endswith("video"):
        out = pipe("a bright cat", num_inference_steps=2, height=16, width=16, num_frames=4, output_type="np")
        assert np.asarray(out.frames).shape == (1, 4, 16, 16, 3)
    else:
        out = pipe("a bright cat", num_inference_steps=2, height=16, width=16, output_type="np")
        assert out.images.shape == (1, 16, 16, 3)
