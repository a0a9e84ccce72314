"""The reward objective of the score module: pair selection by hand, learning a planted preference from text
and from image, audio and video inputs, multi-head training from per-dimension labels (a reversed dimension
is learned reversed), unlabelled pairs left out, and export → reload scoring identically."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from lightning.pytorch import seed_everything
from quiet_trainer import quiet_trainer

from omnialign.alignment.modules.score import ScoreModule, left_align
from omnialign.alignment.ops import pair_by_winner
from omnialign.data.collate import model_inputs
from omnialign.data.datamodules.preference import PreferenceDataModule
from omnialign.data.fixtures import write_fixture, write_rows
from omnialign.models.backbone import BackboneOptions
from omnialign.models.score import ScoreModel, ScoreOutput


def _module(name: str = "tiny:llama", lr: float = 3e-3, **kwargs) -> ScoreModule:
    return ScoreModule(
        backbone=BackboneOptions(name=name), optimizer=lambda p: torch.optim.AdamW(p, lr=lr), **kwargs
    )


def _fit(module: ScoreModule, data: PreferenceDataModule, epochs: int) -> tuple[dict, dict]:
    """Validation metrics before and after `epochs` of training."""
    before = quiet_trainer().validate(module, datamodule=data, verbose=False)[0]
    trainer = quiet_trainer(max_epochs=epochs)
    trainer.fit(module, datamodule=data)
    return before, trainer.validate(module, datamodule=data, verbose=False)[0]


def _data(tmp_path: Path, fmt: str, rows: int, val_rows: int, **kwargs) -> PreferenceDataModule:
    train = write_fixture(tmp_path / "train", fmt, rows=rows, seed=0)
    val = write_fixture(tmp_path / "val", fmt, rows=val_rows, seed=1)
    return PreferenceDataModule([str(train.path)], [str(val.path)], schema=fmt, **kwargs)


def test_pair_by_winner_and_left_align_by_hand():
    values = torch.tensor([1.0, 2.0, 3.0, 10.0, 20.0, 30.0])  # first responses, then second responses
    won, lost = pair_by_winner(values, torch.tensor([0, 1, 0]))
    assert won.tolist() == [1.0, 20.0, 3.0] and lost.tolist() == [10.0, 2.0, 30.0]
    tokens = torch.arange(8.0).view(4, 2)  # [2B=4, T=2]
    won, lost = pair_by_winner(tokens, torch.tensor([1, 0]))
    assert won.tolist() == [[4.0, 5.0], [2.0, 3.0]] and lost.tolist() == [[0.0, 1.0], [6.0, 7.0]]
    mask = torch.tensor([[0, 1, 1], [1, 1, 0]])
    assert left_align(torch.tensor([[9, 5, 6], [7, 8, 0]]), mask).tolist() == [[5, 6, 9], [7, 8, 0]]


@pytest.mark.parametrize("loss_type", ["sequence-wise", "token-wise"])
def test_reward_model_learns_a_planted_text_preference(tmp_path, loss_type):
    """PKU-SafeRLHF fixtures, `better` dimension: the better response carries a marker word. Chance is
    50%; measured: sequence-wise 100% and token-wise 78% held-out accuracy after 4 epochs of 48 pairs."""
    seed_everything(0)
    data = _data(tmp_path, "pku-saferlhf", 48, 32, dimension="better", batch_size=16, max_length=128)
    before, after = _fit(_module(loss_type=loss_type), data, epochs=4)
    assert after["val/accuracy"] >= 0.75, (before, after)
    assert after["val/loss"] < before["val/loss"] and after["val/margin"] > 0.0


MEDIA = [
    ("align-anything/text-to-image", "tiny:qwen2-vl"),
    ("align-anything/text-to-image", "tiny:llava"),
    ("align-anything/text-to-audio", "tiny:qwen2-audio"),
    ("align-anything/text-to-video", "tiny:qwen2-vl"),
]


@pytest.mark.parametrize(("fmt", "backbone"), MEDIA, ids=[f"{f.split('/')[1]}-{b[5:]}" for f, b in MEDIA])
def test_reward_model_judges_media_responses(tmp_path, fmt, backbone):
    """The preferred response is a bright image or video, or an 880 Hz tone (the other dark, or 220 Hz);
    prompt and text are identical, so only the media can tell them apart. Measured: 0% held-out accuracy at
    init (a random head orders every pair the same way), 100% after 3 epochs of 16 pairs."""
    seed_everything(0)
    data = _data(tmp_path, fmt, 16, 16, batch_size=8, max_length=256, media_responses_as_input=True)
    before, after = _fit(_module(backbone), data, epochs=3)
    assert after["val/accuracy"] >= 0.9, (before, after)
    assert after["val/margin"] > before["val/margin"]


def _reversed_dimension(tmp_path: Path, name: str, rows: int, seed: int) -> str:
    """align-anything text-to-text pairs whose `clarity` label is the reverse of every other dimension."""
    fixture = write_fixture(tmp_path / name, "align-anything/text-to-text", rows=rows, seed=seed)
    flipped = [{**row, "c_response": 3 - row["c_response"]} for row in fixture.rows]
    return str(write_rows(flipped, fixture.path.parent / "flipped", "parquet"))


def test_multi_head_trains_each_head_on_its_own_dimension(tmp_path):
    """Two heads, one trained on labels that are the reverse of the other's. Measured: held-out accuracy
    81% / 75% at init (a random head is not at chance on a planted marker), 100% / 100% after 3 epochs of
    32 pairs, with every pair ordered one way by the first head and the other way by the second."""
    seed_everything(0)
    heads = ["prompt_following", "clarity"]
    data = PreferenceDataModule(
        [_reversed_dimension(tmp_path, "train", 32, 0)],
        [_reversed_dimension(tmp_path, "val", 16, 1)],
        schema="align-anything/text-to-text",
        head_dimensions=heads,
        batch_size=8,
        max_length=128,
    )
    module = _module(heads=heads)
    _, after = _fit(module, data, epochs=3)
    assert after["val/accuracy/prompt_following"] >= 0.9 and after["val/accuracy/clarity"] >= 0.9, after
    batch = next(iter(data.val_dataloader()))
    with torch.no_grad():
        scores = module.model.eval()(**model_inputs(batch))
    first, second = scores.scores.view(2, -1, 2).unbind(0)
    following, clarity = (first - second).unbind(-1)
    assert (following * clarity < 0).all(), "the clarity head must order every pair the other way round"


def test_unlabelled_pairs_do_not_contribute(tmp_path):
    module = _module(heads=["a", "b"])
    scores = torch.tensor([[1.0, 5.0], [2.0, -3.0], [0.0, 0.0], [4.0, 1.0]], requires_grad=True)
    out = ScoreOutput(scores, scores.unsqueeze(1))
    batch = {"targets": {"dimensions": torch.tensor([[0, -1], [-1, -1]])}}  # pair 0: head a only
    loss, metrics = module._reward_loss(out, batch)
    loss.backward()
    expected = torch.nn.functional.softplus(torch.tensor(0.0 - 1.0))  # -log σ(r_w - r_l), r_w=1, r_l=0
    torch.testing.assert_close(loss, expected)
    assert scores.grad.nonzero().tolist() == [[0, 0], [2, 0]]
    assert metrics["accuracy"] == 1.0 and metrics["accuracy/b"] == 0.0


def test_heads_must_match_the_datamodule(tmp_path):
    data = _data(tmp_path, "align-anything/text-to-text", 4, 4, head_dimensions=["clarity"])
    with pytest.raises(ValueError, match="head_dimensions"):
        quiet_trainer(max_steps=1).fit(_module(heads=["safety"]), datamodule=data)


def test_export_reload_scores_identically_with_the_trained_normaliser(tmp_path):
    seed_everything(0)
    data = _data(tmp_path, "pku-saferlhf", 16, 8, dimension="better", batch_size=8, max_length=128)
    module = _module(normalize=True)
    quiet_trainer(max_epochs=1).fit(module, datamodule=data)
    assert int(module.model.normalizer.count) == 32, "every training sequence is folded into the statistics"
    module.export_pretrained(tmp_path / "export")
    reloaded = ScoreModel.from_pretrained(tmp_path / "export")
    batch = next(iter(data.val_dataloader()))
    inputs = model_inputs(batch)
    torch.testing.assert_close(reloaded.score(**inputs), module.model.eval().score(**inputs), rtol=0, atol=0)
    assert reloaded.config.normalizer == "affine" and (tmp_path / "export" / "tokenizer.json").exists()
