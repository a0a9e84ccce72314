"""A tiny SFT run whose per-step losses can be compared across interruptions, processes and strategies."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch import Callback, LightningModule, Trainer, seed_everything

from omnialign.alignment.checkpoint_io import AtomicCheckpointIO
from omnialign.alignment.modules.sft import SFTModule
from omnialign.alignment.resilience import NonFiniteLossGuard, SaveOnPreemption
from omnialign.alignment.resume import ExactResume
from omnialign.data.datamodules import SFTDataModule
from omnialign.models.backbone import BackboneOptions

BATCH = 4
ROWS = 22  # 6 batches of 4 per epoch, the last one short; 2 epochs = 12 steps


def write_sft_rows(path: Path, n: int, seed: int = 0) -> Path:
    """`n` rows whose prompts and responses all tokenise to the same length, so per-rank token-mean losses
    average to the global one (the DDP equivalence relies on it)."""
    words = ["red", "blue", "green", "cat", "dog", "sun", "moon", "tree"]
    g = torch.Generator().manual_seed(seed)
    with path.open("w") as f:
        for _ in range(n):
            picked = [words[i] for i in torch.randperm(len(words), generator=g)[:3].tolist()]
            f.write(
                json.dumps({"prompt": "Reverse: " + " ".join(picked), "response": " ".join(picked[::-1])})
            )
            f.write("\n")
    return path


class NoisySFT(SFTModule):
    """SFT whose loss also draws from torch's RNG, so a resume that lost the RNG state shows in the curve."""

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        return super().training_step(batch, batch_idx) + 1e-3 * torch.rand(())


class RecordLosses(Callback):
    """Per optimiser step: (global step after it, training loss of the batch)."""

    def __init__(self) -> None:
        self.losses: list[tuple[int, float]] = []

    def on_train_batch_end(self, trainer: Trainer, pl_module: LightningModule, outputs: Any, *_: Any) -> None:
        self.losses.append((trainer.global_step, float(outputs["loss"])))


def tiny_module(module_class: type[SFTModule] = NoisySFT, **kwargs: Any) -> SFTModule:
    return module_class(
        backbone=BackboneOptions(name="tiny:llama"),
        optimizer=lambda params: torch.optim.AdamW(params, lr=3e-3),
        **kwargs,
    )


def tiny_data(train_file: Path, batch_size: int) -> SFTDataModule:
    return SFTDataModule([str(train_file)], batch_size=batch_size, max_length=64)


def tiny_trainer(root: Path, callbacks: list[Callback], **kwargs: Any) -> Trainer:
    defaults: dict[str, Any] = dict(
        accelerator="cpu",
        devices=1,
        max_epochs=2,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=root,
        num_sanity_val_steps=0,
    )
    extras: list[Callback] = [ExactResume(), SaveOnPreemption()]  # what the train app adds
    if not any(isinstance(callback, NonFiniteLossGuard) for callback in callbacks):
        extras.append(NonFiniteLossGuard())
    return Trainer(callbacks=[*callbacks, *extras], plugins=[AtomicCheckpointIO()], **{**defaults, **kwargs})


def fit_tiny(
    root: Path,
    train_file: Path,
    batch_size: int,
    callbacks: list[Callback],
    ckpt_path: str | None = None,
    module: SFTModule | None = None,
    **trainer_kwargs: Any,
) -> list[tuple[int, float]]:
    """Per-step losses of a seeded tiny SFT run (2 epochs unless `trainer_kwargs` say otherwise)."""
    seed_everything(0)
    record = RecordLosses()
    trainer = tiny_trainer(root, [record, *callbacks], **trainer_kwargs)
    module = module or tiny_module()
    trainer.fit(module, datamodule=tiny_data(train_file, batch_size), ckpt_path=ckpt_path)
    return record.losses
