"""A tiny Emu3-class any-to-any model (like BAAI/Emu3-Chat-hf / Emu3-Gen-hf), built offline from a config.

Emu3 reads and writes images as VQ codes in its one shared vocabulary: each codebook entry is a text token
`<|visual token NNNNNN|>`, and an image is `<|image start|>` + `h*w` + `<|image token|>` + one row of `w`
codes and an end-of-line token (`<|extra_200|>`) per row + `<|extra_201|>` + `<|image end|>`. Sizes: 32 px
images, a VQ that downsamples 8x (4x4 codes, 4 rows of 4 codes + EOL = 20 tokens) from a 64-entry codebook.
"""

from __future__ import annotations

from transformers import (
    Emu3Config,
    Emu3ImageProcessor,
    Emu3Processor,
    Emu3TextConfig,
    Emu3VQVAEConfig,
    PretrainedConfig,
    PreTrainedTokenizerBase,
)

from omnialign.models.chat_templates import IMAGE_TAG_TEMPLATE
from omnialign.models.tiny_text import TEXT_SIZES, token_ids
from omnialign.models.tiny_tokenizer import PAD_TOKEN, build_tiny_tokenizer

EMU3_SIDE = 32
EMU3_CODEBOOK = 64
EMU3_IMAGE_TOKEN = "<image>"
EMU3_MARKERS = {
    "boi_token": "<|image start|>",
    "eoi_token": "<|image end|>",
    "image_wrapper_token": "<|image token|>",
    "eof_token": "<|extra_201|>",
}
EMU3_EOL = "<|extra_200|>"
EMU3_VISUAL_TOKENS = tuple(f"<|visual token {i:06d}|>" for i in range(EMU3_CODEBOOK))
"""The codebook as vocabulary entries, named as Emu3's tokenizer names them (the model reads the code from
the name)."""


def emu3_processor() -> Emu3Processor:
    markers = tuple(EMU3_MARKERS.values())
    tokenizer = build_tiny_tokenizer(
        extra_special_tokens=(EMU3_IMAGE_TOKEN, *markers, EMU3_EOL, *EMU3_VISUAL_TOKENS),
        chat_template=IMAGE_TAG_TEMPLATE,
        bos_token=PAD_TOKEN,  # the processor prepends BOS to every prompt; tiny models' BOS is the pad token
        image_token=EMU3_IMAGE_TOKEN,
        **EMU3_MARKERS,
    )
    tokenizer.image_token_id = tokenizer.convert_tokens_to_ids(EMU3_IMAGE_TOKEN)
    pixels = EMU3_SIDE * EMU3_SIDE
    image_processor = Emu3ImageProcessor(
        min_pixels=pixels, max_pixels=pixels, spatial_factor=8, image_mean=[0.5] * 3, image_std=[0.5] * 3
    )
    return Emu3Processor(
        image_processor=image_processor, tokenizer=tokenizer, chat_template=IMAGE_TAG_TEMPLATE
    )


def emu3_config(tokenizer: PreTrainedTokenizerBase) -> PretrainedConfig:
    vq = Emu3VQVAEConfig(
        codebook_size=EMU3_CODEBOOK,
        embed_dim=4,
        latent_channels=4,
        base_channels=32,
        channel_multiplier=[1, 1, 1, 1],  # three 2x downsamplings: 32 px -> 4x4 codes
        num_res_blocks=1,
        attn_resolutions=[],
        temporal_downsample_factor=2,  # an image is repeated over time and folded back by the VQ
        hidden_size=32,
        num_attention_heads=1,
    )
    ids = token_ids(tokenizer)
    text = Emu3TextConfig(**TEXT_SIZES, **ids, attention_dropout=0.0)
    return Emu3Config(vq_config=vq, text_config=text, vocabulary_map=tokenizer.get_vocab())
