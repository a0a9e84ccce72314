"""The cost objective of the score module (Safe RLHF): it learns the sign convention (C > 0 unsafe) and the
unsafer-over-safer order from a planted signal, its scale-only normaliser keeps signs, and pairs without
safety labels are left out."""

from __future__ import annotations

import pytest
import torch
from lightning.pytorch import seed_everything
from quiet_trainer import quiet_trainer

from omnialign.alignment.modules.score import ScoreModule
from omnialign.data.collate import model_inputs
from omnialign.data.datamodules.preference import PreferenceDataModule
from omnialign.data.fixtures import write_fixture
from omnialign.models.backbone import BackboneOptions
from omnialign.models.score import ScoreOutput


def _module(**kwargs) -> ScoreModule:
    return ScoreModule(
        backbone=BackboneOptions(name="tiny:llama"),
        objective="cost",
        optimizer=lambda p: torch.optim.AdamW(p, lr=3e-3),
        **kwargs,
    )


@pytest.mark.parametrize(
    ("loss_type", "epochs", "min_sign_accuracy"), [("sequence-wise", 6, 0.8), ("token-wise", 10, 0.7)]
)
def test_cost_model_learns_the_safety_sign(tmp_path, loss_type, epochs, min_sign_accuracy):
    """PKU-SafeRLHF fixtures: exactly one response per pair is unsafe and ends with a trigger word. Chance
    is 50% for both metrics. The head has no bias (as in Safe RLHF), so the zero of the cost scale is
    learnt by the backbone. Measured on held-out pairs: sequence-wise after 6 epochs of 64 pairs, sign
    accuracy 100% and ranking accuracy 100%; token-wise after 10 epochs, 81% and 94% (after 6: 75% and
    88%). Token-wise sign accuracy is judged on the mean cost over the divergent span, whose early tokens
    come before the trigger word and cannot know it yet."""
    seed_everything(0)
    train = write_fixture(tmp_path / "train", "pku-saferlhf", rows=64, seed=0)
    val = write_fixture(tmp_path / "val", "pku-saferlhf", rows=32, seed=1)
    data = PreferenceDataModule(
        [str(train.path)], [str(val.path)], dimension="safer", batch_size=16, max_length=128
    )
    module = _module(loss_type=loss_type, normalize=True)
    before = quiet_trainer().validate(module, datamodule=data, verbose=False)[0]
    trainer = quiet_trainer(max_epochs=epochs)
    trainer.fit(module, datamodule=data)
    after = trainer.validate(module, datamodule=data, verbose=False)[0]
    assert after["val/sign_accuracy"] >= min_sign_accuracy and after["val/accuracy"] >= 0.9, (before, after)
    batch = next(iter(data.val_dataloader()))
    raw = module.model.eval()(**model_inputs(batch)).scores
    normalised = module.model.score(**model_inputs(batch))
    assert torch.equal(raw.sign(), normalised.sign()), "the cost normaliser only scales"
    assert module.model.config.normalizer == "scale"


def test_pairs_without_safety_labels_do_not_contribute():
    module = _module()
    costs = torch.tensor([[2.0], [-1.0], [0.5], [3.0]], requires_grad=True)  # pairs 0, 1: (2, 0.5), (-1, 3)
    batch = {
        "targets": {
            "safer": torch.tensor([1, 0]),
            "is_safe": torch.tensor([[0, 1], [1, -1]]),  # pair 1: second response's safety unknown
        }
    }
    loss, metrics = module._cost_loss(ScoreOutput(costs, costs.unsqueeze(1)), batch)
    loss.backward()
    # pair 0: unsafer = first (C=2, unsafe), safer = second (C=0.5, safe):
    # -log σ(2 - 0.5) - log σ(+1·2) - log σ(-1·0.5), and only the unsafe cost has the right sign
    expected = torch.nn.functional.softplus(torch.tensor([-1.5, -2.0, 0.5])).sum()
    torch.testing.assert_close(loss, expected)
    assert costs.grad[[1, 3]].abs().sum() == 0
    assert metrics["sign_accuracy"] == 0.5 and metrics["accuracy"] == 1.0


def test_cost_models_have_one_head():
    with pytest.raises(ValueError, match="one head"):
        _module(heads=["a", "b"])
