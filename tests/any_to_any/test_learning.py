"""Learning on interleaved responses with the tiny Janus, through the shared SFT and DPO modules.

Planted signals: SFT responses always say "indeed" and draw the same bright image; the model starts from
random weights, so both parts start near chance (text: ln 515 = 6.2 nats per token, codes: ln 64 = 4.2).
The images are flat colours: the tiny VQ's random weights map pixel noise to near-random codes (about 3.9
nats of entropy over noisy bright images), so noise would hide whether the image head learns at all.
"""

from __future__ import annotations

import json

import pytest
import torch
from lightning.pytorch import Trainer, seed_everything
from PIL import Image

from omnialign.alignment.modules.sft import SFTModule
from omnialign.data.datamodules.sft import SFTDataModule
from omnialign.models.backbone import BackboneOptions


def _trainer(tmp_path, **kwargs) -> Trainer:
    return Trainer(
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=tmp_path,
        **kwargs,
    )


def _flat_image(path, level: int):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (32, 32), (level, level, level)).save(path)
    return path


def _sft_rows(root, rows: int, first: int = 0) -> list[dict]:
    out = []
    for i in range(first, first + rows):
        dark = _flat_image(root / f"p{i}.png", 40 + i)  # prompts vary, the drawn image does not
        bright = _flat_image(root / f"r{i}.png", 210)
        user = [{"type": "image", "image": str(dark)}, {"type": "text", "text": "Make it brighter."}]
        answer = [
            {"type": "text", "text": "indeed, here:"},
            {"type": "image", "image": str(bright)},
            {"type": "text", "text": "done"},
        ]
        messages = [{"role": "user", "content": user}, {"role": "assistant", "content": answer}]
        out.append({"id": f"r{i}", "messages": messages})
    return out


def _write_jsonl(path, rows: list[dict]) -> str:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return str(path)


@pytest.mark.slow
def test_sft_on_interleaved_responses_lowers_the_loss_of_both_parts(tmp_path):
    """Measured: text NLL 6.25 -> 2.62 nats/token, image-code NLL 4.16 -> 2.76 after 16 steps; the test asks
    for a drop of at least 1 nat on each part, on held-out rows (prompts with other dark levels)."""
    seed_everything(0)
    train = _write_jsonl(tmp_path / "train.jsonl", _sft_rows(tmp_path, 8))
    val = _write_jsonl(tmp_path / "val.jsonl", _sft_rows(tmp_path, 4, first=8))
    data = SFTDataModule(train_files=[train], val_files=[val], batch_size=4)
    module = SFTModule(
        backbone=BackboneOptions(name="tiny:janus"),
        optimizer=lambda params: torch.optim.AdamW(params, lr=5e-3),
    )
    before = _trainer(tmp_path).validate(module, datamodule=data, verbose=False)[0]
    _trainer(tmp_path, max_steps=16).fit(module, datamodule=data)
    after = _trainer(tmp_path).validate(module, datamodule=data, verbose=False)[0]
    print({k: (round(before[k], 2), round(after[k], 2)) for k in before})
    assert before["val/nll/image"] > 3.5 and before["val/nll/text"] > 5.0  # chance level at the start
    assert after["val/nll/text"] < before["val/nll/text"] - 1.0
    assert after["val/nll/image"] < before["val/nll/image"] - 1.0
