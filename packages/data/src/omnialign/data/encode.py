"""Sample → token ids (+ media tensors) with an exact response mask, through the model's own chat template.

The prompt is rendered with `add_generation_prompt=True` and encoded on its own; for a multimodal model the
processor decodes nothing itself but receives the prompt's decoded media, expands each placeholder to the
model's patch/frame tokens and returns the media tensors. The response is the rest of the rendered
conversation (its text plus the template's end-of-turn), tokenised on its own and appended. The mask is
therefore exact by construction: it covers the response's tokens and nothing else, and the prompt tokens
(placeholders included) are the very ids the model sees at generation time.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import torch

from omnialign.data.processor_media import ProcessorMedia
from omnialign.data.sample import Message, Part, Sample

PER_TOKEN_KEYS = frozenset({"mm_token_type_ids"})
"""Processor outputs aligned with `input_ids` (0 for text tokens, so response and padding get 0)."""

SELF_POSITIONING = {
    "Qwen2VLProcessor": ("image_grid_thw", "video_grid_thw"),
    "Qwen2_5_VLProcessor": ("image_grid_thw", "video_grid_thw"),
}
"""Per processor family: the media keys from which the model computes its own position ids (3-D M-RoPE from
the patch grids). 1-D position ids would be wrong for their media tokens, so batches holding those keys
carry none; without media, 1-D positions are exactly what M-RoPE gives text, and keep left padding right."""


@dataclass
class EncodedSequence:
    """One prompt (+ response) as token ids; `response_mask[t] = 1` marks a scored response token."""

    input_ids: torch.Tensor
    response_mask: torch.Tensor
    token_inputs: dict[str, torch.Tensor] = field(default_factory=dict)
    """Other per-token model inputs (Qwen2-VL's `mm_token_type_ids`), each as long as `input_ids`."""
    media_inputs: dict[str, torch.Tensor] = field(default_factory=dict)
    """The processor's media tensors, first dimension over images, patches or clips (`pixel_values`,
    `image_grid_thw`, `pixel_values_videos`, `video_grid_thw`, `input_features`, `feature_attention_mask`)."""
    positions_from: tuple[str, ...] = ()
    """Media keys with which the model derives its own position ids (see `SELF_POSITIONING`)."""

    def __len__(self) -> int:
        return int(self.input_ids.shape[0])


def _part(part: Part) -> dict[str, Any]:
    if part.type == "text":
        return {"type": "text", "text": part.text}
    # released templates test for the key itself (`'audio' in content`), so the reference goes under it
    return {"type": part.type, part.type: part.media.describe() if part.media else None}


def _content(parts: tuple[Part, ...]) -> list[dict[str, Any]] | str:
    if all(p.type == "text" for p in parts):
        return "".join(p.text or "" for p in parts)
    return [_part(p) for p in parts]


def chat_messages(messages: tuple[Message, ...]) -> list[dict[str, Any]]:
    """Messages in the list-of-dicts form every transformers chat template accepts."""
    return [{"role": m.role, "content": _content(m.parts)} for m in messages]


class ChatEncoder:
    """Renders samples with the model's chat template and builds exact response masks.

    `processor` is a text model's tokenizer or a multimodal model's processor (Qwen2-VL, LLaVA, Qwen2-Audio
    ...); `video_frames` overrides the number of frames sampled per video.
    """

    def __init__(self, processor: Any, max_length: int = 1024, video_frames: int | None = None) -> None:
        self.processor = processor
        self.tokenizer = getattr(processor, "tokenizer", processor)
        if processor.chat_template is None:
            raise ValueError(
                f"processor '{self.tokenizer.name_or_path}' has no chat template; set one before training"
            )
        self.max_length = max_length
        self.decode_media = ProcessorMedia(processor, video_frames)
        self.positions_from = SELF_POSITIONING.get(type(processor).__name__, ())

    @property
    def is_multimodal(self) -> bool:
        return self.processor is not self.tokenizer

    def _render(self, messages: tuple[Message, ...], add_generation_prompt: bool) -> str:
        # the processor renders: it picks its own template (some ship several) and loads no media
        return self.processor.apply_chat_template(
            chat_messages(messages), tokenize=False, add_generation_prompt=add_generation_prompt
        )

    def render_prompt(self, sample: Sample) -> str:
        return self._render(sample.prompt, add_generation_prompt=True)

    def render_response(self, sample: Sample, response: tuple[Part, ...]) -> str:
        """The text the template appends for the assistant turn, end-of-turn marker included."""
        prompt = self.render_prompt(sample)
        full = self._render((*sample.prompt, Message("assistant", response)), add_generation_prompt=False)
        if not full.startswith(prompt):
            raise ValueError(
                "the chat template renders the prompt differently with and without the assistant turn, "
                f"so the response cannot be delimited exactly ({sample.origin()})"
            )
        return full[len(prompt) :]

    def _ids(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def encode_prompt(self, sample: Sample) -> EncodedSequence:
        """The prompt alone (mask all zero), media tensors included: for generation and rollouts."""
        encoded = self._process(sample) if self.is_multimodal else self._tokenize(sample)
        self._check_prompt_fits(sample, len(encoded))
        return encoded

    def _tokenize(self, sample: Sample) -> EncodedSequence:
        media = sample.prompt_media()
        if media:
            raise ValueError(
                f"{sample.origin()}: the prompt has {media[0].modality} input but the backbone "
                f"'{self.tokenizer.name_or_path}' is text-only; choose a multimodal backbone"
            )
        ids = torch.tensor(self._ids(self.render_prompt(sample)), dtype=torch.long)
        return EncodedSequence(ids, torch.zeros_like(ids))

    def _process(self, sample: Sample) -> EncodedSequence:
        features = self.processor(
            text=[self.render_prompt(sample)],
            add_special_tokens=False,
            return_tensors="pt",
            **self.decode_media(sample),
        )
        ids = features.pop("input_ids")[0]
        features.pop("attention_mask")
        token_inputs = {key: features.pop(key)[0] for key in PER_TOKEN_KEYS & features.keys()}
        return EncodedSequence(ids, torch.zeros_like(ids), token_inputs, dict(features), self.positions_from)

    def encode(self, sample: Sample, response_index: int = 0) -> EncodedSequence:
        """Prompt + the chosen response; the response is cut on the right to fit `max_length`."""
        return self.append_response(self.encode_prompt(sample), sample, response_index)

    def encode_responses(self, sample: Sample) -> list[EncodedSequence]:
        """Prompt + each response in turn, decoding and processing the prompt's media once for all."""
        prompt = self.encode_prompt(sample)
        return [self.append_response(prompt, sample, index) for index in range(len(sample.responses))]

    def append_response(
        self, prompt: EncodedSequence, sample: Sample, response_index: int
    ) -> EncodedSequence:
        """`prompt` (from `encode_prompt(sample)`) followed by one response of `sample`, mask 1 on it."""
        response = self._ids(self.render_response(sample, sample.responses[response_index]))
        response_ids = torch.tensor(response[: self.max_length - len(prompt)], dtype=torch.long)
        mask = torch.cat([torch.zeros_like(prompt.input_ids), torch.ones_like(response_ids)])
        token_inputs = {
            key: torch.cat([value, value.new_zeros(len(response_ids))])
            for key, value in prompt.token_inputs.items()
        }
        return replace(
            prompt,
            input_ids=torch.cat([prompt.input_ids, response_ids]),
            response_mask=mask,
            token_inputs=token_inputs,
        )

    def _check_prompt_fits(self, sample: Sample, prompt_length: int) -> None:
        if prompt_length >= self.max_length:
            raise ValueError(
                f"{sample.origin()}: prompt has {prompt_length} tokens, "
                f"max_length is {self.max_length}; raise max_length or shorten the prompt"
            )
