"""Prompts in, media files out: a diffusers text-to-image/video/audio pipeline as a generation backend.

Used wherever a stage must *see* what a diffusion model makes from a prompt (LLF's prompt refinement for
generation modalities, SafeSora's prompt-augmentation module): the media are written as files and come back
as `MediaRef`s, so the feedback model, score models and the written datasets all treat them like any other
media. Every prompt of a batch is generated from the same seed, so two prompts differ only in the prompt:
comparing media of an original and a refined prompt compares the prompts, not the noise.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from diffusers import DiffusionPipeline

from omnialign.data.media_writing import save_audio, save_image, save_video
from omnialign.data.sample import MediaRef
from omnialign.models.diffusion import DiffusionKind, DiffusionOptions, build_diffusion_model


@dataclass
class MediaGenerationOptions:
    """How media are generated (pipeline call arguments; `None` leaves the pipeline's default)."""

    num_inference_steps: int = 25
    guidance_scale: float | None = None
    height: int | None = None
    width: int | None = None
    num_frames: int | None = None
    """Video frames."""
    audio_length_in_s: float | None = None
    fps: int = 8
    """Frame rate the videos are written with."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Any other pipeline keyword (e.g. `negative_prompt`)."""

    def call_kwargs(self, kind: DiffusionKind) -> dict[str, Any]:
        names = {"image": ("height", "width"), "video": ("height", "width", "num_frames")}
        named = {"audio": ("audio_length_in_s",)}.get(kind, names.get(kind, ()))
        kwargs = {name: getattr(self, name) for name in named if getattr(self, name) is not None}
        if self.guidance_scale is not None:
            kwargs["guidance_scale"] = self.guidance_scale
        return {"num_inference_steps": self.num_inference_steps, **kwargs, **self.extra}


class MediaGenerator:
    """A loaded pipeline that writes its outputs under `output_dir`."""

    def __init__(
        self,
        pipeline: DiffusionPipeline,
        kind: DiffusionKind,
        output_dir: str | Path,
        options: MediaGenerationOptions | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.kind = kind
        self.output_dir = Path(output_dir)
        self.options = options or MediaGenerationOptions()
        self.pipeline.set_progress_bar_config(disable=True)  # the calling stage reports progress per batch

    @staticmethod
    def load(
        name: str, output_dir: str | Path, options: MediaGenerationOptions | None = None
    ) -> MediaGenerator:
        """From a hub id, a pipeline folder (an OmniAlign diffusion export) or `tiny:text-to-<kind>`."""
        model = build_diffusion_model(DiffusionOptions(name=name))
        return MediaGenerator(model.pipeline(), model.kind, output_dir, options)

    @property
    def device(self) -> torch.device:
        return self.pipeline.device

    @torch.no_grad()
    def generate(self, prompts: list[str], seed: int) -> list[MediaRef]:
        """One media file per prompt, each from a `torch.Generator` freshly seeded with `seed` (prompts run
        one at a time: video pipelines draw their per-step noise from a single `torch.Generator`, so a batch
        could not give every prompt the same noise)."""
        return [MediaRef(self.kind, path=str(self._generate_one(prompt, seed))) for prompt in prompts]

    def _generate_one(self, prompt: str, seed: int) -> Path:
        rng = torch.Generator(self.device).manual_seed(seed)
        out = self.pipeline(prompt, generator=rng, output_type="np", **self.options.call_kwargs(self.kind))
        if self.kind == "image":
            return save_image(out.images[0], self.output_dir)
        if self.kind == "video":
            return save_video(out.frames[0], self.output_dir, fps=self.options.fps)
        return save_audio(out.audios[0], self.pipeline.vocoder.config.sampling_rate, self.output_dir)
