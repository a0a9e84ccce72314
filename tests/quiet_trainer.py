"""A Lightning Trainer for tests: CPU, no logger, no checkpoints, no progress bar, no model summary.

Importable from every test folder (pytest puts `tests/`, the folder of the root conftest, on `sys.path`).
"""

from __future__ import annotations

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
