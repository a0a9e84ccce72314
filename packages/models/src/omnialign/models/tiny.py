"""Named tiny configurations: random-weight backbones that build in seconds on CPU, for tests and the
quickstart. Each entry mirrors a real architecture family so the code paths are the ones real models take.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from transformers import PretrainedConfig, PreTrainedTokenizerBase
from transformers.models.llama import LlamaConfig
from transformers.models.qwen2 import Qwen2Config

TINY_PREFIX = "tiny:"


@dataclass(frozen=True)
class TinySpec:
    """How to build one tiny backbone: its config, given the tokenizer it must agree with."""

    make_config: Callable[[PreTrainedTokenizerBase], PretrainedConfig]
    description: str


def _token_ids(tokenizer: PreTrainedTokenizerBase) -> dict[str, int]:
    return {
        "vocab_size": len(tokenizer),
        "pad_token_id": tokenizer.pad_token_id,
        "eos_token_id": tokenizer.eos_token_id,
        "bos_token_id": tokenizer.pad_token_id,
    }


def _llama(tokenizer: PreTrainedTokenizerBase) -> PretrainedConfig:
    return LlamaConfig(
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        tie_word_embeddings=False,
        **_token_ids(tokenizer),
    )


def _qwen2(tokenizer: PreTrainedTokenizerBase) -> PretrainedConfig:
    return Qwen2Config(
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        tie_word_embeddings=True,
        **_token_ids(tokenizer),
    )


TINY_SPECS: dict[str, TinySpec] = {
    "llama": TinySpec(_llama, "Llama-class causal LM, 2 layers, hidden 64, GQA 4/2"),
    "qwen2": TinySpec(_qwen2, "Qwen2-class causal LM, 2 layers, hidden 64, tied embeddings"),
}


def tiny_spec(name: str) -> TinySpec:
    """Look up `tiny:<name>`; an unknown name lists the known ones."""
    key = name.removeprefix(TINY_PREFIX)
    if key not in TINY_SPECS:
        known = ", ".join(TINY_PREFIX + k for k in sorted(TINY_SPECS))
        raise ValueError(f"unknown tiny backbone '{name}'; known: {known}")
    return TINY_SPECS[key]
