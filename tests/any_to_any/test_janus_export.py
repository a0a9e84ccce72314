"""Export of an any-to-any policy: the `save_pretrained` folder loads with plain transformers (Auto classes,
no omnialign code) and scores an interleaved batch exactly as the policy did."""

from __future__ import annotations

import torch
from transformers import AutoModelForImageTextToText, AutoProcessor

from omnialign.alignment.modules.sft import SFTModule
from omnialign.data.collate import pad_sequences
from omnialign.data.interleaved import encoder_for
from omnialign.data.sample import Message, Part, Sample
from omnialign.models.backbone import BackboneOptions
from omnialign.models.generation.logprobs import response_token_logprobs


def test_exported_janus_reloads_with_plain_transformers(tmp_path, images):
    module = SFTModule(backbone=BackboneOptions(name="tiny:janus"))
    module.configure_model()
    folder = module.export_pretrained(tmp_path / "export")

    model = AutoModelForImageTextToText.from_pretrained(folder).eval()
    processor = AutoProcessor.from_pretrained(folder)
    assert type(model).__name__ == "JanusForConditionalGeneration"
    assert processor.image_token == "<image_placeholder>" and processor.num_image_tokens == 16

    prompt = Message("user", (Part.of_media(images["dark"]), Part.of_text("Brighter?")))
    sample = Sample(prompt=(prompt,), responses=((Part.of_text("Yes: "), Part.of_media(images["bright"])),))
    original = pad_sequences([encoder_for(module.processor).encode(sample)], 0)
    reloaded = pad_sequences([encoder_for(processor).encode(sample)], 0)
    assert all(torch.equal(original[key], reloaded[key]) for key in original)
    with torch.no_grad():
        torch.testing.assert_close(
            response_token_logprobs(model, reloaded), response_token_logprobs(module.policy.eval(), original)
        )
