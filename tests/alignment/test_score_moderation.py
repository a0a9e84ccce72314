"""The SafeSora moderation model and its data: targets per input kind (missing labels -1), per-category F1
rising on planted categories (prompt alone), a prompt+video model training end to end, and export/reload."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from lightning.pytorch import seed_everything
from quiet_trainer import quiet_trainer

from omnialign.alignment.modules.moderation import ModerationModule
from omnialign.data.collate import model_inputs
from omnialign.data.datamodules.moderation import LABEL_NAMES, ModerationDataModule
from omnialign.data.fixtures import HARM_TRIGGERS, write_fixture, write_rows
from omnialign.data.records.safesora import HARM_LABELS
from omnialign.models.backbone import BackboneOptions
from omnialign.models.score import ScoreModel

PLANTED = ("violence", "hate", "terrorism")


def _planted(directory: Path, rows: int, seed: int) -> str:
    """SafeSora label records where each of `PLANTED` is present in half the rows, the other categories
    never, and the prompt names the trigger word of each category present."""
    fixture = write_fixture(directory, "safesora/labels", rows=rows, seed=seed)
    rng = np.random.default_rng(seed)
    out = []
    for row in fixture.rows:
        labels = {name: name in PLANTED and bool(rng.random() < 0.5) for name in HARM_LABELS}
        text = " ".join(["a", "river", *(HARM_TRIGGERS[name] for name in PLANTED if labels[name])])
        out.append(
            {
                **row,
                "prompt_text": text,
                "video_text": text,
                "prompt_labels": labels,
                "video_labels": labels,
                "is_safe": not any(labels.values()),
            }
        )
    return str(write_rows(out, fixture.path.parent / "planted", "json.gz"))


def _module(name: str = "tiny:llama") -> ModerationModule:
    return ModerationModule(
        backbone=BackboneOptions(name=name), optimizer=lambda p: torch.optim.AdamW(p, lr=3e-3)
    )


def test_targets_per_input_kind(tmp_path):
    fixture = write_fixture(tmp_path, "safesora/labels", rows=3, seed=0)
    rows = [{**row, "video_labels": {**row["video_labels"], "racism": None}} for row in fixture.rows]
    rows[0]["prompt_labels"] = {**rows[0]["prompt_labels"], "violence": True}  # prompt and video disagree
    rows[0]["video_labels"] = {name: False for name in HARM_LABELS} | {"racism": None}
    rows[0]["is_safe"] = True
    path = str(write_rows(rows, fixture.path.parent / "edited", "json.gz"))
    module = _module("tiny:qwen2-vl")
    items = {}
    for inputs in ("prompt", "prompt+video"):
        data = ModerationDataModule([path], inputs=inputs)
        data.attach_processor(module.processor)
        data.setup("fit")
        items[inputs] = data.encode(data._samples["train"][0], 0)
    video_labels = items["prompt+video"].targets["labels"]
    prompt_labels = items["prompt"].targets["labels"]
    assert video_labels[LABEL_NAMES.index("racism")] == -1, "a missing label is unlabelled, not harmless"
    assert video_labels.clamp_min(0).sum() == 0 and video_labels[-1] == 0
    assert prompt_labels[LABEL_NAMES.index("violence")] == 1 and prompt_labels[-1] == 1
    assert "pixel_values_videos" in items["prompt+video"].sequence.media_inputs
    assert not items["prompt"].sequence.media_inputs


def test_inputs_and_schema_must_agree():
    with pytest.raises(ValueError, match="needs schema safesora/labels"):
        ModerationDataModule(["x"], schema="safesora/eval", inputs="prompt+video")


def test_per_category_f1_rises_on_planted_categories(tmp_path):
    """Chance F1 at a 50% rate is at most 0.67 (predicting every label); measured: F1 and AUROC 1.0 on every
    planted category and on `unsafe` after 8 epochs of 64 prompts (from F1 0.67/0.67/0.0 and AUROC
    0.56/0.40/0.48 on violence/hate/terrorism at init)."""
    seed_everything(0)
    data = ModerationDataModule(
        [_planted(tmp_path / "train", 64, 0)],
        [_planted(tmp_path / "val", 24, 1)],
        inputs="prompt",
        batch_size=8,
        max_length=128,
    )
    module = _module()
    before = quiet_trainer().validate(module, datamodule=data, verbose=False)[0]
    trainer = quiet_trainer(max_epochs=8)
    trainer.fit(module, datamodule=data)
    after = trainer.validate(module, datamodule=data, verbose=False)[0]
    for name in (*PLANTED, "unsafe"):
        assert after[f"val/f1/{name}"] >= 0.9 and after[f"val/auroc/{name}"] >= 0.9, (name, before, after)
        assert after[f"val/f1/{name}"] > before[f"val/f1/{name}"]
    assert after["val/f1_macro"] >= 0.9, "the macro mean covers the categories present in the data"

    module.export_pretrained(tmp_path / "export")
    reloaded = ScoreModel.from_pretrained(tmp_path / "export")
    batch = next(iter(data.val_dataloader()))
    torch.testing.assert_close(
        reloaded.score(**model_inputs(batch)),
        module.model.eval().score(**model_inputs(batch)),
        rtol=0,
        atol=0,
    )
    assert reloaded.config.heads == list(LABEL_NAMES)


def test_prompt_and_video_moderation_trains(tmp_path):
    """Qwen2-VL-class backbone, the video in the user turn: a few steps lower the training loss."""
    seed_everything(0)
    data = ModerationDataModule(
        [_planted(tmp_path / "train", 8, 0)], inputs="prompt+video", batch_size=4, max_length=256
    )
    module = _module("tiny:qwen2-vl")
    data.attach_processor(module.processor)
    data.setup("fit")
    module.configure_model()
    batch = next(iter(data.train_dataloader()))
    first, _, _ = module._loss(batch)
    quiet_trainer(max_epochs=3).fit(module, datamodule=data)
    later, _, _ = module._loss(batch)
    assert later < first


def test_packed_prompt_batches_give_the_padded_logits_loss_and_gradients(tmp_path):
    """`packing: true` on a prompt-only moderation datamodule: one row, each prompt scored at its last
    token, with the padded batch's logits, loss and gradients."""
    train = _planted(tmp_path, 4, 0)
    module = _module()
    module.configure_model()
    results = []
    for packing in (False, True):
        data = ModerationDataModule([train], inputs="prompt", batch_size=4, max_length=128, packing=packing)
        data.attach_processor(module.processor)
        data.setup("fit")
        batch = next(iter(data.train_dataloader()))
        assert (batch["input_ids"].shape[0] == 1) == packing
        module.model.zero_grad()
        loss, logits, _ = module._loss(batch)
        loss.backward()
        results.append((logits.detach(), loss.detach(), [p.grad.clone() for p in module.model.parameters()]))
    (logits_padded, loss_padded, grads_padded), (logits_packed, loss_packed, grads_packed) = results
    assert logits_packed.shape == logits_padded.shape == (4, len(LABEL_NAMES))
    torch.testing.assert_close(logits_packed, logits_padded, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(loss_packed, loss_padded, rtol=1e-5, atol=1e-5)
    for packed, padded in zip(grads_packed, grads_padded, strict=True):
        torch.testing.assert_close(packed, padded, rtol=1e-4, atol=1e-6)
    assert logits_padded.std() > 0 and any(g.abs().sum() > 0 for g in grads_padded)
