"""Build a policy backbone and its processor from one name: a hub id or local path (the path users take), a
GGUF file or the embedded real model (`smollm2-135m-instruct`; see `omnialign.models.gguf`), or
`tiny:<name>` for a random-weight model built from a config (tests, quickstart, offline CPU).

Text models come with their tokenizer; multimodal ones (Qwen2-VL, LLaVA, Qwen2-Audio ...) with their
processor, and load through the Auto class that owns their architecture, so the media towers load too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import torch
from transformers import (
    AutoConfig,
    AutoModelForCausalLM,
    AutoModelForImageTextToText,
    AutoModelForMultimodalLM,
    AutoProcessor,
    AutoTokenizer,
    PretrainedConfig,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)
from transformers.models.auto.modeling_auto import (
    MODEL_FOR_CAUSAL_LM_MAPPING,
    MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING,
    MODEL_FOR_MULTIMODAL_LM_MAPPING,
)

from omnialign.models.gguf import pretrained_location
from omnialign.models.tiny import TINY_PREFIX, Processor, tiny_spec

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}

# Most specific first: a multimodal architecture must not load through AutoModelForCausalLM, which would
# leave its vision or audio tower behind.
_AUTO_CLASSES = (
    (MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING, AutoModelForImageTextToText),
    (MODEL_FOR_MULTIMODAL_LM_MAPPING, AutoModelForMultimodalLM),
    (MODEL_FOR_CAUSAL_LM_MAPPING, AutoModelForCausalLM),
)
# `model_kwargs` that say which files to read, so config, processor and weights come from the same place.
_LOCATION_KEYS = ("revision", "subfolder", "trust_remote_code", "token", "cache_dir")


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
    """`all-linear` (every linear layer of the language model), a list of layer names (e.g. `q_proj`), both
    restricted to the language model so media towers stay frozen; or a peft regex, used as given."""


@dataclass
class BackboneOptions:
    """Which network to train and how to load it."""

    name: str = "tiny:llama"
    """Hub id, local folder, a `.gguf` file, `smollm2-135m-instruct` (the embedded real model), or
    `tiny:<name>` for a random-weight tiny model built from a config."""
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
    image_code_cache: str | None = None
    """Any-to-any models: folder where the VQ codes of response images are cached by content hash (None:
    encode them at every step)."""

    def __post_init__(self) -> None:
        if self.dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {sorted(DTYPES)}, got '{self.dtype}'")

    @property
    def is_tiny(self) -> bool:
        return self.name.startswith(TINY_PREFIX)

    @property
    def location(self) -> str:
        """What `from_pretrained` reads: the name itself, or the converted folder of a GGUF file."""
        return pretrained_location(self.name)

    def location_kwargs(self) -> dict[str, Any]:
        return {key: value for key, value in self.model_kwargs.items() if key in _LOCATION_KEYS}


def tokenizer_of(processor: Processor) -> PreTrainedTokenizerBase:
    """The tokenizer inside a multimodal processor, or the tokenizer itself."""
    return getattr(processor, "tokenizer", processor)


def model_class_for(config: PretrainedConfig) -> type:
    """The Auto class that loads an architecture with its LM head (and its media towers, if any)."""
    for mapping, auto_class in _AUTO_CLASSES:
        if type(config) in mapping:
            return auto_class
    raise ValueError(f"'{config.model_type}' is neither a causal LM nor a multimodal LM in transformers")


def load_processor(options: BackboneOptions) -> Processor:
    """The tokenizer (text models) or processor (multimodal models) that belongs to the backbone."""
    processor = tiny_spec(options.name).make_processor() if options.is_tiny else _hub_processor(options)
    tokenizer = tokenizer_of(processor)
    if tokenizer.pad_token is None:  # many base LMs ship without one; padding is masked out anyway
        tokenizer.pad_token = tokenizer.eos_token
    return processor


def _hub_processor(options: BackboneOptions) -> Processor:
    config = AutoConfig.from_pretrained(options.location, **options.location_kwargs())
    auto_class = AutoTokenizer if model_class_for(config) is AutoModelForCausalLM else AutoProcessor
    return auto_class.from_pretrained(options.location, **options.location_kwargs())


def enable_activation_checkpointing(model: PreTrainedModel) -> None:
    """Recompute each decoder layer in the backward pass instead of keeping its activations (non-reentrant
    `torch.utils.checkpoint`). transformers renamed the switch to `activation_checkpointing_enable` and
    deprecated the old name; the lock still holds a release with only the old one (the vLLM extra)."""
    enable = getattr(model, "activation_checkpointing_enable", None) or model.gradient_checkpointing_enable
    enable()


def load_causal_lm(options: BackboneOptions, processor: Processor) -> PreTrainedModel:
    """The network named by `options` (a causal LM, text-only or conditioned on media), in the requested
    dtype, with LoRA and checkpointing applied."""
    kwargs: dict[str, Any] = {"dtype": DTYPES[options.dtype]}
    if options.attn_implementation is not None:
        kwargs["attn_implementation"] = options.attn_implementation
    if options.is_tiny:
        spec = tiny_spec(options.name)
        config = spec.make_config(tokenizer_of(processor))
        with torch.random.fork_rng(devices=[]):  # the caller's RNG stream stays untouched
            torch.manual_seed(options.seed)
            model = spec.auto_class.from_config(config, **kwargs)
    else:
        config = AutoConfig.from_pretrained(options.location, **options.location_kwargs())
        kwargs |= options.model_kwargs
        model = model_class_for(config).from_pretrained(options.location, config=config, **kwargs)
    if options.gradient_checkpointing:
        enable_activation_checkpointing(model)
        model.config.use_cache = False
    if options.lora is not None:
        model = _apply_lora(model, options.lora)
    return model


def lora_target_modules(model: PreTrainedModel, requested: list[str] | str) -> str:
    """A peft regex for the requested linear layers of the language model alone.

    peft's own `all-linear` (and a bare name such as `q_proj`) would also adapt a CLIP or Whisper tower,
    which then drifts from the pretrained encoder the rest of the model was trained against.
    """
    if isinstance(requested, str) and requested != "all-linear":
        return requested
    decoder = model.get_decoder()
    prefix = next(name for name, module in model.named_modules() if module is decoder)
    if requested == "all-linear":
        requested = [name for name, m in decoder.named_modules() if isinstance(m, torch.nn.Linear)]
    leaves = sorted({name.rsplit(".", 1)[-1] for name in requested})
    return rf"{re.escape(prefix)}\..*\.({'|'.join(map(re.escape, leaves))})"


def _apply_lora(model: PreTrainedModel, lora: LoraOptions) -> PreTrainedModel:
    from peft import LoraConfig, get_peft_model

    config = LoraConfig(
        r=lora.r,
        lora_alpha=lora.alpha,
        lora_dropout=lora.dropout,
        target_modules=lora_target_modules(model, lora.target_modules),
        task_type="CAUSAL_LM",
    )
    return get_peft_model(model, config)
