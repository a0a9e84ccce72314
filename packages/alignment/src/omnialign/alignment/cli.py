"""The LightningCLI every app uses: subclass mode for model and data, strict configs, atomic checkpoints.

Unknown keys are errors (jsonargparse's default, kept on purpose: a typo must not train with a default),
and the resolved config is written into the run folder by LightningCLI's SaveConfigCallback.
"""

from __future__ import annotations

import os

from lightning.pytorch import LightningDataModule, LightningModule
from lightning.pytorch.cli import LightningCLI

from omnialign.alignment.checkpoint_io import AtomicCheckpointIO


def _wandb_offline_unless_configured() -> None:
    """W&B logs offline unless the user set a key or a mode: a run must never block on a login prompt."""
    if "WANDB_API_KEY" not in os.environ and "WANDB_MODE" not in os.environ:
        os.environ["WANDB_MODE"] = "offline"


class OmniAlignCLI(LightningCLI):
    def __init__(self, *args, **kwargs) -> None:
        _wandb_offline_unless_configured()
        kwargs.setdefault("model_class", LightningModule)
        kwargs.setdefault("datamodule_class", LightningDataModule)
        kwargs.setdefault("subclass_mode_model", True)
        kwargs.setdefault("subclass_mode_data", True)
        kwargs.setdefault("save_config_kwargs", {"overwrite": True})
        kwargs.setdefault("trainer_defaults", {"plugins": [AtomicCheckpointIO()]})
        super().__init__(*args, **kwargs)


def main(args: list[str] | None = None) -> OmniAlignCLI:
    return OmniAlignCLI(args=args)
