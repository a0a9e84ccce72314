"""Learning on interleaved responses with the tiny Janus, through the shared SFT and DPO modules.

Planted signals: SFT responses always say "indeed" and draw a bright image; the model starts from random
weights, so both parts start near chance (text: ln 515 = 6.2 nats per token, codes: ln 64 = 4.2).
The images are flat greys: the tiny VQ's random weights map pixel noise (and any texture) to near-random
codes (about 3.9 nats of entropy over noisy bright images), so noise would hide whether the image head
learns at all. Training images take grey levels from some of the VQ's code grids and validation images from
the others (`code_grids.LEVELS`, which says how the grids were found), and every validation image encodes
to a code grid that no training image has (asserted by encoding both).
"""

from __future__ import annotations

import json

import pytest
import torch
from code_grids import LEVELS, code_grids, flat_image, flatten
from lightning.pytorch import Trainer, seed_everything
from PIL import Image
from quiet_trainer import quiet_trainer

from omnialign.alignment.modules.dpo import DPOModule
from omnialign.alignment.modules.sft import SFTModule
from omnialign.data.datamodules.preference import PreferenceDataModule
from omnialign.data.datamodules.sft import SFTDataModule
from omnialign.data.fixtures import write_fixture
from omnialign.data.interleaved import encoder_for
from omnialign.data.sample import Message, Part, Sample
from omnialign.models.any_to_any import adapter_for
from omnialign.models.backbone import BackboneOptions

JANUS = LEVELS["tiny:janus"]


def _trainer(tmp_path, **kwargs) -> Trainer:
    return quiet_trainer(
        default_root_dir=tmp_path,
        **kwargs,
    )


def _bright_share(module, samples: int = 64) -> float:
    """Share of codes of images sampled with guidance (text-only prompt) that belong to bright flat images'
    codes minus the share that belong to dark ones."""
    adapter, policy, processor = adapter_for(module.policy), module.policy.eval(), module.processor
    pixels = processor.image_processor(
        [Image.new("RGB", (32, 32), (v, v, v)) for v in (*range(40, 64, 4), *range(194, 218, 4))],
        return_tensors="pt",
    )["pixel_values"]
    dark, bright = (set(codes.flatten().tolist()) for codes in adapter.image_codes(policy, pixels).chunk(2))
    prompt = Sample(prompt=(Message("user", (Part.of_text("Draw a picture."),)),))
    ids = encoder_for(processor).encode_prompt(prompt).input_ids.repeat(samples, 1)
    torch.manual_seed(0)
    codes = (
        adapter.sample_image_codes(
            policy,
            {"input_ids": ids},
            torch.tensor([processor.tokenizer.convert_tokens_to_ids("<begin_of_image>")]),
            guidance_scale=3.0,
        )
        .flatten()
        .tolist()
    )
    policy.train()
    return (sum(c in bright for c in codes) - sum(c in dark for c in codes)) / len(codes)


def _sft_rows(root, rows: int, first: int, bright_levels: tuple[int, ...]) -> list[dict]:
    out = []
    for i in range(first, first + rows):
        dark = flat_image(root / f"p{i}.png", 40 + i)
        bright = flat_image(root / f"r{i}.png", bright_levels[i % len(bright_levels)])
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
    """Held-out rows: prompts with other dark levels, and response images whose code grids no training image
    has. Measured: text NLL 6.25 -> 2.51 nats/token, image-code NLL 4.16 -> 3.11 after 16 steps (when the
    validation images shared the training images' grid: 4.16 -> 2.76; after 24 steps: 3.07); the test asks
    for a drop of at least 1 nat on each part."""
    seed_everything(0)
    train = _write_jsonl(tmp_path / "train.jsonl", _sft_rows(tmp_path, 8, 0, JANUS.train["bright"]))
    val = _write_jsonl(tmp_path / "val.jsonl", _sft_rows(tmp_path, 4, 8, JANUS.val["bright"]))
    data = SFTDataModule(train_files=[train], val_files=[val], batch_size=4)
    module = SFTModule(
        backbone=BackboneOptions(name="tiny:janus"),
        optimizer=lambda params: torch.optim.AdamW(params, lr=5e-3),
    )
    before = _trainer(tmp_path).validate(module, datamodule=data, verbose=False)[0]
    seen = code_grids(module.policy, module.processor, [tmp_path / f"r{i}.png" for i in range(8)])
    held_out = code_grids(module.policy, module.processor, [tmp_path / f"r{i}.png" for i in range(8, 12)])
    assert len(held_out) == 3 and not seen & held_out, "validation response images are unseen code grids"
    _trainer(tmp_path, max_steps=16).fit(module, datamodule=data)
    after = _trainer(tmp_path).validate(module, datamodule=data, verbose=False)[0]
    print({k: (round(before[k], 2), round(after[k], 2)) for k in before})
    assert before["val/nll/image"] > 3.5 and before["val/nll/text"] > 5.0  # chance level at the start
    assert after["val/nll/text"] < before["val/nll/text"] - 1.0
    assert after["val/nll/image"] < before["val/nll/image"] - 1.0


@pytest.mark.slow
def test_dpo_on_interleaved_pairs_learns_the_planted_image_preference(tmp_path):
    """align-anything text+image -> text+image fixtures: the preferred answer's image is bright (0.8), the
    other dark (0.2), and its text carries "indeed"; images flattened (see `code_grids.flatten`), validation
    images to code grids no training image has. Held-out statistic: the policy's image-part log-prob margin
    (chosen minus rejected codes, summed over 16 codes). Measured: +0.09 -> +8.4 nats after 12 steps on 8
    pairs; asked: a rise of at least 4 nats, positive on every pair. Sampled statistic (64 images generated
    with guidance 3.0, see `_bright_share`): bright-minus-dark share of codes -0.03 -> 0.22; asked: a rise of
    at least 0.2. (With 16 images the same statistic read 0.01 -> 0.27 on torch's looped AdamW and 0.01 ->
    0.20 on its fused kernel: 16 images were too few for a 0.2 bar.)"""
    seed_everything(0)
    fmt = "align-anything/text-image-to-text-image"
    train = write_fixture(tmp_path / "train", fmt, rows=8, seed=0)
    val = write_fixture(tmp_path / "val", fmt, rows=4, seed=1)
    flatten(train.media, JANUS.train)
    flatten(val.media, JANUS.val)
    data = PreferenceDataModule([str(train.path)], [str(val.path)], schema=fmt, batch_size=4)
    module = DPOModule(
        backbone=BackboneOptions(name="tiny:janus"),
        beta=0.1,
        optimizer=lambda params: torch.optim.AdamW(params, lr=3e-3),
    )
    before = _trainer(tmp_path).validate(module, datamodule=data, verbose=False)[0]
    responses = lambda fixture: [p for p in fixture.media if "_image_" in p.name]  # noqa: E731
    grids = lambda paths: code_grids(module.policy, module.processor, paths)  # noqa: E731
    assert not grids(responses(train)) & grids(responses(val)), "held out"
    sampled_before = _bright_share(module)
    _trainer(tmp_path, max_steps=12).fit(module, datamodule=data)
    after = _trainer(tmp_path).validate(module, datamodule=data, verbose=False)[0]
    sampled_after = _bright_share(module)
    print({k: (round(before[k], 2), round(after[k], 2)) for k in before}, sampled_before, sampled_after)
    assert sampled_after > sampled_before + 0.2
    assert after["val/logps/image/margins"] > before["val/logps/image/margins"] + 4.0
    assert after["val/logps/image/accuracies"] == 1.0
