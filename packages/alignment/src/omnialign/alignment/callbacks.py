"""Callbacks every training run gets: HF-format export at the end of fit, and a plain report of where
checkpoints and exports went (users should never hunt through log folders for their model)."""

from __future__ import annotations

from pathlib import Path

from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.utilities import rank_zero_info


def run_directory(trainer: Trainer) -> Path:
    """The folder that holds this run's checkpoints; the export goes beside them."""
    callback = trainer.checkpoint_callback
    if callback is not None and callback.dirpath is not None:
        return Path(callback.dirpath).parent
    return Path(trainer.log_dir or trainer.default_root_dir)


class ExportPretrained(Callback):
    """At the end of `fit`, write the trained policy with `save_pretrained` (model + processor)."""

    def __init__(self, dirpath: str | None = None) -> None:
        """`dirpath`: export folder; default `<run directory>/export`, next to `checkpoints/`."""
        self.dirpath = dirpath

    def target(self, trainer: Trainer) -> Path:
        """The export folder of this run."""
        return Path(self.dirpath) if self.dirpath else run_directory(trainer) / "export"

    def on_fit_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        export = getattr(pl_module, "export_pretrained", None)
        if export is None:
            raise TypeError(f"{type(pl_module).__name__} has no export_pretrained(); remove ExportPretrained")
        target = self.target(trainer)
        if trainer.is_global_zero:
            export(target)
        trainer.strategy.barrier("export_pretrained")
        callback = trainer.checkpoint_callback
        lines = [f"HF-format export: {target.resolve()}"]
        if callback is not None:
            if callback.last_model_path:
                lines.append(f"last checkpoint:  {Path(callback.last_model_path).resolve()}")
            if callback.best_model_path:
                lines.append(f"best checkpoint:  {Path(callback.best_model_path).resolve()}")
        rank_zero_info("\n".join(lines))
