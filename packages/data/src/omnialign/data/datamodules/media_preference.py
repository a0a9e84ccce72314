"""Prompt → media preference pairs for diffusion models: align-anything text-to-image/video/audio and
SafeSora.

A batch of B pairs holds the B prompts once (token ids padded to the tokenizer's full length, as diffusion
text encoders expect) and 2B decoded media: the first response of every pair, then the second, the same
order as `PreferenceDataModule`, so `pair_by_winner` splits them; `targets['chosen']` says which one the
selected preference dimension prefers. Media are decoded to the fixed size the diffusion model trains at:
images `[3, H, W]` and videos `[F, 3, H, W]` in [-1, 1], audio as mono waveforms of a fixed length.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from omnialign.data.datamodules.base import SampleDataModule
from omnialign.data.media import load_audio, load_image, load_video
from omnialign.data.records import get_schema
from omnialign.data.sample import LabelKey, MediaRef, Sample


@dataclass
class MediaPairItem:
    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    first: torch.Tensor
    second: torch.Tensor
    targets: dict[str, torch.Tensor]


def _signed_pixels(frames: np.ndarray) -> torch.Tensor:
    """uint8 `[..., H, W, 3]` → float `[..., 3, H, W]` in [-1, 1]."""
    return torch.from_numpy(np.array(frames)).movedim(-1, -3).float() / 127.5 - 1.0


class MediaPreferenceDataModule(SampleDataModule):
    """Pairs of generated media for one prompt; the processor is the diffusion model's tokenizer."""

    def __init__(
        self,
        *args: Any,
        schema: str = "align-anything/text-to-image",
        dimension: str | None = None,
        size: tuple[int, int] = (16, 16),
        num_frames: int = 4,
        sample_rate: int = 16000,
        audio_seconds: float = 1.0,
        **kwargs: Any,
    ) -> None:
        """
        Args:
            schema: Record schema: `align-anything/text-to-image`, `align-anything/text-to-video`,
                `align-anything/text-to-audio` or `safesora/pairs`.
            dimension: Preference dimension that decides `chosen` (align-anything: `overall`, ...; SafeSora:
                `helpfulness`, `harmlessness` or a sub-preference such as `aesthetics`). None: the schema's
                own default dimension; a name the schema lacks is an error here, before any model is built.
            size: (height, width) images and video frames are resized to; a multiple of the VAE's
                downsampling (8 for Stable Diffusion).
            num_frames: Frames sampled uniformly from each video.
            sample_rate: Audio sampling rate (the diffusion model's vocoder rate: 16000 for AudioLDM).
            audio_seconds: Audio is cropped or zero-padded to this length.
        """
        super().__init__(*args, **kwargs)
        self.schema = schema
        get_schema(schema).check_dimension(dimension)  # fail on an unknown name now, not at setup
        self.dimension = dimension
        self.size = tuple(size)
        self.num_frames = num_frames
        self.sample_rate = sample_rate
        self.audio_samples = round(audio_seconds * sample_rate)

    def load_options(self) -> dict[str, Any]:
        return {"dimension": self.dimension}

    def attach_processor(self, processor: Any) -> None:
        """Diffusion prompts are plain text: the tokenizer alone, no chat template."""
        self.processor = processor

    def decode(self, ref: MediaRef) -> torch.Tensor:
        if ref.modality == "image":
            return _signed_pixels(np.asarray(load_image(ref, self.size)))
        if ref.modality == "video":
            return _signed_pixels(load_video(ref, self.num_frames, self.size))
        wave = load_audio(ref, self.sample_rate)[: self.audio_samples]
        return torch.from_numpy(np.pad(wave, (0, self.audio_samples - wave.shape[0])))

    def _response_media(self, sample: Sample, index: int) -> torch.Tensor:
        refs = [part.media for part in sample.responses[index] if part.media is not None]
        if len(refs) != 1:
            raise ValueError(f"{sample.origin()}: response {index} must hold exactly one media item")
        return self.decode(refs[0])

    def encode(self, sample: Sample, index: int) -> MediaPairItem:
        if len(sample.responses) != 2:
            raise ValueError(f"{sample.origin()}: a preference sample needs 2 responses")
        tokens = self.processor(
            sample.prompt[-1].text,
            padding="max_length",
            max_length=self.processor.model_max_length,
            truncation=True,
            return_tensors="pt",
        )
        targets = {
            "index": torch.tensor(index, dtype=torch.long),
            "chosen": torch.tensor(sample.labels[LabelKey.CHOSEN], dtype=torch.long),
        }
        first, second = (self._response_media(sample, i) for i in (0, 1))
        return MediaPairItem(tokens.input_ids[0], tokens.attention_mask[0], first, second, targets)

    def collate(self, items: list[MediaPairItem]) -> dict[str, Any]:
        return {
            "input_ids": torch.stack([i.input_ids for i in items]),
            "attention_mask": torch.stack([i.attention_mask for i in items]),
            "media": torch.stack([i.first for i in items] + [i.second for i in items]),
            "targets": {key: torch.stack([i.targets[key] for i in items]) for key in items[0].targets},
        }
