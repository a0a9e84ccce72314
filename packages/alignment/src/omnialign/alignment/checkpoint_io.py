"""Crash-safe checkpoint writes: a kill during a save never leaves a truncated file under the real name.

The checkpoint is written to a temporary file in the same folder, flushed to disk, then renamed over the
target with `os.replace`, which is atomic on POSIX filesystems: readers see either the old file or the new
one, never half of one. The temporary name ends in `.tmp`, so `--ckpt_path last` never picks it up.

Loading keeps PyTorch's `weights_only` unpickler (its default since 2.6) but admits omnialign's own option
dataclasses, which `save_hyperparameters` puts in every checkpoint: without that, Lightning cannot resume
from the checkpoints it wrote. Any other class still needs an explicit `weights_only=False`.
"""

from __future__ import annotations

import dataclasses
import importlib
import os
import tempfile
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO


def atomic_torch_save(obj: Any, path: str | os.PathLike) -> None:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            torch.save(obj, stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(tmp_name, target)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def own_option_classes(path: str | os.PathLike) -> list[type]:
    """The omnialign dataclasses a checkpoint file refers to (the option types in its hyperparameters)."""
    classes = []
    for name in torch.serialization.get_unsafe_globals_in_checkpoint(path):
        module, _, attribute = name.rpartition(".")
        if module.split(".")[0] != "omnialign":
            continue
        candidate = getattr(importlib.import_module(module), attribute, None)
        if isinstance(candidate, type) and dataclasses.is_dataclass(candidate):
            classes.append(candidate)
    return classes


class AtomicCheckpointIO(TorchCheckpointIO):
    """`TorchCheckpointIO` whose local saves go through `atomic_torch_save` and whose loads admit
    omnialign's option dataclasses."""

    def load_checkpoint(
        self, path, map_location: Any | None = None, weights_only: bool | None = None
    ) -> dict[str, Any]:
        location = {} if map_location is None else {"map_location": map_location}  # else Lightning's default
        if weights_only is False or not Path(path).is_file():
            return super().load_checkpoint(path, weights_only=weights_only, **location)
        with torch.serialization.safe_globals(own_option_classes(path)):
            return super().load_checkpoint(path, weights_only=weights_only, **location)

    def save_checkpoint(self, checkpoint: dict[str, Any], path, storage_options: Any | None = None) -> None:
        if storage_options is not None or "://" in str(path):
            super().save_checkpoint(checkpoint, path, storage_options)
            return
        atomic_torch_save(checkpoint, path)
