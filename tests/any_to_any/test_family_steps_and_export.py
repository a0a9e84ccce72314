"""Emu3 and Chameleon through the shared objectives and export: one SFT and one DPO module serve every
family (no per-family module), and the exported folder reloads with plain transformers.

Step checks: two optimiser steps on align-anything text+image->text+image pairs (DPO) and interleaved SFT
rows run, log finite per-part metrics (the image part is scored), and change the weights.
"""

from __future__ import annotations

import json
import math

import pytest
import torch
from lightning.pytorch import seed_everything
from quiet_trainer import quiet_trainer
from transformers import AutoModelForImageTextToText, AutoProcessor

from omnialign.alignment.modules.dpo import DPOModule
from omnialign.alignment.modules.sft import SFTModule
from omnialign.data.collate import model_inputs, pad_sequences
from omnialign.data.datamodules.preference import PreferenceDataModule
from omnialign.data.datamodules.sft import SFTDataModule
from omnialign.data.fixtures import write_fixture
from omnialign.data.interleaved import encoder_for
from omnialign.data.sample import Message, Part, Sample
from omnialign.models.backbone import BackboneOptions
from omnialign.models.generation.logprobs import response_token_logprobs

FAMILIES = ("tiny:emu3", "tiny:chameleon")


def _fit(tmp_path, module, data, steps: int = 2) -> dict[str, float]:
    trainer = quiet_trainer(
        max_steps=steps,
        default_root_dir=tmp_path,
        log_every_n_steps=1,
    )
    trainer.fit(module, datamodule=data)
    return {key: float(value) for key, value in trainer.callback_metrics.items()}


def _weights(module) -> torch.Tensor:
    return module.policy.get_input_embeddings().weight.detach().clone()


@pytest.mark.parametrize("name", FAMILIES)
def test_a_dpo_step_runs_on_interleaved_pairs(name, tmp_path):
    torch.set_num_threads(1)
    seed_everything(0)
    fmt = "align-anything/text-image-to-text-image"
    train = write_fixture(tmp_path / "data", fmt, rows=4, seed=0)
    data = PreferenceDataModule([str(train.path)], schema=fmt, batch_size=2)
    module = DPOModule(backbone=BackboneOptions(name=name), optimizer=lambda p: torch.optim.AdamW(p, lr=1e-3))
    module.configure_model()
    before = _weights(module)
    metrics = _fit(tmp_path, module, data)
    assert math.isfinite(metrics["train/loss"])
    assert {"train/logps/image/margins", "train/logps/text/margins"} <= metrics.keys()
    assert not torch.equal(before, _weights(module))


def _sft_file(tmp_path, images) -> str:
    rows = []
    for i in range(4):
        user = [{"type": "text", "text": f"Draw picture {i}."}]
        answer = [{"type": "text", "text": "here:"}, {"type": "image", "image": images["bright"].path}]
        rows.append(
            {
                "id": f"r{i}",
                "messages": [{"role": "user", "content": user}, {"role": "assistant", "content": answer}],
            }
        )
    path = tmp_path / "sft.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return str(path)


@pytest.mark.parametrize("name", FAMILIES)
def test_an_sft_step_runs_on_interleaved_responses(name, tmp_path, images):
    torch.set_num_threads(1)
    seed_everything(0)
    data = SFTDataModule(train_files=[_sft_file(tmp_path, images)], batch_size=2)
    module = SFTModule(backbone=BackboneOptions(name=name), optimizer=lambda p: torch.optim.AdamW(p, lr=1e-3))
    module.configure_model()
    before = _weights(module)
    metrics = _fit(tmp_path, module, data)
    assert math.isfinite(metrics["train/loss"])
    assert 0 < metrics["train/nll/image"] < 10 and 0 < metrics["train/nll/text"] < 10
    assert not torch.equal(before, _weights(module))


@pytest.mark.parametrize("name", FAMILIES)
def test_exported_family_reloads_with_plain_transformers(name, tmp_path, images):
    module = SFTModule(backbone=BackboneOptions(name=name))
    module.configure_model()
    folder = module.export_pretrained(tmp_path / "export")
    model = AutoModelForImageTextToText.from_pretrained(folder).eval()
    processor = AutoProcessor.from_pretrained(folder)
    assert type(model) is type(module.policy)

    prompt = Message("user", (Part.of_media(images["dark"]), Part.of_text("Brighter?")))
    sample = Sample(prompt=(prompt,), responses=((Part.of_text("Yes: "), Part.of_media(images["bright"])),))
    original = pad_sequences([encoder_for(module.processor).encode(sample)], 0)
    reloaded = pad_sequences([encoder_for(processor).encode(sample)], 0)
    assert original.keys() == reloaded.keys()
    assert all(torch.equal(original[key], reloaded[key]) for key in original)
    policy = module.policy.eval()
    with torch.no_grad():
        prompts = [
            pad_sequences([encoder_for(p).encode_prompt(sample)], 0) for p in (processor, module.processor)
        ]
        torch.testing.assert_close(  # the plain forward on the prompt (its image encoded by the model itself)
            model(**model_inputs(prompts[0])).logits, policy(**model_inputs(prompts[1])).logits
        )
        torch.testing.assert_close(
            response_token_logprobs(model, reloaded), response_token_logprobs(policy, original)
        )
