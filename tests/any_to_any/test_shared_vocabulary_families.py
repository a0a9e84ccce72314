"""Emu3 and Chameleon (image codes in the shared vocabulary) through the same interleaved path as Janus.

Hand-derived layouts for prompt [image, "Draw it."] and response ["Here: ", image, " ok"] (32 px images,
8x VQ downsampling, so 4x4 codes):
- Emu3: the processor prepends BOS (`<|endoftext|>` in the tiny tokenizer) to the prompt; an image is
  `<|image start|>` + `4*4` + `<|image token|>` + 4 rows x (4 codes + end-of-line) = 20 positions +
  `<|extra_201|>` + `<|image end|>`; part 1 on the 20 positions (the end-of-line tokens are written by the
  same head as the codes), 0 elsewhere.
- Chameleon: an image is `<racm3:break>` + 16 positions + `<eoss>`; the processor appends its chat separator
  `<reserved08706>` to the prompt, which is therefore a prompt token (mask 0).
"""

from __future__ import annotations

import functools

import pytest
import torch
from PIL import Image

from omnialign.data.collate import pad_sequences
from omnialign.data.interleaved import RESPONSE_PART, RESPONSE_PIXELS, InterleavedEncoder, encoder_for
from omnialign.data.sample import Message, Part, Sample
from omnialign.models.any_to_any import ImageMarkers, adapter_for
from omnialign.models.backbone import BackboneOptions, load_causal_lm, load_processor
from omnialign.models.generation.logprobs import response_token_logprobs

FAMILIES = ("tiny:emu3", "tiny:chameleon")


@functools.cache
def processor_of(name: str):
    return load_processor(BackboneOptions(name=name))


def _model(name: str):
    return load_causal_lm(BackboneOptions(name=name, seed=0), processor_of(name)).eval()


def _sample(images) -> Sample:
    prompt = Message("user", (Part.of_media(images["dark"]), Part.of_text("Draw it.")))
    response = (Part.of_text("Here: "), Part.of_media(images["bright"]), Part.of_text(" ok"))
    return Sample(prompt=(prompt,), responses=(response,))


def _hand_layout(name: str, processor) -> tuple[list[int], list[int], list[int]]:
    """(prompt ids, response ids, response part labels) written out from the family's format."""
    tok = processor.tokenizer
    ids = tok.convert_tokens_to_ids

    def text(s: str) -> list[int]:
        return tok(s, add_special_tokens=False)["input_ids"]

    if name == "tiny:emu3":
        opening = [ids("<|image start|>"), *text("4*4"), ids("<|image token|>")]
        positions, closing = 20, [ids("<|extra_201|>"), ids("<|image end|>")]
        bos, sep = [ids("<|endoftext|>")], []
    else:
        opening, positions, closing = [ids("<racm3:break>")], 16, [ids("<eoss>")]
        bos, sep = [], [ids("<reserved08706>")]
    image = opening + [ids("<image>")] * positions + closing
    turn = text("Draw it.<|im_end|>\n<|im_start|>assistant\n")
    prompt = bos + text("<|im_start|>user\n") + image + turn + sep
    head, tail = text("Here: "), text(" ok<|im_end|>\n")
    part = [0] * len(head) + [0] * len(opening) + [1] * positions + [0] * len(closing) + [0] * len(tail)
    return prompt, head + image + tail, part


@pytest.mark.parametrize("name", FAMILIES)
def test_mask_and_parts_are_exact_on_a_hand_made_sequence(name, images):
    processor = processor_of(name)
    encoder = encoder_for(processor)
    assert isinstance(encoder, InterleavedEncoder)
    prompt, response, part = _hand_layout(name, processor)
    encoded = encoder.encode(_sample(images))
    assert encoded.input_ids.tolist() == prompt + response
    assert encoded.response_mask.tolist() == [0] * len(prompt) + [1] * len(response)
    assert encoded.token_inputs[RESPONSE_PART].tolist() == [0] * len(prompt) + part
    assert encoded.media_inputs["pixel_values"].shape == (1, 3, 32, 32)
    assert encoded.media_inputs[RESPONSE_PIXELS].shape == (1, 3, 32, 32)


def _batch(name: str, images) -> dict[str, torch.Tensor]:
    processor = processor_of(name)
    return pad_sequences([encoder_for(processor).encode(_sample(images))], processor.tokenizer.pad_token_id)


@pytest.mark.parametrize("name", FAMILIES)
def test_image_codes_land_in_the_image_token_range_and_emu3_round_trips(name, images):
    model = _model(name)
    adapter = adapter_for(model)
    pixels = _batch(name, images)[RESPONSE_PIXELS]
    codes = adapter.image_codes(model, pixels)
    assert codes.shape == (1, 16) and codes.dtype == torch.long
    tokens = adapter.code_tokens(model.model, codes.view(1, 4, 4))[0]
    image_tokens = set(model.model.vocabulary_mapping.image_tokens)
    if name == "tiny:emu3":
        rows = tokens.view(4, 5)
        assert set(rows[:, :4].flatten().tolist()) <= image_tokens
        assert rows[:, 4].tolist() == [model.model.vocabulary_mapping.eol_token_id] * 4
        assert adapter.decode_codes(model, codes).shape == pixels.shape
    else:
        assert set(tokens.tolist()) <= image_tokens and len(tokens) == 16
        with pytest.raises(NotImplementedError, match="no decoder"):
            adapter.decode_codes(model, codes)
    assert torch.equal(adapter.image_codes(model, pixels), codes)  # the VQ is deterministic


@pytest.mark.parametrize("name", FAMILIES)
def test_response_images_score_as_the_model_reads_the_same_image(name, images):
    """Equivalence: scoring the response image from its pixels equals the model's own forward when that
    image is handed to it as a second *input* image (its forward then writes the codes itself); targets at
    the image positions are the code tokens the model's `get_image_tokens` gives."""
    model = _model(name)
    batch = _batch(name, images)
    with torch.no_grad():
        ours = response_token_logprobs(model, batch)
        both = torch.cat([batch["pixel_values"], batch[RESPONSE_PIXELS]])
        extra = {"image_sizes": torch.tensor([[32, 32], [32, 32]])} if name == "tiny:emu3" else {}
        hidden = model.model(
            input_ids=batch["input_ids"], pixel_values=both, attention_mask=batch["attention_mask"], **extra
        ).last_hidden_state[0, :-1]
        logprobs = model.lm_head(hidden).log_softmax(-1)
        image = batch[RESPONSE_PART][0].bool()
        targets = batch["input_ids"][0].clone()
        sizes = extra.get("image_sizes", torch.zeros(1, 2))[1:]
        own = model.model.get_image_tokens(batch[RESPONSE_PIXELS], *([sizes] if extra else []))
        targets[image] = own.flatten().to(targets.dtype)
        reference = logprobs.gather(-1, targets[1:, None]).squeeze(-1)
    mask = batch["response_mask"][0, 1:].bool()
    assert int(image.sum()) == (20 if name == "tiny:emu3" else 16)
    torch.testing.assert_close(ours[0, 1:][mask], reference[mask], atol=1e-5, rtol=1e-5)
    assert torch.all(ours[0, 1:][~mask] == 0)


@pytest.mark.parametrize("name", FAMILIES)
def test_sampled_codes_are_codebook_entries_with_guidance(name):
    model, encoder = _model(name), encoder_for(processor_of(name))
    prompt = Sample(prompt=(Message("user", (Part.of_text("Draw a picture."),)),))
    ids = encoder.encode_prompt(prompt).input_ids.repeat(3, 1)
    span, _ = encoder.image_span(Image.new("RGB", (32, 32)))
    assert ImageMarkers.of(processor_of(name)).begin == int(span[0])
    torch.manual_seed(0)
    codes = adapter_for(model).sample_image_codes(model, {"input_ids": ids}, span, guidance_scale=3.0)
    assert codes.shape == (3, 16) and int(codes.min()) >= 0 and int(codes.max()) < 64
