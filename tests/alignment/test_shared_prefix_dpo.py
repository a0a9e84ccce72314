"""The DPO family on shared-prefix batches (`shared_prefix: true`): the same losses and policy gradients as
on padded batches, a one-step fit through the train CLI with precomputed and frozen references, and the
objectives that cannot take such batches refusing them before the first step."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from lightning.pytorch import Callback
from quiet_trainer import one_step_cli

from omnialign.alignment.cli import OmniAlignCLI
from omnialign.alignment.modules.dpo import DPOModule
from omnialign.data.collate import PREDICTOR_IDS
from omnialign.data.datamodules.preference import PreferenceDataModule
from omnialign.data.fixtures import write_fixture
from omnialign.models.backbone import BackboneOptions, LoraOptions

REPO = Path(__file__).resolve().parents[2]
FORMAT = "align-anything/text-to-text"


def _batch(module: DPOModule, train: str, shared_prefix: bool) -> dict:
    data = PreferenceDataModule([train], schema=FORMAT, batch_size=4, shared_prefix=shared_prefix)
    data.attach_processor(module.processor)
    data.setup("fit")
    return next(iter(data.reference_dataloader("train")))


@pytest.mark.parametrize("loss", ["sigmoid", "simpo", "orpo"])
def test_loss_and_policy_gradients_match_the_padded_batch(tmp_path, loss):
    train = str(write_fixture(tmp_path, FORMAT, rows=4, seed=0).path)
    module = DPOModule(backbone=BackboneOptions(name="tiny:llama", seed=3), loss=loss, reference="frozen")
    module.configure_model()
    with torch.no_grad():  # move the policy off the reference, so the log-ratios are not all zero
        for param in module.policy.parameters():
            param.add_(0.05 * torch.randn_like(param))
    padded, shared = (_batch(module, train, flag) for flag in (False, True))
    assert shared["input_ids"].shape[0] == 1 and shared["input_ids"].numel() < padded["attention_mask"].sum()
    results = []
    for batch in (padded, shared):
        module.policy.zero_grad()
        value, metrics = module._loss(batch, "train")
        value.backward()
        grads = [p.grad.clone() for p in module.policy.parameters()]
        results.append((value.detach(), metrics, grads))
    (loss_padded, metrics_padded, grads_padded), (loss_shared, metrics_shared, grads_shared) = results
    torch.testing.assert_close(loss_shared, loss_padded, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(metrics_shared["rewards/margins"], metrics_padded["rewards/margins"])
    for shared_grad, padded_grad in zip(grads_shared, grads_padded, strict=True):
        torch.testing.assert_close(shared_grad, padded_grad, rtol=1e-4, atol=1e-6)
    assert loss_padded.item() != pytest.approx(math.log(2), abs=1e-4)  # a real margin was compared


def test_adapters_reference_on_shared_prefix(tmp_path):
    """The `adapters` reference (the policy with its LoRA adapters off) scores a shared-prefix batch as it
    scores the padded one, in the same sequence order."""
    train = str(write_fixture(tmp_path, FORMAT, rows=4, seed=0).path)
    lora = BackboneOptions(name="tiny:llama", lora=LoraOptions(r=4))
    module = DPOModule(backbone=lora, reference="adapters")
    module.configure_model()
    with torch.no_grad():
        for name, param in module.policy.named_parameters():
            if "lora_B" in name:
                param.add_(0.1)  # adapters now change the policy
    padded, shared = (_batch(module, train, flag) for flag in (False, True))
    torch.testing.assert_close(
        module.reference_logps(shared, "train"), module.reference_logps(padded, "train"), rtol=1e-5, atol=1e-5
    )
    policy = [module.response_logprobs(module.policy, b)[0] for b in (shared, padded)]
    torch.testing.assert_close(*policy, rtol=1e-5, atol=1e-5)
    assert not torch.allclose(policy[0], module.reference_logps(shared, "train"))


class FirstStep(Callback):
    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.keys, self.loss = set(batch), float(outputs["loss"])


def _cli(tmp_path, config: str, *overrides: str) -> OmniAlignCLI:
    return one_step_cli(REPO / config, tmp_path, "--data.init_args.shared_prefix=true", *overrides)


@pytest.mark.parametrize("reference", ["precomputed", "frozen"])
def test_one_step_fit_through_the_cli(tmp_path, reference):
    """At the first step the policy still equals its reference, so every log-ratio is 0 and the DPO loss is
    exactly log 2: the reference (cached from shared-prefix batches, or a frozen copy run on them) and the
    policy agree token for token."""
    cli = _cli(tmp_path, "configs/dpo/tiny-text.yaml", f"--model.init_args.reference={reference}")
    step = FirstStep()
    cli.trainer.callbacks.append(step)
    cli.trainer.fit(cli.model, cli.datamodule)
    assert PREDICTOR_IDS in step.keys and "attention_mask" not in step.keys
    assert step.loss == pytest.approx(math.log(2), abs=1e-5)


@pytest.mark.parametrize(
    "config,overrides,match",
    [
        (
            "configs/dpo/tiny-text.yaml",
            ["--model.init_args.loss=kto", "--model.init_args.reference=frozen"],
            "KTO's KL term .* set shared_prefix: false",
        ),
    ],
)
def test_objectives_that_cannot_take_shared_prefix_refuse_it(tmp_path, config, overrides, match):
    cli = _cli(tmp_path, config, *overrides)
    with pytest.raises(ValueError, match=match):
        cli.trainer.fit(cli.model, cli.datamodule)
