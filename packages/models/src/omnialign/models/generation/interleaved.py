"""Answer a prompt with text and an image, for every any-to-any family, through its adapter.

The answer is written the way these models write one: text is sampled until the end of the turn or until
the model opens an image (`<begin_of_image>`), then the image's codes are sampled with classifier-free
guidance, conditioned on the prompt and the text so far, and decoded to pixels by the model's own VQ.
`always_draw` asks for an image even when the model closed its turn without opening one (text-to-image
prompts; tiny random models rarely open one by themselves). One image per answer: a Janus image in the
context is read through its generation embeddings, which text generation through `generate` cannot do.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from PIL import Image
from torch import Tensor, nn

from omnialign.data.interleaved import InterleavedEncoder, encoder_for
from omnialign.data.sample import Sample
from omnialign.models.any_to_any import ImageMarkers, adapter_for


@dataclass
class Answer:
    """What the model wrote: its text, then the images it drew (PIL, RGB)."""

    text: str
    images: list[Image.Image] = field(default_factory=list)


def to_pil(pixels: Tensor, image_processor) -> list[Image.Image]:
    """`[N, C, H, W]` pixels in the processor's normalised range -> RGB images, by undoing its normalisation
    and rescaling (`(x * std + mean) / rescale_factor`)."""
    mean = torch.tensor(image_processor.image_mean).view(1, -1, 1, 1)
    std = torch.tensor(image_processor.image_std).view(1, -1, 1, 1)
    values = (pixels.detach().float().cpu() * std + mean) / image_processor.rescale_factor
    array = values.clamp(0, 255).round().byte().permute(0, 2, 3, 1).numpy()
    return [Image.fromarray(image, mode="RGB") for image in array]


def _template_image(processor) -> Image.Image:
    """A blank image at the processor's output size, whose span gives the grid of a drawn image."""
    size = processor.image_processor.size
    side = int(size.get("height") or size.get("shortest_edge") or size["max_pixels"] ** 0.5)
    return Image.new("RGB", (side, side))


@dataclass
class InterleavedGenerator:
    """Samples answers of one any-to-any model; `guidance_scale` mixes conditional and unconditional code
    logits, `always_draw` draws an image after the text even when the model did not open one."""

    model: nn.Module
    processor: object
    max_new_tokens: int = 32
    guidance_scale: float = 5.0
    always_draw: bool = True

    def __post_init__(self) -> None:
        self.encoder: InterleavedEncoder = encoder_for(self.processor)
        self.adapter = adapter_for(self.model)
        if self.adapter is None:
            raise ValueError(f"'{type(self.model).__name__}' writes no images; use an any-to-any model")
        self.markers = ImageMarkers.of(self.processor)
        self.span, _ = self.encoder.image_span(_template_image(self.processor))

    @torch.no_grad()
    def answer(self, sample: Sample) -> Answer:
        prompt = self.encoder.encode_prompt(sample)
        device = next(self.model.parameters()).device
        ids = prompt.input_ids.unsqueeze(0).to(device)
        media = {key: value.to(device) for key, value in prompt.media_inputs.items()}
        tokenizer = self.encoder.tokenizer
        out = self.model.generate(
            input_ids=ids,
            attention_mask=torch.ones_like(ids),
            **media,
            max_new_tokens=self.max_new_tokens,
            do_sample=True,
            eos_token_id=[tokenizer.eos_token_id, self.markers.begin],
            pad_token_id=tokenizer.pad_token_id,
        )
        written = out[0, ids.shape[1] :]
        stopped = len(written) > 0 and int(written[-1]) in (tokenizer.eos_token_id, self.markers.begin)
        opened = stopped and int(written[-1]) == self.markers.begin
        text = tokenizer.decode(written, skip_special_tokens=True)
        if not (opened or self.always_draw):
            return Answer(text)
        context = torch.cat([ids[0], written[:-1] if stopped else written]).unsqueeze(0)
        codes = self.adapter.sample_image_codes(
            self.model, {"input_ids": context, **media}, self.span, self.guidance_scale
        )
        pixels = self.adapter.decode_codes(self.model, codes)
        return Answer(text, to_pil(pixels.cpu(), self.processor.image_processor))
