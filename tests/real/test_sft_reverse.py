"""SFT teaches the embedded SmolLM2 a task it cannot do: repeating words in reverse order.

Held-out examples use only words no training example contains (see `reverse_words`). Two bars, both measured
on the held-out examples with the base model first: the response loss falls well below the base model's, and
the trained model prefers the reversed answer over the same words in the prompt's order (the "copy" shortcut,
which lowers the loss by predicting the right words without learning the reversal) on nearly every example.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from lightning.pytorch import seed_everything
from quiet_trainer import quiet_trainer
from reverse_words import write_split

from omnialign.alignment.modules.sft import SFTModule
from omnialign.data.datamodules import SFTDataModule
from omnialign.models.backbone import BackboneOptions


def _copy_answers(heldout: Path, target: Path) -> Path:
    """The held-out prompts answered with their words in the original order."""
    rows = [json.loads(line) for line in heldout.read_text().splitlines()]
    for row in rows:
        row["response"] = " ".join(row["response"].split()[::-1])
    target.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return target


@torch.no_grad()
def _response_logprobs(module: SFTModule, files: list[str]) -> torch.Tensor:
    data = SFTDataModule(files[:1], files, batch_size=16, max_length=64)
    data.attach_processor(module.processor)
    module.policy.eval()
    data.setup("validate")
    return torch.cat([module.response_logprobs(module.policy, batch)[0] for batch in data.val_dataloader()])


def test_sft_learns_to_reverse_words_on_heldout_words(tmp_path):
    seed_everything(0)
    train, heldout = write_split(tmp_path, train=48, heldout=16)
    copy = _copy_answers(heldout, tmp_path / "copy.jsonl")
    data = SFTDataModule([str(train)], [str(heldout)], batch_size=8, max_length=64)
    module = SFTModule(
        backbone=BackboneOptions(name="smollm2-135m-instruct"),
        optimizer=lambda params: torch.optim.AdamW(params, lr=3e-4),
    )
    before = quiet_trainer().validate(module, datamodule=data, verbose=False)[0]["val/loss"]
    copy_before = _response_logprobs(module, [str(heldout)]), _response_logprobs(module, [str(copy)])
    trainer = quiet_trainer(max_epochs=2, limit_val_batches=0)
    trainer.fit(module, datamodule=data)
    after = quiet_trainer().validate(module, datamodule=data, verbose=False)[0]["val/loss"]
    reversed_lp, copy_lp = _response_logprobs(module, [str(heldout)]), _response_logprobs(module, [str(copy)])
    base_prefers = (copy_before[0] > copy_before[1]).float().mean().item()
    prefers = (reversed_lp > copy_lp).float().mean().item()
    print(f"held-out loss {before:.3f} -> {after:.3f}; reversed over copy {base_prefers} -> {prefers}")
    assert after < 0.5 * before, f"held-out loss {before:.3f} -> {after:.3f}: expected at least halved"
    assert prefers >= 0.875 and prefers > base_prefers, (
        f"reversed over copy: base {base_prefers}, after {prefers}"
    )
