"""FID, KID and Inception Score through `build_generation_metric` with a tiny TorchScript feature extractor
loaded from a path (the configurable-weights route), against hand-computed values."""

from __future__ import annotations

import json
import math

import pytest
import torch
from torch import Tensor, nn
from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor, CLIPTokenizer

from omnialign.eval.metrics import build_generation_metric


class ChannelMeans(nn.Module):
    """Features = per-channel mean pixel value, so the feature statistics can be worked out by hand."""

    num_features: int = 3

    def forward(self, images: Tensor) -> Tensor:
        return images.float().mean(dim=(2, 3))


class SharpLogits(nn.Module):
    """Logits that put all mass on class 0 for dark images and on class 1 for bright ones."""

    num_features: int = 2

    def forward(self, images: Tensor) -> Tensor:
        bright = (images.float().mean(dim=(1, 2, 3)) > 127).float()
        return torch.stack([1 - bright, bright], dim=1) * 100.0


def _images(*colours: tuple[int, int, int]) -> Tensor:
    return torch.tensor(colours, dtype=torch.uint8)[:, :, None, None].expand(-1, -1, 8, 8).contiguous()


@pytest.fixture
def channel_means_path(tmp_path):
    path = tmp_path / "features.pt"
    torch.jit.script(ChannelMeans()).save(str(path))
    return str(path)


def test_fid_from_a_feature_extractor_path(channel_means_path):
    """Real features (10,20,30), (30,20,30): mean (20,20,30), covariance diag(200, 0, 0). Fake (40,20,30),
    (60,20,30): mean (50,20,30), same covariance. FID = |Δμ|² + Tr(S₁ + S₂ − 2√(S₁S₂)) = 30² + 0 = 900."""
    fid = build_generation_metric("fid", features=channel_means_path)
    fid.update(_images((10, 20, 30), (30, 20, 30)), real=True)
    fid.update(_images((40, 20, 30), (60, 20, 30)), real=False)
    assert fid.compute().item() == pytest.approx(900.0, rel=1e-4)


def test_inception_score_of_two_confident_classes():
    """p(y|x) is one-hot, half the images per class: p(y) = (½, ½), KL = log 2 per image, IS = 2."""
    score = build_generation_metric("inception_score", features=SharpLogits(), inception_splits=1)
    score.update(_images((0, 0, 0), (255, 255, 255), (10, 10, 10), (250, 250, 250)))
    mean, _ = score.compute()
    assert mean.item() == pytest.approx(2.0, rel=1e-4)


def test_kid_is_larger_for_a_shifted_set(channel_means_path):
    """KID is an unbiased MMD estimate: near 0 for two draws of the same colours, large for shifted ones."""
    same = build_generation_metric("kid", features=channel_means_path, kid_subset_size=3)
    shifted = build_generation_metric("kid", features=channel_means_path, kid_subset_size=3)
    real = _images((10, 20, 30), (30, 20, 30), (20, 20, 30), (15, 25, 30))
    same.update(real, real=True)
    same.update(real, real=False)
    shifted.update(real, real=True)
    shifted.update(_images((110, 20, 30), (130, 20, 30), (120, 20, 30), (115, 25, 30)), real=False)
    near, _ = same.compute()
    far, _ = shifted.compute()
    assert abs(near.item()) < 1e-3 * far.item() and math.isfinite(far.item())


def _tiny_clip(tmp_path):
    """A random 1-layer CLIP and a 5-word tokenizer, built offline."""
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1, "a</w>": 2, "cat</w>": 3, "dog</w>": 4}
    (tmp_path / "vocab.json").write_text(json.dumps(vocab))
    (tmp_path / "merges.txt").write_text("#version: 0.2\n")
    tokenizer = CLIPTokenizer(str(tmp_path / "vocab.json"), str(tmp_path / "merges.txt"))
    layers = {"hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2}
    text = {**layers, "vocab_size": 5, "max_position_embeddings": 16, "bos_token_id": 0, "eos_token_id": 1}
    config = CLIPConfig(
        text_config={**text, "pad_token_id": 1},
        vision_config={**layers, "image_size": 32, "patch_size": 8},
        projection_dim=8,
    )
    torch.manual_seed(0)
    images = CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    return CLIPModel(config).eval(), CLIPProcessor(image_processor=images, tokenizer=tokenizer)


def test_clip_score_is_100_times_the_clamped_cosine(tmp_path):
    """CLIPScore = mean over pairs of 100 · max(cos(image features, text features), 0), recomputed here from
    the tiny model's own projected features."""
    model, processor = _tiny_clip(tmp_path)
    metric = build_generation_metric("clip_score", clip_model=lambda: (model, processor))
    images = torch.randint(
        0, 256, (2, 3, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(1)
    )
    captions = ["a cat", "a dog"]
    metric.update(images, captions)
    with torch.no_grad():
        pixels = processor(images=list(images), return_tensors="pt")["pixel_values"]
        tokens = processor(text=captions, return_tensors="pt", padding=True)
        image_features = model.get_image_features(pixel_values=pixels).pooler_output
        text_features = model.get_text_features(**tokens).pooler_output
    cosine = torch.nn.functional.cosine_similarity(image_features, text_features)
    assert (cosine > 0).any()  # otherwise the check below would compare 0 with 0
    assert metric.compute().item() == pytest.approx((100 * cosine.clamp_min(0)).mean().item(), rel=1e-4)
