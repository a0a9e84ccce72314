"""The DPO module: response-only log-probs, one loss whatever the reference source, and learning a planted
preference."""

from __future__ import annotations

import inspect
from typing import get_args

import pytest
import torch
from lightning.pytorch import seed_everything
from quiet_trainer import quiet_trainer

from omnialign.alignment.losses.preference import PREFERENCE_LOSSES, orpo_loss
from omnialign.alignment.modules.dpo import DPOLoss, DPOModule
from omnialign.data.datamodules.preference import PreferenceDataModule
from omnialign.data.fixtures import write_fixture
from omnialign.models.backbone import BackboneOptions, LoraOptions

FORMAT = "align-anything/text-to-text"


def _data(tmp_path, rows: int = 8, val_rows: int = 0, fmt: str = FORMAT, **kwargs) -> PreferenceDataModule:
    train = write_fixture(tmp_path / "train", fmt, rows=rows, seed=0)
    val = [str(write_fixture(tmp_path / "val", fmt, rows=val_rows, seed=1).path)] if val_rows else None
    return PreferenceDataModule([str(train.path)], val, schema=fmt, **kwargs)


def _first_batch(module: DPOModule, data: PreferenceDataModule) -> dict:
    data.attach_processor(module.processor)
    data.setup("fit")
    return next(iter(data.reference_dataloader("train")))


def test_response_logprobs_count_response_tokens_only(tmp_path):
    module = DPOModule(backbone=BackboneOptions(name="tiny:llama"))
    module.configure_model()
    batch = _first_batch(module, _data(tmp_path))
    sums, counts = module.response_logprobs(module.policy, batch)
    logits = module.policy(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    logp = torch.log_softmax(logits, dim=-1)
    for row in range(batch["input_ids"].shape[0]):
        ids, mask = batch["input_ids"][row], batch["response_mask"][row]
        direct = sum(logp[row, t - 1, ids[t]] for t in range(1, len(ids)) if mask[t])
        torch.testing.assert_close(sums[row], direct, rtol=1e-5, atol=1e-5)
        assert counts[row] == mask.sum()
        scored = module.processor.decode(ids[mask.bool()])
        assert scored.endswith("<|im_end|>\n") and "<|im_start|>" not in scored and "user" not in scored


def test_precomputed_and_live_reference_give_the_same_loss(tmp_path):
    data = _data(tmp_path, rows=6)
    live = DPOModule(backbone=BackboneOptions(name="tiny:llama", seed=5), reference="frozen")
    cached = DPOModule(backbone=BackboneOptions(name="tiny:llama", seed=5), reference="precomputed")
    for module in (live, cached):
        module.configure_model()
    batch = _first_batch(cached, data)
    cached.reference_cache["train"] = cached.precompute_reference(data.reference_dataloader("train"), 6)
    with torch.no_grad():  # perturb the policies identically, so the reference term is not trivially equal
        for a, b in zip(live.policy.parameters(), cached.policy.parameters(), strict=True):
            noise = 0.05 * torch.randn_like(a)
            a.add_(noise), b.add_(noise)
    loss_live, metrics_live = live._loss(batch, "train")
    loss_cached, metrics_cached = cached._loss(batch, "train")
    torch.testing.assert_close(loss_cached, loss_live)
    torch.testing.assert_close(metrics_cached["rewards/margins"], metrics_live["rewards/margins"])
    assert loss_live.item() != pytest.approx(torch.log(torch.tensor(2.0)).item(), abs=1e-4)


def test_lora_reference_is_the_adapter_free_policy(tmp_path):
    lora = DPOModule(backbone=BackboneOptions(name="tiny:llama", lora=LoraOptions(r=4)), reference="adapters")
    lora.configure_model()
    batch = _first_batch(lora, _data(tmp_path, rows=4))
    with torch.no_grad():
        for name, param in lora.policy.named_parameters():
            if "lora_B" in name:
                param.add_(0.1)  # adapters now change the policy
    with lora.policy.disable_adapter():
        base = lora.response_logprobs(lora.policy, batch)[0]
    torch.testing.assert_close(lora.reference_logps(batch, "train"), base)
    assert not torch.allclose(lora.response_logprobs(lora.policy, batch)[0], base)


@pytest.mark.parametrize(
    "fmt,backbone,loss,reference",
    [
        (FORMAT, "tiny:llama", "sigmoid", "precomputed"),
        (FORMAT, "tiny:llama", "simpo", "frozen"),
        (FORMAT, "tiny:llama", "kto", "frozen"),
        ("align-anything/text-image-to-text", "tiny:qwen2-vl", "sigmoid", "precomputed"),
        ("align-anything/text-video-to-text", "tiny:qwen2-vl", "sigmoid", "precomputed"),
    ],
)
def test_dpo_learns_a_planted_preference(tmp_path, fmt, backbone, loss, reference):
    """Preferred responses carry the marker word. At the start the policy equals the reference, so every
    implicit reward is 0 and held-out accuracy (chosen strictly above rejected) is 0; after training it must
    reach >= 0.8 on pairs never trained on, whatever the prompt's modality."""
    seed_everything(0)
    data = _data(tmp_path, rows=40, val_rows=16, fmt=fmt, batch_size=8)
    module = DPOModule(
        backbone=BackboneOptions(name=backbone),
        loss=loss,
        beta={"sigmoid": 0.1, "kto": 0.5, "simpo": 2.0}[loss],
        reference=reference,
        optimizer=lambda params: torch.optim.AdamW(params, lr=3e-3),
    )
    trainer = quiet_trainer(
        max_epochs=3,
        default_root_dir=tmp_path,
    )
    trainer.fit(module, datamodule=data)
    accuracy = trainer.validate(module, datamodule=data, verbose=False)[0]["val/rewards/accuracies"]
    assert accuracy >= 0.8, f"held-out implicit-reward accuracy {accuracy:.2f}"


def test_kto_needs_a_live_reference():
    with pytest.raises(ValueError, match="mismatched"):
        DPOModule(loss="kto", reference="precomputed")


def test_every_loss_in_the_table_is_a_choice_fed_by_module_arguments():
    """The `loss` choices are the table's rows, and every hyperparameter a row names is a `DPOModule`
    argument (so `loss_settings` can supply it)."""
    assert set(get_args(DPOLoss)) == set(PREFERENCE_LOSSES)
    arguments = set(inspect.signature(DPOModule.__init__).parameters)
    module = DPOModule(loss="simpo")
    for name, spec in PREFERENCE_LOSSES.items():
        assert set(spec.options.values()) <= arguments & set(module.loss_settings), name


def test_orpo_is_fed_length_averaged_logprobs_and_the_chosen_nll(tmp_path):
    """ORPO's row (`paired+nll`, length-averaged, no reference): the module's loss equals `orpo_loss` on
    per-token averages of the policy's own log-probs, with the chosen NLL = -(chosen average)."""
    module = DPOModule(backbone=BackboneOptions(name="tiny:llama"), loss="orpo", orpo_lambda=0.3)
    module.configure_model()
    assert module.reference is None  # reference-free: no second copy built
    batch = _first_batch(module, _data(tmp_path, rows=4))
    sums, counts = module.response_logprobs(module.policy, batch)
    average = sums / counts
    chosen = batch["targets"]["chosen"]
    first, second = average.view(2, -1)
    avg_w, avg_l = torch.where(chosen == 0, first, second), torch.where(chosen == 0, second, first)
    expected = orpo_loss(avg_w, avg_l, -avg_w, lam=0.3)
    loss, metrics = module._loss(batch, "train")
    torch.testing.assert_close(loss, expected.losses.mean())
    torch.testing.assert_close(metrics["nll"], -avg_w.detach())
