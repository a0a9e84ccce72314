"""A Lightning Trainer for tests: CPU, no logger, no checkpoints, no progress bar, no model summary.

Importable from every test folder (pytest puts `tests/`, the folder of the root conftest, on `sys.path`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lightning.pytorch import Trainer

QUIET: dict[str, Any] = {
    "accelerator": "cpu",
    "logger": False,
    "enable_checkpointing": False,
    "enable_progress_bar": False,
    "enable_model_summary": False,
}


def quiet_trainer(**overrides: Any) -> Trainer:
    return Trainer(**(QUIET | overrides))


def one_step_cli(config: Path, root: Path, *overrides: str):
    """The train app's CLI on `config` for one quiet step (`fast_dev_run`), built but not run."""
    from omnialign.alignment.cli import OmniAlignCLI

    args = [
        "--config",
        str(config),
        "--trainer.fast_dev_run=1",
        "--trainer.logger=false",
        "--trainer.enable_progress_bar=false",
        "--trainer.enable_model_summary=false",
        f"--trainer.default_root_dir={root}",
        "--trainer.callbacks=[]",
    ]
    return OmniAlignCLI(args=[*args, *overrides], run=False)
