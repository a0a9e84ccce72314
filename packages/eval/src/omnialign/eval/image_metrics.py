"""Distribution metrics of the images a model generated for a task: FID and KID against a folder of real
images, Inception Score, and CLIPScore of each image against the instruction that asked for it.

They complement the judge: a judge rates each answer alone, these compare the whole set of generated images
with real ones (FID/KID), measure their confidence and variety (IS), or their agreement with the prompt
(CLIPScore). Each rank feeds the metric the images of its own shard of items (and of the real folder); the
torchmetrics states synchronise in `compute()`, so image features never travel between processes.

Weights are configurable (`ImageMetricOptions`): the feature extractor is an Inception feature size (the
torch-fidelity weights) or a TorchScript file, CLIP a hub id or a local folder; the tiny fixture ships
offline stand-ins for both (`omnialign.eval.fixture_encoders`).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from omnialign.data.media import load_image
from omnialign.data.sample import MediaRef
from omnialign.eval.distributed import Shards, progress
from omnialign.eval.items import EvalItem, Response
from omnialign.eval.metrics.generation import GenerationMetricName, build_generation_metric
from omnialign.eval.results import entry
from omnialign.eval.tasks import TaskSpec

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp")
NEEDS_REAL = ("fid", "kid")


@dataclass
class ImageMetricOptions:
    """Weights and sizes for the image metrics a task asks for (`image_metrics` in the registry)."""

    features: int | str = 2048
    """FID/KID/IS feature extractor: an Inception feature size (64, 192, 768, 2048; needs torch-fidelity,
    which downloads its weights once) or a TorchScript module file (offline)."""
    clip_model: str = "openai/clip-vit-base-patch16"
    """CLIPScore's CLIP: a hub id or a local folder holding the model and its processor."""
    image_size: int = 299
    """Images are resized to this square size before the feature extractor (Inception expects 299)."""
    kid_subset_size: int = 1000
    """Images per KID subset; at most the number of generated (and real) images."""
    inception_splits: int = 10
    """Inception Score is averaged over this many splits of the generated images."""
    batch_size: int = 32
    """Images per metric update."""


@dataclass(frozen=True)
class GeneratedImage:
    pixels: Tensor
    """uint8 `[3, size, size]`."""
    caption: str
    """The instruction the image answers (CLIPScore's text)."""


def _pixels(ref: MediaRef, size: int) -> Tensor:
    image = np.asarray(load_image(ref, size=(size, size)))
    return torch.from_numpy(image.copy()).permute(2, 0, 1)


def generated_images(items: list[EvalItem], responses: list[Response], size: int) -> list[GeneratedImage]:
    """Every image part of every response, captioned with its item's prompt."""
    return [
        GeneratedImage(_pixels(part.media, size), item.prompt)
        for item, response in zip(items, responses, strict=True)
        for part in response
        if part.type == "image" and part.media is not None
    ]


def real_image_files(folder: Path) -> list[Path]:
    """The image files of `folder`, sorted by name (so ranks shard them the same way)."""
    if not folder.is_dir():
        raise ValueError(f"real-image folder {folder} does not exist")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise ValueError(f"real-image folder {folder} holds no {'/'.join(IMAGE_SUFFIXES)} files")
    return files


def _feed(metric: Any, name: str, images: list[GeneratedImage], real: list[Tensor], batch: int) -> None:
    for start in range(0, len(images), batch):
        chunk = images[start : start + batch]
        pixels = torch.stack([image.pixels for image in chunk])
        if name == "clip_score":
            metric.update(pixels, [image.caption for image in chunk])
        elif name in NEEDS_REAL:
            metric.update(pixels, real=False)
        else:
            metric.update(pixels)
    if name in NEEDS_REAL:
        for start in range(0, len(real), batch):
            metric.update(torch.stack(real[start : start + batch]), real=True)


def _shortfall(name: GenerationMetricName, fake: int, real: int, options: ImageMetricOptions) -> str | None:
    """What the metric needs that these counts lack (None when they suffice)."""
    needed = {
        "fid": (2, 2),
        "kid": (options.kid_subset_size, options.kid_subset_size),
        "inception_score": (options.inception_splits, 0),
        "clip_score": (1, 0),
    }[name]
    if fake >= needed[0] and real >= needed[1]:
        return None
    return f"{name} (needs {needed[0]} generated" + (f" and {needed[1]} real)" if needed[1] else ")")


def _value(result: Tensor | tuple[Tensor, Tensor]) -> float:
    """KID and IS return (mean, std over subsets/splits); the others a scalar."""
    return float(result[0] if isinstance(result, tuple) else result)


def image_metric_results(
    model: str,
    task: TaskSpec,
    items: list[EvalItem],
    responses: list[Response],
    data_root: Path,
    options: ImageMetricOptions,
    shards: Shards,
) -> list[dict[str, Any]]:
    """One results entry per metric the task asks for, from this rank's `items` and `responses` (every rank
    calls this: `compute()` is collective). `n` counts the generated images; a metric the counts cannot
    support is reported as null with a warning saying why, never guessed."""
    images = generated_images(items, responses, options.image_size)
    real_files = real_image_files(data_root / task.real_images) if task.real_images else []
    real = [_pixels(MediaRef("image", path=str(p)), options.image_size) for p in shards.take(real_files)]
    fake_total = shards.total(len(images))
    out, short = [], []
    for name in progress(task.image_metrics, f"{task.name}: image metrics"):
        reason = _shortfall(name, fake_total, len(real_files), options)
        value = math.nan
        if reason is None:
            metric = build_generation_metric(
                name, options.features, options.clip_model, options.kid_subset_size, options.inception_splits
            )
            _feed(metric, name, images, real, options.batch_size)
            value = _value(metric.compute())
        else:
            short.append(reason)
        out.append(entry(model, task.name, name, value, fake_total, (math.nan, math.nan), "none"))
    if short:
        counts = f"{fake_total} generated and {len(real_files)} real images"
        message = f"task '{task.name}', model '{model}': {counts} are too few for {', '.join(short)}"
        warnings.warn(f"{message}; reported as null", stacklevel=2)
    return out
