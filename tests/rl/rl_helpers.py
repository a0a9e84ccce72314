"""Shared pieces of the RL tests: prompt data and a short fit that records the per-rollout metrics."""

from __future__ import annotations

from pathlib import Path

import torch
from lightning.pytorch import Callback
from quiet_trainer import quiet_trainer

from omnialign.data.datamodules import PromptDataModule
from omnialign.data.fixtures import write_fixture


def text_prompts(tmp_path: Path, rows: int = 8, batch_size: int = 8) -> PromptDataModule:
    fixture = write_fixture(tmp_path, "align-anything/text-to-text", rows=rows, seed=0)
    return PromptDataModule([str(fixture.path)], schema="align-anything/text-to-text", batch_size=batch_size)


class History(Callback):
    """Every logged `train/...` value after each rollout step."""

    def __init__(self) -> None:
        self.rows: list[dict[str, float]] = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        metrics = trainer.callback_metrics
        self.rows.append({k: float(v) for k, v in metrics.items() if k.startswith("train/")})

    def series(self, name: str) -> list[float]:
        return [row[f"train/{name}"] for row in self.rows]


def fit(module, data, steps: int) -> History:
    history = History()
    trainer = quiet_trainer(
        max_epochs=steps,  # one batch of prompts per epoch; max_steps would count every optimiser step
        callbacks=[history],
    )
    torch.set_num_threads(2)
    trainer.fit(module, datamodule=data)
    return history
