"""A prompt's media, decoded into the keyword arguments of the model's own processor.

Decoding follows the processor: audio is resampled to its feature extractor's rate, videos are sampled to
the frame count its video processor asks for, images stay full size (the processor resizes them its way).
A medium the processor has no component for is an error naming the sample, never silently dropped.
"""

from __future__ import annotations

from typing import Any

from omnialign.data import media
from omnialign.data.sample import MediaRef, Sample

DEFAULT_VIDEO_FRAMES = 8
"""Frames per video when neither the caller nor the video processor names a count (Qwen2-VL ships `fps`)."""

# modality -> (processor component that consumes it, processor keyword that receives it)
_ROUTES = {
    "image": ("image_processor", "images"),
    "video": ("video_processor", "videos"),
    "audio": ("feature_extractor", "audio"),
}


class ProcessorMedia:
    """Decodes the media of a sample for one processor."""

    def __init__(self, processor: Any, video_frames: int | None = None) -> None:
        self.processor = processor
        video_processor = getattr(processor, "video_processor", None)
        self.video_frames = (
            video_frames or getattr(video_processor, "num_frames", None) or DEFAULT_VIDEO_FRAMES
        )

    def supports(self, modality: str) -> bool:
        return hasattr(self.processor, _ROUTES[modality][0])

    def __call__(self, sample: Sample) -> dict[str, Any]:
        """`images`, `videos`, `audio` (+ `sampling_rate`) lists, in prompt order, for `processor(...)`."""
        kwargs: dict[str, Any] = {}
        for ref in sample.prompt_media():
            if not self.supports(ref.modality):
                raise ValueError(
                    f"{sample.origin()}: the backbone's processor ({type(self.processor).__name__}) takes no "
                    f"{ref.modality} input; choose a backbone for this modality"
                )
            kwargs.setdefault(_ROUTES[ref.modality][1], []).append(self._decode(ref))
        if "audio" in kwargs:
            kwargs["sampling_rate"] = self.processor.feature_extractor.sampling_rate
        return kwargs

    def _decode(self, ref: MediaRef) -> Any:
        if ref.modality == "image":
            return media.load_image(ref)
        if ref.modality == "video":
            return media.load_video(ref, num_frames=self.video_frames)
        return media.load_audio(ref, sample_rate=self.processor.feature_extractor.sampling_rate)
