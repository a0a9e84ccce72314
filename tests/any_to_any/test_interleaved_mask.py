"""Interleaved encoding for the tiny Janus: exact masks and part labels on a hand-made sequence.

The tiny Janus expands every image to `<begin_of_image>` + 16 `<image_placeholder>` + `<end_of_image>`
(32 px / 8 px patches = 4x4 SigLIP tokens in a prompt; 32 px / 8x VQ downsampling = 4x4 codes in a
response). Expected (hand-derived) for prompt [image, "What is this?"] and response
["Here: ", image, " done"]:
- prompt: `<|im_start|>user\\n` + boi + 16 placeholders + eoi + `What is this?<|im_end|>\\n` +
  `<|im_start|>assistant\\n`, all mask 0 (the prompt image's placeholders included), part 0;
- response: `Here: ` + boi + 16 placeholders + eoi + ` done<|im_end|>\\n`, all mask 1; part 1 on the 16
  placeholders alone (the codes the generation head predicts), 0 on the text and the two markers.
"""

from __future__ import annotations

import pytest

from omnialign.data.collate import LABEL_KEYS, model_inputs, pad_sequences
from omnialign.data.encode import ChatEncoder
from omnialign.data.interleaved import RESPONSE_PART, RESPONSE_PIXELS, InterleavedEncoder, encoder_for
from omnialign.data.sample import Message, Part, Sample


def _sample(images) -> Sample:
    prompt = Message("user", (Part.of_media(images["dark"]), Part.of_text("What is this?")))
    response = (Part.of_text("Here: "), Part.of_media(images["bright"]), Part.of_text(" done"))
    return Sample(prompt=(prompt,), responses=(response,))


def test_mask_and_parts_are_exact_on_a_hand_made_sequence(janus_processor, images):
    encoder = encoder_for(janus_processor)
    assert isinstance(encoder, InterleavedEncoder)
    tok = janus_processor.tokenizer
    ids = tok.convert_tokens_to_ids
    boi, img, eoi = ids("<begin_of_image>"), ids("<image_placeholder>"), ids("<end_of_image>")

    def text(s: str) -> list[int]:
        return tok(s, add_special_tokens=False)["input_ids"]

    image_span = [boi] + [img] * 16 + [eoi]
    prompt = (
        text("<|im_start|>user\n") + image_span + text("What is this?<|im_end|>\n<|im_start|>assistant\n")
    )
    head, tail = text("Here: "), text(" done<|im_end|>\n")
    response = head + image_span + tail

    encoded = encoder.encode(_sample(images))
    assert encoded.input_ids.tolist() == prompt + response
    assert encoded.response_mask.tolist() == [0] * len(prompt) + [1] * len(response)
    part = [0] * len(prompt) + [0] * len(head) + [0] + [1] * 16 + [0] + [0] * len(tail)
    assert encoded.token_inputs[RESPONSE_PART].tolist() == part
    assert encoded.media_inputs["pixel_values"].shape == (1, 3, 32, 32)  # the prompt image, for SigLIP
    assert encoded.media_inputs[RESPONSE_PIXELS].shape == (1, 3, 32, 32)  # the response image, for the VQ


def test_images_in_responses_never_reach_the_forward_and_pad_as_text(janus_processor, images):
    encoder = encoder_for(janus_processor)
    sample = _sample(images)
    text_only = Sample(prompt=sample.prompt, responses=((Part.of_text("no picture"),),))
    batch = pad_sequences([encoder.encode(sample), encoder.encode(text_only)], pad_token_id=0, side="right")
    assert batch[RESPONSE_PIXELS].shape == (1, 3, 32, 32)
    assert batch["pixel_values"].shape == (2, 3, 32, 32)
    assert batch[RESPONSE_PART][1].sum() == 0 and batch[RESPONSE_PART][0].sum() == 16
    assert {RESPONSE_PART, RESPONSE_PIXELS} <= LABEL_KEYS
    assert RESPONSE_PIXELS not in model_inputs(batch) and "pixel_values" in model_inputs(batch)


def test_an_image_is_never_cut(janus_processor, images):
    encoder = encoder_for(janus_processor, max_length=40)  # the prompt fits, the 18-token image does not
    with pytest.raises(ValueError, match="does not fit"):
        encoder.encode(_sample(images))


def test_plain_processors_keep_the_plain_encoder(tiny_tokenizer):
    assert type(encoder_for(tiny_tokenizer)) is ChatEncoder
