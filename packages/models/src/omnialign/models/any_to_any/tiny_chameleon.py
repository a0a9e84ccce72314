"""A tiny Chameleon-class any-to-any model (like facebook/chameleon-7b), built offline from a config.

Chameleon reads and writes images as VQ codes in its shared vocabulary: codebook entry `k` is the text token
`IMGIMG<k in letters>Z` (digits spelled A-J, the model reads the code back from the name), and an image is
`<racm3:break>` + one code per VQ position + `<eoss>`. Sizes: 32 px images, a VQ that downsamples 8x (4x4 =
16 codes) from a 64-entry codebook. transformers ships Chameleon's VQ encoder but no decoder (the public
checkpoints were released without image generation), so this family encodes images but cannot draw them.
"""

from __future__ import annotations

from transformers import (
    ChameleonConfig,
    ChameleonImageProcessor,
    ChameleonProcessor,
    ChameleonVQVAEConfig,
    PretrainedConfig,
    PreTrainedTokenizerBase,
)

from omnialign.models.chat_templates import IMAGE_TAG_TEMPLATE
from omnialign.models.tiny_text import TEXT_SIZES, token_ids
from omnialign.models.tiny_tokenizer import build_tiny_tokenizer

CHAMELEON_SIDE = 32
CHAMELEON_CODEBOOK = 64
CHAMELEON_IMAGE_TOKENS = 16
CHAMELEON_IMAGE_TOKEN = "<image>"
CHAMELEON_BOI = "<racm3:break>"
CHAMELEON_EOI = "<eoss>"
CHAMELEON_SEP = "<reserved08706>"
"""Chameleon's chat separator, which its processor appends to every prompt it encodes."""


def _code_name(code: int) -> str:
    return "IMGIMG" + "".join(chr(ord("A") + int(digit)) for digit in str(code)) + "Z"


CHAMELEON_CODE_TOKENS = tuple(_code_name(i) for i in range(CHAMELEON_CODEBOOK))


def chameleon_processor() -> ChameleonProcessor:
    tokenizer = build_tiny_tokenizer(
        extra_special_tokens=(
            CHAMELEON_IMAGE_TOKEN,
            CHAMELEON_BOI,
            CHAMELEON_EOI,
            CHAMELEON_SEP,
            *CHAMELEON_CODE_TOKENS,
        ),
        chat_template=IMAGE_TAG_TEMPLATE,
        sep_token=CHAMELEON_SEP,
        image_token=CHAMELEON_IMAGE_TOKEN,
        boi_token=CHAMELEON_BOI,
        eoi_token=CHAMELEON_EOI,
    )
    side = {"height": CHAMELEON_SIDE, "width": CHAMELEON_SIDE}
    image_processor = ChameleonImageProcessor(size={"shortest_edge": CHAMELEON_SIDE}, crop_size=side)
    processor = ChameleonProcessor(
        image_processor=image_processor, tokenizer=tokenizer, image_seq_length=CHAMELEON_IMAGE_TOKENS
    )
    processor.chat_template = IMAGE_TAG_TEMPLATE
    return processor


def chameleon_config(tokenizer: PreTrainedTokenizerBase) -> PretrainedConfig:
    vq = ChameleonVQVAEConfig(
        embed_dim=8,
        num_embeddings=CHAMELEON_CODEBOOK,
        latent_channels=32,
        resolution=CHAMELEON_SIDE,
        base_channels=32,
        channel_multiplier=[1, 1, 2, 2],  # three 2x downsamplings: 32 px -> 4x4 codes
        num_res_blocks=1,
        attn_resolutions=[],
    )
    sizes = {key: value for key, value in TEXT_SIZES.items()}
    return ChameleonConfig(
        **sizes,
        **token_ids(tokenizer),
        vq_config=vq.to_dict(),
        vocabulary_map=tokenizer.get_vocab(),
        tie_word_embeddings=False,
    )
