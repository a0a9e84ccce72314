"""Diffusion models as one bundle: the trainable denoiser plus the frozen parts around it (VAE, text
encoder, tokenizer, noise scheduler, and for audio the vocoder), loaded the way diffusers users load them
(`DiffusionPipeline.from_pretrained`) or built tiny from constructors (`tiny:<task>`).

The bundle is the modality adapter of the diffusion objectives: it turns prompts into the denoiser's
conditioning and decoded media into latents, so one LightningModule trains text→image (Stable Diffusion
class), text→video (UNet3DCondition, text-to-video-synth class) and text→audio (AudioLDM class). Export goes
back through the pipeline class the model was loaded as, so the folder loads with plain diffusers.

Audio: AudioLDM's VAE works on log-mel spectrograms whose frame rate and bin count are fixed by its HiFi-GAN
vocoder (hop = product of its upsample rates, bins = its input width), so the mel transform is derived from
the vocoder's config here rather than configured separately, and can never disagree with generation.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
from diffusers import DiffusionPipeline, UNet3DConditionModel
from torch import Tensor, nn
from transformers.audio_utils import mel_filter_bank

from omnialign.models.diffusion_tiny import TINY_DIFFUSION_MODELS

TINY_PREFIX = "tiny:"
DiffusionKind = Literal["image", "video", "audio"]
LORA_TARGETS = ["to_q", "to_k", "to_v", "to_out.0"]


@dataclass
class DiffusionLoraOptions:
    """Low-rank adapters on the denoiser's attention projections; with them disabled it is the reference."""

    r: int = 8
    """Adapter rank."""
    alpha: int = 8
    """Scaling numerator (`alpha / r` multiplies the adapter output)."""
    target_modules: list[str] = field(default_factory=lambda: list(LORA_TARGETS))
    """Denoiser layer names that get adapters."""


@dataclass
class DiffusionOptions:
    """Which diffusion model to train."""

    name: str = "tiny:text-to-image"
    """Hub id or local pipeline folder, or `tiny:text-to-image|text-to-video|text-to-audio` (random)."""
    lora: DiffusionLoraOptions | None = None
    """Train low-rank adapters on the denoiser instead of all its weights."""
    pipeline_kwargs: dict[str, Any] = field(default_factory=dict)
    """Extra keyword arguments for `DiffusionPipeline.from_pretrained` (e.g. `revision`, `variant`)."""


def load_pipeline(options: DiffusionOptions) -> DiffusionPipeline:
    if options.name.startswith(TINY_PREFIX):
        task = options.name.removeprefix(TINY_PREFIX)
        if task not in TINY_DIFFUSION_MODELS:
            choices = sorted(TINY_DIFFUSION_MODELS)
            raise ValueError(f"unknown tiny diffusion model '{task}'; choose from {choices}")
        with torch.random.fork_rng():  # the tiny builders seed their weights; leave the caller's RNG alone
            return TINY_DIFFUSION_MODELS[task]()
    return DiffusionPipeline.from_pretrained(options.name, **options.pipeline_kwargs)


def load_tokenizer(options: DiffusionOptions) -> Any:
    """The diffusion model's tokenizer alone (the datamodule needs it before the networks are built)."""
    if options.name.startswith(TINY_PREFIX):
        return load_pipeline(options).tokenizer
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(options.name, subfolder="tokenizer")


class DiffusionModel(nn.Module):
    """Denoiser (`unet`, trainable) + frozen VAE, text encoder and vocoder, with the tokenizer and the noise
    scheduler of the pipeline it came from."""

    def __init__(self, pipeline: DiffusionPipeline) -> None:
        super().__init__()
        components = dict(pipeline.components)
        self.pipeline_class = type(pipeline)
        self.unet: nn.Module = components.pop("unet")
        self.vae: nn.Module = components.pop("vae").eval().requires_grad_(False)
        self.text_encoder: nn.Module = components.pop("text_encoder").eval().requires_grad_(False)
        vocoder = components.pop("vocoder", None)
        self.vocoder: nn.Module | None = vocoder.eval().requires_grad_(False) if vocoder is not None else None
        self.tokenizer = components.pop("tokenizer")
        self.scheduler = components.pop("scheduler")
        self.extras = components  # e.g. safety checker: passed through to export unchanged
        self.kind: DiffusionKind = (
            "audio"
            if self.vocoder is not None
            else "video"
            if isinstance(self.unet, UNet3DConditionModel)
            else "image"
        )

    def train(self, mode: bool = True) -> DiffusionModel:
        """Only the denoiser ever trains; the frozen parts stay in eval mode (no dropout, fixed norms)."""
        self.unet.train(mode)
        return self

    @property
    def latent_scale(self) -> float:
        return float(self.vae.config.scaling_factor)

    @property
    def vae_downsampling(self) -> int:
        return 2 ** (len(self.vae.config.block_out_channels) - 1)

    # -- conditioning --------------------------------------------------------------------------------
    @torch.no_grad()
    def condition(self, input_ids: Tensor, attention_mask: Tensor) -> dict[str, Tensor | None]:
        """The denoiser's text conditioning: CLIP's last hidden states as cross-attention context (image,
        video), or AudioLDM's unit-normalised CLAP text projection as its class embedding (audio)."""
        if self.kind == "audio":
            embeds = self.text_encoder(input_ids, attention_mask=attention_mask).text_embeds
            return {"encoder_hidden_states": None, "class_labels": nn.functional.normalize(embeds, dim=-1)}
        return {"encoder_hidden_states": self.text_encoder(input_ids)[0]}

    # -- media → latents -----------------------------------------------------------------------------
    @torch.no_grad()
    def encode_media(self, media: Tensor, rng: torch.Generator | None = None) -> Tensor:
        """Scaled VAE latents of decoded media: images `[B, 3, H, W]` → `[B, C, h, w]`; videos
        `[B, F, 3, H, W]` → `[B, C, F, h, w]` (frame by frame); waveforms `[B, T]` → log-mel `[B, 1, t, m]`
        → `[B, C, t', m']`. Pixels and samples are in [-1, 1]; `rng` draws the VAE's posterior samples."""
        if self.kind == "video":
            frames = self._vae_latents(media.flatten(0, 1), rng)
            return frames.unflatten(0, media.shape[:2]).transpose(1, 2)
        if self.kind == "audio":
            return self._vae_latents(self.log_mel(media), rng)
        return self._vae_latents(media, rng)

    def _vae_latents(self, pixels: Tensor, rng: torch.Generator | None) -> Tensor:
        dtype = next(self.vae.parameters()).dtype
        return self.vae.encode(pixels.to(dtype)).latent_dist.sample(rng) * self.latent_scale

    def log_mel(self, waveform: Tensor) -> Tensor:
        """Natural-log mel magnitudes `[B, 1, frames, bins]` as AudioLDM's VAE sees them: the vocoder's
        sampling rate, hop (its total upsampling) and bin count; frames cropped to a multiple of the VAE's
        downsampling."""
        config = self.vocoder.config
        hop = math.prod(config.upsample_rates)
        n_fft = 2 ** math.ceil(math.log2(4 * hop))
        filters = mel_filter_bank(
            num_frequency_bins=n_fft // 2 + 1,
            num_mel_filters=config.model_in_dim,
            min_frequency=0.0,
            max_frequency=config.sampling_rate / 2,
            sampling_rate=config.sampling_rate,
            norm="slaney",
            mel_scale="slaney",
        )
        window = torch.hann_window(n_fft, device=waveform.device)
        spectrum = torch.stft(waveform.float(), n_fft, hop, window=window, return_complex=True).abs()
        mel = torch.einsum("bft,fm->btm", spectrum, torch.as_tensor(filters, dtype=spectrum.dtype))
        frames = mel.shape[1] // self.vae_downsampling * self.vae_downsampling
        return mel[:, :frames].clamp_min(1e-5).log().unsqueeze(1)

    # -- export --------------------------------------------------------------------------------------
    def pipeline(self, unet: nn.Module | None = None) -> DiffusionPipeline:
        """A pipeline of the class the model was loaded as, with `unet` (default: the trained one)."""
        parts = {"vae": self.vae, "text_encoder": self.text_encoder, "tokenizer": self.tokenizer}
        if self.vocoder is not None:
            parts["vocoder"] = self.vocoder
        return self.pipeline_class(unet=unet or self.unet, scheduler=self.scheduler, **parts, **self.extras)

    def save_pipeline(self, directory: str | Path) -> Path:
        """`save_pretrained` of the pipeline; LoRA adapters are fused into a copy of the denoiser first, so
        the folder loads with plain `DiffusionPipeline.from_pretrained`. The adapters are also written alone
        in diffusers' LoRA format to `<directory>/lora` (`pipeline.load_lora_weights(that folder)` on the
        base model), for pipeline classes that support LoRA loading."""
        unet = self.unet
        if getattr(unet, "peft_config", None):
            self.save_lora(Path(directory) / "lora")
            unet = copy.deepcopy(unet)
            unet.fuse_lora()
            unet.unload_lora()
        directory = Path(directory)
        self.pipeline(unet).save_pretrained(directory)
        return directory

    def save_lora(self, directory: Path) -> None:
        """The denoiser's LoRA weights as diffusers' `save_lora_weights` writes them (key names converted from
        peft's), if the pipeline class can load LoRA weights at all."""
        if not hasattr(self.pipeline_class, "save_lora_weights"):
            return
        from diffusers.utils import convert_state_dict_to_diffusers
        from peft.utils import get_peft_model_state_dict

        layers = convert_state_dict_to_diffusers(get_peft_model_state_dict(self.unet))
        # The adapter config (rank, alpha, targets) goes along: without it the loader assumes alpha = rank.
        metadata = self.unet.peft_config["default"].to_dict()
        self.pipeline_class.save_lora_weights(
            directory, unet_lora_layers=layers, unet_lora_adapter_metadata=metadata
        )


def add_lora(unet: nn.Module, lora: DiffusionLoraOptions) -> None:
    """Freeze the denoiser and attach trainable adapters (diffusers' peft integration)."""
    from peft import LoraConfig

    unet.requires_grad_(False)
    unet.add_adapter(
        LoraConfig(
            r=lora.r, lora_alpha=lora.alpha, target_modules=lora.target_modules, init_lora_weights=True
        )
    )


def build_diffusion_model(options: DiffusionOptions) -> DiffusionModel:
    model = DiffusionModel(load_pipeline(options))
    if options.lora is not None:
        add_lora(model.unet, options.lora)
    return model
