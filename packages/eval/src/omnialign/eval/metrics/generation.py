"""Generation-quality metrics torchmetrics provides (FID, KID, Inception Score, CLIPScore), built with a
configurable feature extractor, so no weights are downloaded unless asked for.

`features` is either an Inception feature size (64/192/768/2048: torchmetrics loads torch-fidelity's
Inception weights) or the path of a TorchScript module mapping uint8 images `[N, 3, H, W]` to features
`[N, D]` (a locally stored Inception, or a tiny random encoder in tests). CLIPScore takes a CLIP model id or
local folder, or a callable returning (model, processor).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import torch
from torch import Tensor, nn
from torchmetrics import Metric
from torchmetrics.image.fid import FrechetInceptionDistance
from torchmetrics.image.inception import InceptionScore
from torchmetrics.image.kid import KernelInceptionDistance
from torchmetrics.multimodal.clip_score import CLIPScore

GenerationMetricName = Literal["fid", "kid", "inception_score", "clip_score"]


class ClipFeatures(nn.Module):
    """A CLIP model whose `get_image_features`/`get_text_features` return the projected feature tensor.

    transformers 5 returns a model output from them (the projection in `pooler_output`), which torchmetrics'
    CLIPScore (1.9) cannot normalise; this wrapper hands it the tensor it expects.
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.config = model.config

    def get_image_features(self, *args: Any, **kwargs: Any) -> Tensor:
        return _tensor(self.model.get_image_features(*args, **kwargs))

    def get_text_features(self, *args: Any, **kwargs: Any) -> Tensor:
        return _tensor(self.model.get_text_features(*args, **kwargs))


def _tensor(output: Any) -> Tensor:
    return output if isinstance(output, Tensor) else output.pooler_output


def clip_loader(clip_model: str | Callable[[], tuple[nn.Module, Any]]) -> Callable[[], tuple[nn.Module, Any]]:
    """What CLIPScore calls to get (model, processor), the model wrapped in `ClipFeatures`."""

    def load() -> tuple[nn.Module, Any]:
        if callable(clip_model):
            model, processor = clip_model()
        else:
            from transformers import CLIPModel, CLIPProcessor

            model, processor = (
                CLIPModel.from_pretrained(clip_model),
                CLIPProcessor.from_pretrained(clip_model),
            )
        return ClipFeatures(model), processor

    return load


def feature_extractor(features: int | str | nn.Module) -> int | nn.Module:
    """An Inception feature size as is, a module as is, or the TorchScript module saved at a path."""
    if isinstance(features, int | nn.Module):
        return features
    return torch.jit.load(str(Path(features)), map_location="cpu").eval()


def build_generation_metric(
    name: GenerationMetricName,
    features: int | str | nn.Module = 2048,
    clip_model: str | Callable[[], tuple[nn.Module, Any]] = "openai/clip-vit-base-patch16",
    kid_subset_size: int = 1000,
    inception_splits: int = 10,
) -> Metric:
    """The named metric; `kid_subset_size` must not exceed the number of images per side, and Inception
    Score averages over `inception_splits` chunks of the generated images."""
    if name == "clip_score":
        return CLIPScore(model_name_or_path=clip_loader(clip_model))
    extractor = feature_extractor(features)
    if name == "fid":
        return FrechetInceptionDistance(feature=extractor)
    if name == "kid":
        return KernelInceptionDistance(feature=extractor, subset_size=kid_subset_size)
    if name == "inception_score":
        return InceptionScore(feature=extractor, splits=inception_splits)
    raise ValueError(f"unknown generation metric '{name}'; known: fid, kid, inception_score, clip_score")
