"""A tiny Janus-class any-to-any model (like deepseek-community/Janus-Pro-1B), built offline from a config.

Janus reads images through a SigLIP encoder (understanding) and writes them as VQ codes through a separate
codebook embedding and generation head (generation), so the same 32 px image is 16 placeholder tokens in a
prompt and 16 VQ codes in a response. Sizes: 32 px images, 8 px SigLIP patches (4x4 = 16 tokens), a VQ
encoder that downsamples 8x (4x4 = 16 codes) from a 64-entry codebook.
"""

from __future__ import annotations

from transformers import (
    JanusConfig,
    JanusImageProcessor,
    JanusProcessor,
    JanusVisionConfig,
    JanusVQVAEConfig,
    LlamaConfig,
    PretrainedConfig,
    PreTrainedTokenizerBase,
)

from omnialign.models.tiny_text import TEXT_SIZES, token_ids
from omnialign.models.tiny_tokenizer import build_tiny_tokenizer

JANUS_IMAGE_TOKEN = "<image_placeholder>"
JANUS_BOI = "<begin_of_image>"
JANUS_EOI = "<end_of_image>"
JANUS_SIDE = 32
JANUS_PATCH = 8
JANUS_CODEBOOK = 64
JANUS_IMAGE_TOKENS = (JANUS_SIDE // JANUS_PATCH) ** 2
"""Tokens per image: 16 SigLIP patches in a prompt, 16 VQ codes in a response."""

# Janus-Pro's own turn format (`<|User|>: ...\n\n<|Assistant|>: ...<|end▁of▁sentence|>`), in ChatML dress
# so the tiny tokenizer's EOS ends the assistant turn. Image parts render as the placeholder the processor
# expands to `<begin_of_image>` + 16 placeholders + `<end_of_image>`.
JANUS_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' }}"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for part in message['content'] %}"
    "{% if part['type'] == 'text' %}{{ part['text'] }}"
    "{% elif part['type'] == 'image' %}{{ '<image_placeholder>' }}"
    "{% endif %}{% endfor %}{% endif %}"
    "{{ '<|im_end|>\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def janus_processor() -> JanusProcessor:
    # JanusProcessor reads its markers from tokenizer attributes, as the hub tokenizer provides them
    tokenizer = build_tiny_tokenizer(
        extra_special_tokens=(JANUS_IMAGE_TOKEN, JANUS_BOI, JANUS_EOI),
        chat_template=JANUS_TEMPLATE,
        image_token=JANUS_IMAGE_TOKEN,
        boi_token=JANUS_BOI,
        eoi_token=JANUS_EOI,
    )
    image_processor = JanusImageProcessor(
        size={"height": JANUS_SIDE, "width": JANUS_SIDE},
        min_size=4,
        image_mean=[0.5] * 3,
        image_std=[0.5] * 3,
    )
    return JanusProcessor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        chat_template=JANUS_TEMPLATE,
        num_image_tokens=JANUS_IMAGE_TOKENS,
    )


def janus_config(tokenizer: PreTrainedTokenizerBase) -> PretrainedConfig:
    hidden = TEXT_SIZES["hidden_size"]
    vision = JanusVisionConfig(
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        image_size=JANUS_SIDE,
        patch_size=JANUS_PATCH,
        projection_dim=hidden,
        depth=1,
        num_image_tokens=JANUS_IMAGE_TOKENS,
    )
    vq = JanusVQVAEConfig(
        embed_dim=8,
        num_embeddings=JANUS_CODEBOOK,
        latent_channels=32,
        base_channels=32,
        channel_multiplier=[1, 1, 2, 2],  # three 2x downsamplings: 32 px -> 4x4 codes
        num_res_blocks=1,
        projection_dim=hidden,
        image_token_embed_dim=hidden,
    )
    return JanusConfig(
        text_config=LlamaConfig(**TEXT_SIZES, **token_ids(tokenizer)),
        vision_config=vision,
        vq_config=vq,
        image_token_id=tokenizer.convert_tokens_to_ids(JANUS_IMAGE_TOKEN),
        tie_word_embeddings=False,
    )
