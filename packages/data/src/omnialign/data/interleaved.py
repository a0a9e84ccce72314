"""Responses that interleave text and images, for any-to-any models (Janus, Emu3, Chameleon) that write both.

A response image becomes the family's image span, `<begin_of_image>` + one placeholder per image position +
`<end_of_image>` (Emu3 adds its size text and wrapper after `<begin_of_image>`, and one position per code
row for the row's end-of-line token), exactly as the processor expands an image in a prompt; the
placeholder ids stay in `input_ids` and the image's pixels travel as `response_pixel_values`. The model side
turns those pixels into codes with the model's own VQ encoder when it scores the sequence, so the data
package needs no model and the codes always come from the weights being trained.

Masks: the prompt (template tokens and prompt image placeholders) is 0 in `response_mask`; every response
token is 1. `response_part` labels each token as 1 for an image position (a VQ code, or Emu3's row end) and
0 for text, markers and padding, so objectives can split log-probs and losses per modality (and Janus, which
writes codes through a separate head, knows which head predicts each token).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import torch

from omnialign.data import media
from omnialign.data.encode import ChatEncoder, EncodedSequence
from omnialign.data.sample import Part, Sample

RESPONSE_PIXELS = "response_pixel_values"
"""Batch key of the response images' pixels, in sequence order (not a forward() argument of the model)."""
RESPONSE_PART = "response_part"
"""Per-token batch key: 1 where the token is an image code of a response, else 0."""

INTERLEAVED_PROCESSORS = frozenset({"JanusProcessor", "Emu3Processor", "ChameleonProcessor"})
"""Processor classes of models that write images as codes in their token stream."""


def response_image_inputs(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The response images of an interleaved batch and their positions, which a network that reads whole
    sequences (a score model) needs besides `collate.model_inputs`; empty for other batches."""
    return {key: batch[key] for key in (RESPONSE_PART, RESPONSE_PIXELS) if key in batch}


def writes_images(processor: Any) -> bool:
    """Whether the processor belongs to an any-to-any model whose responses may hold images."""
    return type(processor).__name__ in INTERLEAVED_PROCESSORS


class InterleavedEncoder(ChatEncoder):
    """`ChatEncoder` whose responses may interleave text and images (prompts encode as for any image LM)."""

    def __init__(self, processor: Any, max_length: int = 1024, video_frames: int | None = None) -> None:
        if processor.chat_template is None:
            # ChameleonProcessor takes no chat_template argument, so a saved one is lost on reload; the
            # tokenizer keeps the family's template, which is the one the processor was saved with
            processor.chat_template = processor.tokenizer.chat_template
        super().__init__(processor, max_length, video_frames)
        self.image_token: str = processor.image_token
        self.image_token_id: int = self.tokenizer.convert_tokens_to_ids(self.image_token)
        self.begin_id: int = self.tokenizer.convert_tokens_to_ids(processor.image_start_token)
        self.end_id: int = self.tokenizer.convert_tokens_to_ids(processor.image_end_token)

    def image_span(self, image: Any) -> tuple[torch.Tensor, torch.Tensor]:
        """`<boi>` ... `<eoi>` ids of one image (a PIL image) as a response writes it, and its pixels
        `[1, C, H, W]`. Processors wrap what they encode (Emu3 prepends BOS whatever `add_special_tokens`
        says, Chameleon appends its chat separator), so the span is cut out between its markers."""
        features = self.processor(
            text=[self.image_token], images=[image], add_special_tokens=False, return_tensors="pt"
        )
        ids = features["input_ids"][0]
        begins, ends = (ids == self.begin_id).nonzero(), (ids == self.end_id).nonzero()
        if len(begins) != 1 or len(ends) != 1:
            raise ValueError(f"{type(self.processor).__name__} did not encode one image span: {ids.tolist()}")
        return ids[int(begins[0]) : int(ends[0]) + 1], features["pixel_values"]

    def _response_pieces(self, sample: Sample, response: tuple[Part, ...]) -> tuple[list, list]:
        """Token id runs of the rendered response in order, and the pixels of its images."""
        texts = self.render_response(sample, response).split(self.image_token)
        images = [part for part in response if part.type == "image"]
        if len(texts) != len(images) + 1:
            raise ValueError(
                f"{sample.origin()}: response text contains the image token '{self.image_token}'"
            )
        pieces, pixels = [torch.tensor(self._ids(texts[0]), dtype=torch.long)], []
        for image, text in zip(images, texts[1:], strict=True):
            ids, values = self.image_span(media.load_image(image.media))
            pieces += [ids, torch.tensor(self._ids(text), dtype=torch.long)]
            pixels.append(values)
        return pieces, pixels

    def append_response(
        self, prompt: EncodedSequence, sample: Sample, response_index: int
    ) -> EncodedSequence:
        """`prompt` + one response with text and images; refuses to cut an image, since a partial code grid
        cannot be scored."""
        pieces, pixels = self._response_pieces(sample, sample.responses[response_index])
        response_ids = torch.cat(pieces)
        budget = self.max_length - len(prompt)
        if pixels and len(response_ids) > budget:
            raise ValueError(
                f"{sample.origin()}: the response ({len(response_ids)} tokens with its images) does not fit "
                f"max_length {self.max_length} after a {len(prompt)}-token prompt; raise max_length"
            )
        response_ids = response_ids[:budget]
        part = (response_ids == self.image_token_id).long()
        token_inputs = {
            key: torch.cat([value, value.new_zeros(len(response_ids))])
            for key, value in prompt.token_inputs.items()
        }
        token_inputs[RESPONSE_PART] = torch.cat([torch.zeros_like(prompt.input_ids), part])
        media_inputs = dict(prompt.media_inputs)
        if pixels:
            media_inputs[RESPONSE_PIXELS] = torch.cat(pixels)
        return replace(
            prompt,
            input_ids=torch.cat([prompt.input_ids, response_ids]),
            response_mask=torch.cat([torch.zeros_like(prompt.input_ids), torch.ones_like(response_ids)]),
            token_inputs=token_inputs,
            media_inputs=media_inputs,
        )


def encoder_for(processor: Any, max_length: int = 1024, video_frames: int | None = None) -> ChatEncoder:
    """The encoder a processor needs: interleaved for any-to-any models, the plain chat encoder otherwise."""
    cls = InterleavedEncoder if writes_images(processor) else ChatEncoder
    return cls(processor, max_length=max_length, video_frames=video_frames)
