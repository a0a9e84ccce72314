"""Build a policy backbone and its processor from one name: a hub id or local path (the path users take),
or `tiny:<name>` for a random-weight model built from a config (tests, quickstart, offline CPU).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

from omnialign.models.tiny import TINY_PREFIX, tiny_spec
from omnialign.models.tiny_tokenizer import build_tiny_tokenizer

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


@dataclass
class LoraOptions:
    """Low-rank adapters through peft; the frozen base then doubles as the reference model."""

    r: int = 8
    """Adapter rank."""
    alpha: int = 16
    """Scaling numerator (`alpha / r` multiplies the adapter output)."""
    dropout: float = 0.0
    """Dropout on the adapter input."""
    target_modules: list[str] | str = "all-linear"
    """Module names to adapt, or peft's `all-linear`."""


@dataclass
class BackboneOptions:
    """Which network to train and how to load it."""

    name: str = "tiny:llama"
    """Hub id, local folder, or `tiny:<name>` for a random-weight tiny model built from a config."""
    dtype: str = "float32"
    """Parameter dtype: float32, bfloat16 or float16."""
    attn_implementation: str | None = None
    """transformers attention backend (`sdpa`, `eager`, `flash_attention_2`); None lets transformers pick."""
    gradient_checkpointing: bool = False
    """Recompute activations in backward to save memory."""
    lora: LoraOptions | None = None
    """Train low-rank adapters instead of all weights."""
    seed: int = 0
    """Seed for the random weights of a tiny model (ignored for pretrained weights)."""
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    """Extra keyword arguments for `from_pretrained` (e.g. `revision`)."""

    def __post_init__(self) -> None:
        if self.dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {sorted(DTYPES)}, got '{self.dtype}'")

    @property
    def is_tiny(self) -> bool:
        return self.name.startswith(TINY_PREFIX)


def load_processor(options: BackboneOptions) -> PreTrainedTokenizerBase:
    """The tokenizer (or, for multimodal models, the processor) that belongs to the backbone."""
    if options.is_tiny:
        tiny_spec(options.name)  # fail early on an unknown name
        return build_tiny_tokenizer()
    tokenizer = AutoTokenizer.from_pretrained(options.name)
    if tokenizer.pad_token is None:  # many base LMs ship without one; padding is masked out anyway
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_causal_lm(options: BackboneOptions, processor: PreTrainedTokenizerBase) -> PreTrainedModel:
    """The causal LM named by `options`, in the requested dtype, with LoRA and checkpointing applied."""
    dtype = DTYPES[options.dtype]
    if options.is_tiny:
        config = tiny_spec(options.name).make_config(processor)
        if options.attn_implementation is not None:
            config._attn_implementation = options.attn_implementation
        with torch.random.fork_rng(devices=[]):  # the caller's RNG stream stays untouched
            torch.manual_seed(options.seed)
            model = AutoModelForCausalLM.from_config(config, dtype=dtype)
    else:
        kwargs = dict(options.model_kwargs)
        if options.attn_implementation is not None:
            kwargs["attn_implementation"] = options.attn_implementation
        model = AutoModelForCausalLM.from_pretrained(options.name, dtype=dtype, **kwargs)
    if options.gradient_checkpointing:
        model.gradient_checkpointing_enable()
        model.config.use_cache = False
    if options.lora is not None:
        model = _apply_lora(model, options.lora)
    return model


def _apply_lora(model: PreTrainedModel, lora: LoraOptions) -> PreTrainedModel:
    from peft import LoraConfig, get_peft_model

    config = LoraConfig(
        r=lora.r,
        lora_alpha=lora.alpha,
        lora_dropout=lora.dropout,
        target_modules=lora.target_modules,
        task_type="CAUSAL_LM",
    )
    return get_peft_model(model, config)
