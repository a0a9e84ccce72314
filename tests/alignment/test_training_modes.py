"""Each network's train/eval mode during training is chosen, not inherited from how it was loaded: with the
default `dropout: false` every network runs in eval mode (no dropout anywhere, so policy and reference
score alike); with `dropout: true` the trained policy runs in train mode and the frozen reference stays in
eval mode."""

from __future__ import annotations

from pathlib import Path

import pytest
from lightning.pytorch import Callback

from omnialign.alignment.cli import OmniAlignCLI

REPO = Path(__file__).resolve().parents[2]


class RecordModes(Callback):
    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self.modes = {name: child.training for name, child in pl_module.named_children()}


@pytest.mark.parametrize("dropout", [False, True])
def test_trained_networks_follow_dropout_and_frozen_ones_stay_in_eval(dropout, tmp_path):
    cli = OmniAlignCLI(
        args=[
            "--config",
            str(REPO / "configs/dpo/tiny-text.yaml"),
            "--trainer.fast_dev_run=1",
            "--trainer.logger=false",
            "--trainer.enable_progress_bar=false",
            "--trainer.enable_model_summary=false",
            f"--trainer.default_root_dir={tmp_path}",
            "--trainer.callbacks=[]",
            "--model.init_args.reference=frozen",
            f"--model.init_args.dropout={str(dropout).lower()}",
        ],
        run=False,
    )
    record = RecordModes()
    cli.trainer.callbacks.append(record)
    cli.trainer.fit(cli.model, cli.datamodule)
    assert record.modes["policy"] is dropout
    assert record.modes["reference"] is False
