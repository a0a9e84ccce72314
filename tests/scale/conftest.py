"""The uninterrupted reference run the resume and crash tests compare against (built once per session)."""

from __future__ import annotations

import pytest
from lightning.pytorch.callbacks import ModelCheckpoint
from scale_helpers import BATCH, ROWS, fit_tiny, write_sft_rows


@pytest.fixture(scope="session")
def uninterrupted(tmp_path_factory):
    """(folder, train file, per-step losses), with a checkpoint `ckpt/step=N.ckpt` after every step."""
    root = tmp_path_factory.mktemp("full")
    train = write_sft_rows(root / "train.jsonl", ROWS)
    every_step = ModelCheckpoint(
        dirpath=root / "ckpt", filename="{step}", every_n_train_steps=1, save_top_k=-1
    )
    return root, train, fit_tiny(root, train, BATCH, [every_step])
