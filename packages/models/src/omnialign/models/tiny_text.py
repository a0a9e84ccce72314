"""Tiny text decoders: the random-weight language models of every tiny backbone, text-only or multimodal.

One set of sizes for all of them, so a tiny multimodal model's language half is the same network as the
text-only one and only the media towers differ.
"""

from __future__ import annotations

from typing import Any

from transformers import PretrainedConfig, PreTrainedTokenizerBase
from transformers.models.llama import LlamaConfig
from transformers.models.qwen2 import Qwen2Config

TEXT_SIZES: dict[str, Any] = {
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "max_position_embeddings": 2048,
}
"""Two layers, hidden 64, grouped-query attention 4/2 (head dim 16)."""


def token_ids(tokenizer: PreTrainedTokenizerBase) -> dict[str, int]:
    """Vocabulary size and special ids, taken from the tokenizer so the embedding table always fits it."""
    return {
        "vocab_size": len(tokenizer),
        "pad_token_id": tokenizer.pad_token_id,
        "eos_token_id": tokenizer.eos_token_id,
        "bos_token_id": tokenizer.pad_token_id,
    }


def llama_config(tokenizer: PreTrainedTokenizerBase) -> PretrainedConfig:
    return LlamaConfig(**TEXT_SIZES, tie_word_embeddings=False, **token_ids(tokenizer))


def qwen2_config(tokenizer: PreTrainedTokenizerBase) -> PretrainedConfig:
    return Qwen2Config(**TEXT_SIZES, tie_word_embeddings=True, **token_ids(tokenizer))
