"""Tiny diffusion models trained on the shipped data/tiny fixtures: the preferred image or video is bright,
the other dark, so a diffusion model aligned with the preference denoises bright media better than its
reference."""

from __future__ import annotations

import hashlib
from pathlib import Path

import lightning.pytorch as pl
import numpy as np
from quiet_trainer import quiet_trainer

from omnialign.alignment.modules.diffusion import DiffusionModule
from omnialign.data.datamodules.media_preference import MediaPreferenceDataModule

TINY = Path(__file__).resolve().parents[2] / "data" / "tiny"


def _folder(schema: str) -> str:
    return {"safesora/pairs": "safesora"}.get(schema, schema)


def _items(data: MediaPreferenceDataModule, split: str) -> tuple[set[str], list[str]]:
    """The prompts of a split, and the SHA-256 of every response media file (by content, not by name)."""
    samples = data._load(split, {"train": data.train_files, "val": data.val_files}[split])
    prompts = {" ".join(message.text for message in s.prompt) for s in samples}
    files = [part.media.path for s in samples for response in s.responses for part in response if part.media]
    return prompts, [hashlib.sha256(Path(path).read_bytes()).hexdigest() for path in files]


def assert_held_out(data: MediaPreferenceDataModule) -> None:
    """No validation prompt and no validation media file's content also occurs in training."""
    (train_prompts, train_media), (val_prompts, val_media) = _items(data, "train"), _items(data, "val")
    assert not train_prompts & val_prompts, "a validation prompt is also a training prompt"
    assert len(set(val_media)) == len(val_media), "two validation clips with the same content"
    assert not set(train_media) & set(val_media), "a validation media file has a training one's content"


def media_pairs(schema: str, batch_size: int = 8, **kwargs) -> MediaPreferenceDataModule:
    """Train and val pairs of an align-anything text-to-<media> subset (or SafeSora) from data/tiny."""
    folder = _folder(schema)
    name = "config-train.json.gz" if schema == "safesora/pairs" else "train.parquet"
    return MediaPreferenceDataModule(
        schema=schema,
        train_files=[str(TINY / "train" / folder / name)],
        val_files=[str(TINY / "val" / folder / name)],
        batch_size=batch_size,
        **kwargs,
    )


def fit(module: DiffusionModule, data: MediaPreferenceDataModule, epochs: int, root: Path) -> pl.Trainer:
    trainer = quiet_trainer(
        max_epochs=epochs,
        num_sanity_val_steps=0,
        default_root_dir=root,
    )
    trainer.fit(module, datamodule=data)
    return trainer


def held_out_accuracy(module: DiffusionModule, trainer: pl.Trainer, data, seeds: int) -> float:
    """Implicit preference accuracy on the val pairs, averaged over `seeds` noise draws per pair."""
    accuracies = []
    for seed in range(seeds):
        module.val_seed = 1000 * (seed + 1)
        accuracies.append(
            trainer.validate(module, datamodule=data, verbose=False)[0]["val/implicit_accuracy"]
        )
    return float(np.mean(accuracies))
