"""Each network's mode during training is chosen, not inherited from how it was loaded: the trained policy
runs in train mode (transformers runs gradient checkpointing only in train mode), with its dropout zeroed
unless `dropout: true`; the frozen reference runs in eval mode. Gradients are freed right after each
optimiser step."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from lightning.pytorch import Callback
from quiet_trainer import one_step_cli

from omnialign.alignment.modules.base import disable_dropout

REPO = Path(__file__).resolve().parents[2]


class Record(Callback):
    """Modes at the first step, and which gradients are still held after it."""

    def __init__(self) -> None:
        self.grads_after_step: list[bool] = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self.modes = {name: child.training for name, child in pl_module.named_children()}

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.grads_after_step = [p.grad is not None for p in pl_module.policy.parameters()]


def fit_one_step(tmp_path, *overrides: str, callbacks: list[Callback] = ()) -> Record:
    cli = one_step_cli(
        REPO / "configs/dpo/tiny-text.yaml", tmp_path, "--model.init_args.reference=frozen", *overrides
    )
    record = Record()
    cli.trainer.callbacks.extend([record, *callbacks])
    cli.trainer.fit(cli.model, cli.datamodule)
    return record


@pytest.mark.parametrize("dropout", [False, True])
def test_the_policy_trains_in_train_mode_and_the_reference_stays_in_eval(dropout, tmp_path):
    record = fit_one_step(tmp_path, f"--model.init_args.dropout={str(dropout).lower()}")
    assert record.modes["policy"] is True
    assert record.modes["reference"] is False
    assert not any(record.grads_after_step)  # freed after the step, not kept until the next forward


def test_disable_dropout_zeroes_modules_and_attention_rates():
    class Attention(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.attention_dropout = 0.1
            self.drop = torch.nn.Dropout(0.3)

    network = torch.nn.Sequential(Attention(), torch.nn.Dropout2d(0.2))
    disable_dropout(network)
    assert network[0].attention_dropout == 0.0 and network[0].drop.p == 0.0 and network[1].p == 0.0


class CountLayerRuns(Callback):
    """How often the policy's first decoder layer's MLP runs in the forward and in the backward of step 1."""

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self.runs = {"forward": 0, "backward": 0, "after": 0}
        self.phase = "forward"
        mlp = pl_module.policy.model.layers[0].mlp
        original = mlp.forward

        def counted(*args, **kwargs):
            self.runs[self.phase] += 1
            return original(*args, **kwargs)

        mlp.forward = counted

    def on_before_backward(self, trainer, pl_module, loss) -> None:
        self.phase = "backward"

    def on_after_backward(self, trainer, pl_module) -> None:
        self.phase = "after"  # validation runs follow


@pytest.mark.parametrize("checkpointing", [False, True])
def test_activation_checkpointing_recomputes_layers_in_the_backward(checkpointing, tmp_path):
    """With `gradient_checkpointing: true` the trained policy's layers run again during the backward (their
    activations were not kept); without it they run once, in the forward. This holds only in train mode,
    which a pretrained backbone is not in after loading (see the module docstring)."""
    counter = CountLayerRuns()
    fit_one_step(
        tmp_path,
        f"--model.init_args.backbone.gradient_checkpointing={str(checkpointing).lower()}",
        callbacks=[counter],
    )
    assert counter.runs["forward"] >= 1
    assert counter.runs["backward"] == (counter.runs["forward"] if checkpointing else 0)
