"""Named tiny configurations: random-weight backbones that build in seconds on CPU, for tests and the
quickstart. Each entry mirrors a real architecture family, processor included, and is built by the Auto class
that loads that family's real checkpoints, so the code paths are the ones real models take.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from transformers import (
    AutoModelForCausalLM,
    AutoModelForImageTextToText,
    AutoModelForMultimodalLM,
    PretrainedConfig,
    PreTrainedTokenizerBase,
    ProcessorMixin,
)

from omnialign.models import tiny_multimodal as mm
from omnialign.models.any_to_any.tiny_chameleon import chameleon_config, chameleon_processor
from omnialign.models.any_to_any.tiny_emu3 import emu3_config, emu3_processor
from omnialign.models.any_to_any.tiny_janus import janus_config, janus_processor
from omnialign.models.tiny_text import llama_config, qwen2_config
from omnialign.models.tiny_tokenizer import build_tiny_tokenizer

TINY_PREFIX = "tiny:"

Processor = PreTrainedTokenizerBase | ProcessorMixin
"""A text model's tokenizer, or a multimodal model's processor (which holds its tokenizer)."""


@dataclass(frozen=True)
class TinySpec:
    """How to build one tiny backbone: its processor, then its config (which must agree with the processor's
    tokenizer), and the Auto class that loads the family's real checkpoints."""

    make_processor: Callable[[], Processor]
    make_config: Callable[[PreTrainedTokenizerBase], PretrainedConfig]
    auto_class: type
    description: str


TINY_SPECS: dict[str, TinySpec] = {
    "llama": TinySpec(
        build_tiny_tokenizer, llama_config, AutoModelForCausalLM, "Llama-class causal LM, 2 layers, hidden 64"
    ),
    "qwen2": TinySpec(
        build_tiny_tokenizer, qwen2_config, AutoModelForCausalLM, "Qwen2-class causal LM, tied embeddings"
    ),
    "qwen2-vl": TinySpec(
        mm.qwen2_vl_processor,
        mm.qwen2_vl_config,
        AutoModelForImageTextToText,
        "Qwen2-VL-class image+video LM (like Qwen/Qwen2-VL-2B-Instruct): 56 px, 4-frame videos, 3-D M-RoPE",
    ),
    "llava": TinySpec(
        mm.llava_processor,
        mm.llava_config,
        AutoModelForImageTextToText,
        "LLaVA-1.5-class image LM (like llava-hf/llava-1.5-7b-hf): 28 px CLIP tower, Llama decoder",
    ),
    "qwen2-audio": TinySpec(
        mm.qwen2_audio_processor,
        mm.qwen2_audio_config,
        AutoModelForMultimodalLM,
        "Qwen2-Audio-class audio LM (like Qwen/Qwen2-Audio-7B-Instruct): 16 kHz, 1 s clips, 16 mel bins",
    ),
    "janus": TinySpec(
        janus_processor,
        janus_config,
        AutoModelForImageTextToText,
        "Janus-class any-to-any LM (like deepseek-community/Janus-Pro-1B): reads 32 px images via SigLIP, "
        "writes them as 16 VQ codes from a 64-entry codebook",
    ),
    "emu3": TinySpec(
        emu3_processor,
        emu3_config,
        AutoModelForImageTextToText,
        "Emu3-class any-to-any LM (like BAAI/Emu3-Chat-hf): reads and writes 32 px images as 4x4 VQ codes "
        "from a 64-entry codebook, spelled as tokens of the shared vocabulary",
    ),
    "chameleon": TinySpec(
        chameleon_processor,
        chameleon_config,
        AutoModelForImageTextToText,
        "Chameleon-class LM (like facebook/chameleon-7b): reads and writes 32 px images as 16 VQ codes from "
        "a 64-entry codebook in the shared vocabulary (transformers ships no VQ decoder for it)",
    ),
}


def tiny_spec(name: str) -> TinySpec:
    """Look up `tiny:<name>`; an unknown name lists the known ones."""
    key = name.removeprefix(TINY_PREFIX)
    if key not in TINY_SPECS:
        known = ", ".join(TINY_PREFIX + k for k in sorted(TINY_SPECS))
        raise ValueError(f"unknown tiny backbone '{name}'; known: {known}")
    return TINY_SPECS[key]
