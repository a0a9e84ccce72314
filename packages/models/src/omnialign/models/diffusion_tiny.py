"""Random-weight tiny diffusion models built from constructors, so diffusion tests and CPU recipes need no
hub.

Each mirrors the layout of a real family at toy width: text→image is Stable-Diffusion-class (CLIP text
encoder, UNet2DCondition with cross-attention, AutoencoderKL), text→video is text-to-video-synth-class (the
same with a UNet3DCondition over `[B, C, F, H, W]` latents and a per-frame image VAE), text→audio is
AudioLDM-class (CLAP text projection fed to the UNet as a class embedding, a one-channel VAE over log-mel
spectrograms, a HiFi-GAN vocoder back to waveforms). The VAEs have two blocks, so latents are half the
pixel (or mel) size: a 16x16 image trains on 4x8x8 latents.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from diffusers import (
    AudioLDMPipeline,
    AutoencoderKL,
    DDPMScheduler,
    DiffusionPipeline,
    StableDiffusionPipeline,
    TextToVideoSDPipeline,
    UNet2DConditionModel,
    UNet3DConditionModel,
)
from tokenizers.pre_tokenizers import ByteLevel
from transformers import (
    ClapTextConfig,
    ClapTextModelWithProjection,
    CLIPTextConfig,
    CLIPTextModel,
    CLIPTokenizer,
    RobertaTokenizer,
    SpeechT5HifiGan,
    SpeechT5HifiGanConfig,
)

TOKEN_LENGTH = 16
"""Prompt length of the tiny tokenizers (Stable Diffusion uses CLIP's 77)."""
WIDTH = 16
"""Hidden width of every tiny text encoder (and the UNets' cross-attention width)."""


def _byte_alphabet() -> list[str]:
    return sorted(ByteLevel.alphabet())


def tiny_clip_tokenizer() -> CLIPTokenizer:
    """CLIP's BPE with one token per byte (and per word-final byte) and no merges: it encodes every string,
    so it needs no trained vocabulary."""
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for suffix in ("", "</w>"):
        vocab.update({char + suffix: len(vocab) + i for i, char in enumerate(_byte_alphabet())})
    return CLIPTokenizer(vocab=vocab, merges=[], model_max_length=TOKEN_LENGTH)


def tiny_roberta_tokenizer() -> RobertaTokenizer:
    """RoBERTa's byte-level BPE (CLAP's tokenizer) with one token per byte and no merges."""
    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}
    vocab.update({char: len(vocab) + i for i, char in enumerate(_byte_alphabet())})
    return RobertaTokenizer(vocab=vocab, merges=[], model_max_length=TOKEN_LENGTH)


def _vae(channels: int) -> AutoencoderKL:
    return AutoencoderKL(
        in_channels=channels,
        out_channels=channels,
        down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
        up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"),
        block_out_channels=(8, 16),
        latent_channels=4,
        norm_num_groups=8,
        sample_size=16,
    )


def _clip_text_encoder(tokenizer: CLIPTokenizer) -> CLIPTextModel:
    config = CLIPTextConfig(
        vocab_size=len(tokenizer),
        hidden_size=WIDTH,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        max_position_embeddings=TOKEN_LENGTH,
        bos_token_id=0,
        eos_token_id=1,
        pad_token_id=1,
    )
    return CLIPTextModel(config)


def _scheduler() -> DDPMScheduler:
    return DDPMScheduler(
        num_train_timesteps=1000, beta_schedule="scaled_linear", clip_sample=False, steps_offset=1
    )


def text_to_image() -> StableDiffusionPipeline:
    torch.manual_seed(0)
    tokenizer = tiny_clip_tokenizer()
    unet = UNet2DConditionModel(
        sample_size=8,
        in_channels=4,
        out_channels=4,
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        block_out_channels=(16, 32),
        layers_per_block=1,
        norm_num_groups=8,
        cross_attention_dim=WIDTH,
        attention_head_dim=4,
    )
    return StableDiffusionPipeline(
        vae=_vae(3),
        text_encoder=_clip_text_encoder(tokenizer),
        tokenizer=tokenizer,
        unet=unet,
        scheduler=_scheduler(),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )


def text_to_video() -> TextToVideoSDPipeline:
    torch.manual_seed(0)
    tokenizer = tiny_clip_tokenizer()
    unet = UNet3DConditionModel(
        sample_size=8,
        in_channels=4,
        out_channels=4,
        down_block_types=("CrossAttnDownBlock3D", "DownBlock3D"),
        up_block_types=("UpBlock3D", "CrossAttnUpBlock3D"),
        block_out_channels=(16, 32),
        layers_per_block=1,
        norm_num_groups=8,
        cross_attention_dim=WIDTH,
        attention_head_dim=4,
    )
    return TextToVideoSDPipeline(
        vae=_vae(3),
        text_encoder=_clip_text_encoder(tokenizer),
        tokenizer=tokenizer,
        unet=unet,
        scheduler=_scheduler(),
    )


def text_to_audio() -> AudioLDMPipeline:
    """AudioLDM at toy size: 16 mel bins at 16 kHz with a hop of 64 samples (the vocoder's total upsampling),
    so one second of audio is a 250x16 spectrogram."""
    torch.manual_seed(0)
    tokenizer = tiny_roberta_tokenizer()
    text_encoder = ClapTextModelWithProjection(
        ClapTextConfig(
            vocab_size=len(tokenizer),
            hidden_size=WIDTH,
            intermediate_size=32,
            num_hidden_layers=1,
            num_attention_heads=2,
            max_position_embeddings=TOKEN_LENGTH + 2,
            projection_dim=WIDTH,
            bos_token_id=0,
            eos_token_id=2,
            pad_token_id=1,
        )
    )
    unet = UNet2DConditionModel(
        sample_size=8,
        in_channels=4,
        out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        block_out_channels=(16, 32),
        layers_per_block=1,
        norm_num_groups=8,
        cross_attention_dim=(16, 32),
        attention_head_dim=4,
        class_embed_type="simple_projection",
        projection_class_embeddings_input_dim=WIDTH,
        class_embeddings_concat=True,
    )
    vocoder = SpeechT5HifiGan(
        SpeechT5HifiGanConfig(
            model_in_dim=16,
            sampling_rate=16000,
            upsample_initial_channel=16,
            upsample_rates=[8, 8],
            upsample_kernel_sizes=[16, 16],
            resblock_kernel_sizes=[3],
            resblock_dilation_sizes=[[1, 3]],
            normalize_before=False,
        )
    )
    return AudioLDMPipeline(
        vae=_vae(1),
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        unet=unet,
        scheduler=_scheduler(),
        vocoder=vocoder,
    )


TINY_DIFFUSION_MODELS: dict[str, Callable[[], DiffusionPipeline]] = {
    "text-to-image": text_to_image,
    "text-to-video": text_to_video,
    "text-to-audio": text_to_audio,
}
