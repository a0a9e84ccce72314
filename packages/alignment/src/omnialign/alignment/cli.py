"""The LightningCLI every app uses: subclass mode for model and data, strict configs, atomic checkpoints.

Unknown keys are errors (jsonargparse's default, kept on purpose: a typo must not train with a default),
and the resolved config is written into the run folder by LightningCLI's SaveConfigCallback.

Every run also gets exact resume and a checkpoint on SIGTERM (always on: there is nothing to choose), and a
non-finite-loss guard configured under `nonfinite` (`--nonfinite.action=skip`).

Only `fit` and `validate` are offered: no objective defines a test or predict step, and the optimiser is an
objective's own option (`--model.init_args.optimizer`), so LightningCLI's top-level `--optimizer` and
`--lr_scheduler` (which would be handed an empty parameter list before `configure_model`) are switched off.
"""

from __future__ import annotations

import os

from jsonargparse import DefaultHelpFormatter
from lightning.pytorch import LightningDataModule, LightningModule, Trainer
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI, SaveConfigCallback

from omnialign.alignment.callbacks import run_directory
from omnialign.alignment.checkpoint_io import AtomicCheckpointIO
from omnialign.alignment.objectives import objectives_help
from omnialign.alignment.resilience import NonFiniteLossGuard, SaveOnPreemption
from omnialign.alignment.resume import ExactResume
from omnialign.alignment.tracking import (
    log_resolved_config,
    require_wandb_logger_in_sweep,
    wandb_offline_unless_logged_in,
)

ATOMIC_IO = f"{AtomicCheckpointIO.__module__}.{AtomicCheckpointIO.__name__}"
SUBCOMMANDS = ("fit", "validate")


class KeepLineBreaks(DefaultHelpFormatter):
    """Prints a subcommand's description line by line (the objectives table) instead of reflowing it."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        return "".join(indent + line for line in text.splitlines(keepends=True))


class SaveConfigBesideCheckpoints(SaveConfigCallback):
    """Writes the resolved config into the run folder, next to `checkpoints/` and `export/`, so every
    checkpoint can be traced to the exact settings that produced it. The folder is known only once the
    checkpoint callback has resolved its path, hence `on_train_start` rather than `setup`."""

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        """Nothing yet: the checkpoint folder is not resolved at setup time."""

    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if self.already_saved or not trainer.is_global_zero:
            return
        target = run_directory(trainer) / self.config_filename
        target.parent.mkdir(parents=True, exist_ok=True)
        self.parser.save(self.config, str(target), skip_none=False, overwrite=True, multifile=self.multifile)
        log_resolved_config(trainer, self.config.as_dict())
        self.already_saved = True


class OmniAlignCLI(LightningCLI):
    def __init__(self, *args, **kwargs) -> None:
        wandb_offline_unless_logged_in()
        kwargs.setdefault("model_class", LightningModule)
        kwargs.setdefault("auto_configure_optimizers", False)
        # Subcommand parsers inherit the main parser's formatter, so it is set there.
        parser_kwargs = {name: {"description": objectives_help()} for name in SUBCOMMANDS}
        kwargs.setdefault("parser_kwargs", {"formatter_class": KeepLineBreaks, **parser_kwargs})
        kwargs.setdefault("datamodule_class", LightningDataModule)
        kwargs.setdefault("subclass_mode_model", True)
        kwargs.setdefault("subclass_mode_data", True)
        kwargs.setdefault("save_config_callback", SaveConfigBesideCheckpoints)
        kwargs.setdefault("save_config_kwargs", {"overwrite": True})
        kwargs.setdefault(
            "trainer_defaults",
            {"plugins": [{"class_path": ATOMIC_IO}], "callbacks": [ExactResume(), SaveOnPreemption()]},
        )
        super().__init__(*args, **kwargs)

    @staticmethod
    def subcommands() -> dict[str, set[str]]:
        """`fit` and `validate` only: no objective has a test or predict step."""
        return {name: LightningCLI.subcommands()[name] for name in SUBCOMMANDS}

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        parser.add_lightning_class_args(NonFiniteLossGuard, "nonfinite")
        # A multi-head reward model's heads are the preference dimensions its datamodule batches, in order:
        # written once (`model.init_args.heads`), never twice. Objectives or datamodules without the
        # parameter are left alone by the link.
        parser.link_arguments("model.init_args.heads", "data.init_args.head_dimensions", apply_on="parse")

    def before_fit(self) -> None:
        """Checkpoints go to `<default_root_dir>/checkpoints` unless the recipe names a folder: one fixed
        place that `--ckpt_path last` finds again, whatever version or run id a logger gives the next run
        (W&B ids and CSV versions change per run, and Lightning's default folder follows them)."""
        require_wandb_logger_in_sweep(self.trainer)
        for callback in self.trainer.checkpoint_callbacks:
            if callback.dirpath is None:
                callback.dirpath = os.path.realpath(
                    os.path.join(self.trainer.default_root_dir, "checkpoints")
                )


def main(args: list[str] | None = None) -> OmniAlignCLI:
    """`omnialign-train` / `apps/train.py`: `fit --config <recipe>`; `args` default to the command line."""
    return OmniAlignCLI(args=args)
