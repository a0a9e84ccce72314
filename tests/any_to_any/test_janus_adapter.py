"""The tiny Janus through its adapter: VQ round trip, and per-token log-probs from the right head.

Log-prob checks are equivalences: text tokens must match Janus's own forward (`lm_head` logits with the
prompt image as SigLIP features), and image codes must match the generation head applied to a hand-built
input where each response code is embedded as Janus's `generate` embeds it.
"""

from __future__ import annotations

import torch

from omnialign.data.collate import model_inputs, pad_sequences
from omnialign.data.interleaved import RESPONSE_PART, RESPONSE_PIXELS, encoder_for
from omnialign.data.sample import Message, Part, Sample
from omnialign.models.any_to_any import adapter_for
from omnialign.models.any_to_any.tiny_janus import JANUS_CODEBOOK, JANUS_IMAGE_TOKENS
from omnialign.models.backbone import BackboneOptions, load_causal_lm
from omnialign.models.generation.logprobs import response_token_logprobs


def _batch(processor, images, response: tuple[Part, ...]) -> dict[str, torch.Tensor]:
    prompt = Message("user", (Part.of_media(images["dark"]), Part.of_text("Draw it brighter.")))
    sample = Sample(prompt=(prompt,), responses=(response,))
    return pad_sequences([encoder_for(processor).encode(sample)], processor.tokenizer.pad_token_id)


def test_image_round_trip_keeps_the_shape_and_codes_are_in_the_codebook(janus_model, janus_processor, images):
    adapter = adapter_for(janus_model)
    pixels = _batch(janus_processor, images, (Part.of_media(images["bright"]),))[RESPONSE_PIXELS]
    codes = adapter.image_codes(janus_model, pixels)
    assert codes.shape == (1, JANUS_IMAGE_TOKENS) and codes.dtype == torch.long
    assert int(codes.min()) >= 0 and int(codes.max()) < JANUS_CODEBOOK
    decoded = adapter.decode_codes(janus_model, codes)
    assert decoded.shape == pixels.shape
    assert torch.equal(adapter.image_codes(janus_model, pixels), codes)  # the VQ is deterministic


def test_text_tokens_score_as_janus_own_forward(janus_model, janus_processor, images):
    batch = _batch(janus_processor, images, (Part.of_text("A bright square."),))
    ours = response_token_logprobs(janus_model, batch)
    logits = janus_model(**model_inputs(batch)).logits[0, :-1].float()
    reference = logits.log_softmax(-1).gather(-1, batch["input_ids"][0, 1:, None]).squeeze(-1)
    mask = batch["response_mask"][0, 1:].bool()
    assert mask.sum() > 3
    torch.testing.assert_close(ours[0, 1:][mask], reference[mask], atol=1e-5, rtol=1e-5)
    assert torch.all(ours[0, 1:][~mask] == 0)


def test_image_codes_score_with_the_generation_head(janus_model, janus_processor, images):
    response = (Part.of_text("Here: "), Part.of_media(images["bright"]))
    batch = _batch(janus_processor, images, response)
    ours = response_token_logprobs(janus_model, batch)
    image = batch[RESPONSE_PART][0].bool()
    codes = adapter_for(janus_model).image_codes(janus_model, batch[RESPONSE_PIXELS])[0]

    # hand-built input: text embeddings, SigLIP features on the prompt image, code embeddings on the response
    janus = janus_model
    ids = batch["input_ids"]
    embeds = janus.get_input_embeddings()(ids)[0]
    prompt_image = (ids[0] == janus.config.image_token_id) & ~image
    embeds[prompt_image] = janus.model.get_image_features(batch["pixel_values"]).pooler_output[0]
    embeds[image] = janus.prepare_embeddings_for_image_generation(codes)
    hidden = janus.model.language_model(inputs_embeds=embeds[None]).last_hidden_state[0]
    positions = image.nonzero().squeeze(-1)
    head = janus.model.generation_head(hidden[positions - 1]).log_softmax(-1)
    expected = head.gather(-1, codes[:, None]).squeeze(-1)
    torch.testing.assert_close(ours[0, positions], expected, atol=1e-5, rtol=1e-5)
    assert int(image.sum()) == JANUS_IMAGE_TOKENS
    scored = batch["response_mask"][0].bool()
    assert torch.all(ours[0][scored] < 0) and torch.all(ours[0][~scored] == 0)


def test_code_cache_reads_codes_back_without_the_vq(janus_processor, images, tmp_path):
    """First call: 2 distinct images encoded and written; second call: both read from disk (the VQ is made
    to fail); a VQ with other weights gets its own folder."""
    pixels = torch.cat(
        [
            _batch(janus_processor, images, (Part.of_media(images[name]),))[RESPONSE_PIXELS]
            for name in ("dark", "bright", "dark")
        ]
    )
    model = load_causal_lm(BackboneOptions(name="tiny:janus", seed=0), janus_processor)
    cached = adapter_for(model, str(tmp_path))
    first = cached.image_codes(model, pixels)
    assert torch.equal(first, adapter_for(model).image_codes(model, pixels))
    assert len(list(tmp_path.glob("*/*.pt"))) == 2

    def fail(*args, **kwargs):
        raise AssertionError("the VQ ran although every image is cached")

    model.model.vqmodel.encode = fail
    assert torch.equal(adapter_for(model, str(tmp_path)).image_codes(model, pixels), first)

    other = load_causal_lm(BackboneOptions(name="tiny:janus", seed=1), janus_processor)
    adapter_for(other, str(tmp_path)).image_codes(other, pixels)
    assert len(list(tmp_path.glob("*"))) == 2 and len(list(tmp_path.glob("*/*.pt"))) == 4
