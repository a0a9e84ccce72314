"""Tiny multimodal backbones and their real processors, built offline from configs.

Each family pairs the tiny tokenizer (plus the family's own placeholder tokens and a chat template in the
family's style) with transformers' own processor and model classes, so placeholder expansion, the extra
tensors and the forward pass are the code real checkpoints run. Media are kept tiny (56 px images for
Qwen2-VL, 28 px for LLaVA, 4 video frames, 1 s of audio) so a forward pass takes milliseconds on CPU.
"""

from __future__ import annotations

from transformers import (
    CLIPImageProcessor,
    CLIPVisionConfig,
    LlamaConfig,
    LlavaConfig,
    LlavaProcessor,
    PretrainedConfig,
    PreTrainedTokenizerBase,
    Qwen2AudioConfig,
    Qwen2AudioEncoderConfig,
    Qwen2AudioProcessor,
    Qwen2Config,
    Qwen2VLConfig,
    Qwen2VLImageProcessor,
    Qwen2VLProcessor,
    Qwen2VLVideoProcessor,
    WhisperFeatureExtractor,
)
from transformers.models.qwen2_vl.configuration_qwen2_vl import Qwen2VLTextConfig, Qwen2VLVisionConfig

from omnialign.models.chat_templates import LLAVA_TEMPLATE, QWEN2_AUDIO_TEMPLATE, QWEN2_VL_TEMPLATE
from omnialign.models.tiny_text import TEXT_SIZES, token_ids
from omnialign.models.tiny_tokenizer import build_tiny_tokenizer

VISION_WIDTH = 32
"""Hidden size of every tiny vision or audio tower."""

# -- Qwen2-VL: images and videos as flattened 14 px patches, merged 2x2 into one token each -----------------
QWEN2_VL_TOKENS = ("<|vision_start|>", "<|vision_end|>", "<|image_pad|>", "<|video_pad|>")
QWEN2_VL_SIDE = 56
"""Every image and video frame is resized to 56x56: 4x4 patches, merged into 4 tokens per image."""
QWEN2_VL_FRAMES = 4
"""Frames the encoder samples per video; 2 temporal patches of 2 frames, so 8 tokens per video."""


def qwen2_vl_processor() -> Qwen2VLProcessor:
    pixels = {"shortest_edge": QWEN2_VL_SIDE * QWEN2_VL_SIDE, "longest_edge": QWEN2_VL_SIDE * QWEN2_VL_SIDE}
    patching = {"patch_size": 14, "temporal_patch_size": 2, "merge_size": 2}
    return Qwen2VLProcessor(
        image_processor=Qwen2VLImageProcessor(size=pixels, **patching),
        video_processor=Qwen2VLVideoProcessor(
            size=pixels, num_frames=QWEN2_VL_FRAMES, cap_pixels_per_frame=True, **patching
        ),
        tokenizer=build_tiny_tokenizer(extra_special_tokens=QWEN2_VL_TOKENS, chat_template=QWEN2_VL_TEMPLATE),
        chat_template=QWEN2_VL_TEMPLATE,
    )


def qwen2_vl_config(tokenizer: PreTrainedTokenizerBase) -> PretrainedConfig:
    head_half = TEXT_SIZES["hidden_size"] // TEXT_SIZES["num_attention_heads"] // 2
    mrope_section = [head_half - 2 * (head_half // 3), head_half // 3, head_half // 3]  # t, h, w: [2, 3, 3]
    text = Qwen2VLTextConfig(
        **TEXT_SIZES,
        rope_parameters={"rope_type": "default", "rope_theta": 10000.0, "mrope_section": mrope_section},
        **token_ids(tokenizer),
    )
    vision = Qwen2VLVisionConfig(
        depth=1,
        embed_dim=VISION_WIDTH,
        hidden_size=TEXT_SIZES["hidden_size"],
        num_heads=2,
        mlp_ratio=2,
        patch_size=14,
        spatial_merge_size=2,
        temporal_patch_size=2,
    )
    ids = tokenizer.convert_tokens_to_ids(list(QWEN2_VL_TOKENS))
    return Qwen2VLConfig(
        text_config=text,
        vision_config=vision,
        vision_start_token_id=ids[0],
        vision_end_token_id=ids[1],
        image_token_id=ids[2],
        video_token_id=ids[3],
    )


# -- LLaVA-1.5: a CLIP tower whose patch features (CLS dropped) replace `<image>` one-for-one ---------------
LLAVA_IMAGE_TOKEN = "<image>"
LLAVA_SIDE = 28
LLAVA_PATCH = 14


def llava_processor() -> LlavaProcessor:
    return LlavaProcessor(
        image_processor=CLIPImageProcessor(
            size={"shortest_edge": LLAVA_SIDE}, crop_size={"height": LLAVA_SIDE, "width": LLAVA_SIDE}
        ),
        tokenizer=build_tiny_tokenizer(
            extra_special_tokens=(LLAVA_IMAGE_TOKEN,), chat_template=LLAVA_TEMPLATE
        ),
        patch_size=LLAVA_PATCH,
        vision_feature_select_strategy="default",
        num_additional_image_tokens=1,  # CLIP's CLS token, which the "default" strategy drops again
        chat_template=LLAVA_TEMPLATE,
    )


def llava_config(tokenizer: PreTrainedTokenizerBase) -> PretrainedConfig:
    vision = CLIPVisionConfig(
        hidden_size=VISION_WIDTH,
        intermediate_size=2 * VISION_WIDTH,
        num_hidden_layers=2,
        num_attention_heads=2,
        image_size=LLAVA_SIDE,
        patch_size=LLAVA_PATCH,
    )
    return LlavaConfig(
        vision_config=vision,
        text_config=LlamaConfig(**TEXT_SIZES, **token_ids(tokenizer)),
        image_token_index=tokenizer.convert_tokens_to_ids(LLAVA_IMAGE_TOKEN),
        image_seq_length=(LLAVA_SIDE // LLAVA_PATCH) ** 2,
        vision_feature_select_strategy="default",
        vision_feature_layer=-2,
    )


# -- Qwen2-Audio: Whisper log-mel features, one `<|AUDIO|>` token per pooled encoder frame -------------------
QWEN2_AUDIO_TOKENS = ("<|audio_bos|>", "<|AUDIO|>", "<|audio_eos|>")
AUDIO_RATE = 16_000
AUDIO_MEL_BINS = 16
AUDIO_SECONDS = 1
"""Clips are padded or cut to 1 s: 100 mel frames, 50 encoder positions."""


def qwen2_audio_processor() -> Qwen2AudioProcessor:
    features = WhisperFeatureExtractor(
        feature_size=AUDIO_MEL_BINS, sampling_rate=AUDIO_RATE, hop_length=160, chunk_length=AUDIO_SECONDS
    )
    return Qwen2AudioProcessor(
        feature_extractor=features,
        tokenizer=build_tiny_tokenizer(
            extra_special_tokens=QWEN2_AUDIO_TOKENS, chat_template=QWEN2_AUDIO_TEMPLATE
        ),
        chat_template=QWEN2_AUDIO_TEMPLATE,
    )


def qwen2_audio_config(tokenizer: PreTrainedTokenizerBase) -> PretrainedConfig:
    frames = AUDIO_SECONDS * AUDIO_RATE // 160
    audio = Qwen2AudioEncoderConfig(
        num_mel_bins=AUDIO_MEL_BINS,
        encoder_layers=1,
        encoder_attention_heads=2,
        encoder_ffn_dim=2 * VISION_WIDTH,
        d_model=VISION_WIDTH,
        max_source_positions=frames // 2,  # the encoder's stride-2 convolution halves the mel frames
    )
    return Qwen2AudioConfig(
        audio_config=audio,
        text_config=Qwen2Config(**TEXT_SIZES, **token_ids(tokenizer)),
        audio_token_index=tokenizer.convert_tokens_to_ids(QWEN2_AUDIO_TOKENS[1]),
    )
