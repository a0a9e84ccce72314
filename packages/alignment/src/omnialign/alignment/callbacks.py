"""Callbacks every training run gets: HF-format export at the end of fit, and a plain report of where
checkpoints and exports went (users should never hunt through log folders for their model)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.utilities import rank_zero_info
from torch import nn


@contextmanager
def full_weights(strategy: Any, module: nn.Module) -> Iterator[None]:
    """Every rank enters; inside, rank 0 holds the module's full weights, so its export writes them.

    Under DeepSpeed ZeRO-3 each rank keeps a slice of every parameter (the rest are empty placeholders), and
    under FSDP a flat shard: writing `module`'s weights on rank 0 alone would save empty or partial tensors,
    or hang on a collective the other ranks never join. Any other strategy holds full weights already.
    """
    if getattr(strategy, "zero_stage_3", False):
        import deepspeed

        with deepspeed.zero.GatheredParameters(list(module.parameters()), modifier_rank=None):
            yield
    elif type(strategy).__name__ == "FSDPStrategy":
        from torch.distributed.fsdp import FullyShardedDataParallel

        with FullyShardedDataParallel.summon_full_params(
            strategy.model, writeback=False, rank0_only=True, offload_to_cpu=True
        ):
            yield
    else:
        yield


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
        with full_weights(trainer.strategy, pl_module):
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
