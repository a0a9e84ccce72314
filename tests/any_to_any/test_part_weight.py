"""The SFT loss of interleaved responses with a per-part weight, checked against the hand formula.

With T, I the summed log-probs of the text tokens and image codes and n_t, n_i their counts, token-averaged
SFT with image weight w is -(T + w*I) / (n_t + w*n_i): w = 0 is the text NLL alone, w = 1 the plain NLL
over every response token.
"""

from __future__ import annotations

import pytest
import torch

from omnialign.alignment.modules.sft import SFTModule
from omnialign.data.collate import pad_sequences
from omnialign.data.interleaved import encoder_for
from omnialign.data.sample import Message, Part, Sample
from omnialign.models.backbone import BackboneOptions


@pytest.mark.parametrize("weight", [0.0, 1.0, 2.5])
def test_image_weight_scales_the_image_codes_in_the_sft_loss(images, weight):
    module = SFTModule(backbone=BackboneOptions(name="tiny:janus"), image_weight=weight)
    module.configure_model()
    prompt = Message("user", (Part.of_text("Draw."),))
    response = (Part.of_text("Here it is: "), Part.of_media(images["bright"]), Part.of_text(" ok"))
    sample = Sample(prompt=(prompt,), responses=(response,))
    batch = pad_sequences([encoder_for(module.processor).encode(sample)], 0)
    with torch.no_grad():
        _, _, parts = module.response_logprobs_by_part(module.policy, batch)
        (text, n_text), (image, n_image) = parts["text"], parts["image"]
        assert int(n_image) == 16 and int(n_text) > 5
        expected = -(text + weight * image) / (n_text + weight * n_image)
        torch.testing.assert_close(module._step(batch, "train"), expected.squeeze())
