"""Tiny multimodal backbones end to end: processor -> encoded batch -> forward, the hub-id loading path
(save_pretrained, then load by folder exactly as a hub id loads), and LoRA on the language model only."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from omnialign.data.collate import model_inputs, pad_sequences
from omnialign.data.encode import ChatEncoder, EncodedSequence
from omnialign.data.fixtures.media_files import write_image, write_mp4, write_wav
from omnialign.data.sample import MediaRef, Message, Part, Sample
from omnialign.models.backbone import (
    BackboneOptions,
    LoraOptions,
    load_causal_lm,
    load_processor,
    model_class_for,
    tokenizer_of,
)
from omnialign.models.tiny import tiny_spec

MULTIMODAL = ["tiny:qwen2-vl", "tiny:llava", "tiny:qwen2-audio"]
MEDIA_KEY = {
    "tiny:qwen2-vl": "pixel_values",
    "tiny:llava": "pixel_values",
    "tiny:qwen2-audio": "input_features",
}


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> dict[str, list[tuple[MediaRef, ...]]]:
    """Per backbone, the media of each of two prompts, different per prompt so a batch that mixed them up
    would show (Qwen2-VL: an image and a video, so both paths run; audio: clips of 6 and 13 tokens)."""
    root = tmp_path_factory.mktemp("media")
    rng = np.random.default_rng(0)
    dark = MediaRef("image", path=str(write_image(root / "dark.png", 0.2, rng, size=56)))
    light = MediaRef("image", path=str(write_image(root / "light.png", 0.8, rng, size=40)))
    video = MediaRef("video", path=str(write_mp4(root / "v.mp4", 0.6, rng, frames=6, size=48)))
    short = MediaRef("audio", path=str(write_wav(root / "short.wav", 330.0, seconds=0.25)))
    long = MediaRef("audio", path=str(write_wav(root / "long.wav", 880.0, rate=8000, seconds=0.5)))
    return {
        "tiny:qwen2-vl": [(dark, video), (light,)],
        "tiny:llava": [(dark,), (light,)],
        "tiny:qwen2-audio": [(short,), (long,)],
        "tiny:qwen2": [(), ()],
    }


def _samples(media: list[tuple[MediaRef, ...]]) -> list[Sample]:
    texts = [("Describe it.", "A dark square."), ("What do you notice here, in detail?", "Noise.")]
    return [
        Sample(
            prompt=(Message("user", (*(Part.of_media(m) for m in refs), Part.of_text(prompt))),),
            responses=((Part.of_text(response),),),
        )
        for refs, (prompt, response) in zip(media, texts, strict=True)
    ]


def _encoded(processor, media: list[tuple[MediaRef, ...]]) -> list[EncodedSequence]:
    encoder = ChatEncoder(processor)
    return [encoder.encode(sample) for sample in _samples(media)]


def _batch(processor, media: list[tuple[MediaRef, ...]], side: str = "right") -> dict[str, torch.Tensor]:
    return pad_sequences(_encoded(processor, media), tokenizer_of(processor).pad_token_id, side)


def _logits(model, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    with torch.no_grad():
        return model(**model_inputs(batch), use_cache=False).logits


@pytest.mark.parametrize("side", ["left", "right"])
@pytest.mark.parametrize("name", MULTIMODAL)
def test_batched_forward_equals_each_sample_alone_with_the_models_own_positions(name, side, media):
    """Padding, media concatenation and position handling change nothing: each row of a padded batch gets
    the logits the model gives that sample alone, unpadded, computing its own positions (M-RoPE for
    Qwen2-VL). Perturbing the media tensors changes the response logits: the towers are wired in."""
    options = BackboneOptions(name=name)
    processor = load_processor(options)
    model = load_causal_lm(options, processor).eval()
    sequences = _encoded(processor, media[name])
    batch = pad_sequences(sequences, tokenizer_of(processor).pad_token_id, side)
    logits = _logits(model, batch)
    assert logits.shape == (*batch["input_ids"].shape, len(tokenizer_of(processor)))
    for row, sequence in enumerate(sequences):
        alone = pad_sequences([sequence], tokenizer_of(processor).pad_token_id)
        alone.pop("position_ids", None)
        real = batch["attention_mask"][row].bool()
        torch.testing.assert_close(logits[row][real], _logits(model, alone)[0], atol=1e-5, rtol=1e-4)
    key = MEDIA_KEY[name]
    perturbed = {**batch, key: batch[key] + torch.randn_like(batch[key])}
    response = batch["response_mask"].bool()
    assert not torch.allclose(_logits(model, perturbed)[response], logits[response], atol=1e-4)


@pytest.mark.parametrize(
    ("name", "processor_class"),
    [
        ("tiny:qwen2-vl", "Qwen2VLProcessor"),
        ("tiny:llava", "LlavaProcessor"),
        ("tiny:qwen2-audio", "Qwen2AudioProcessor"),
        ("tiny:qwen2", "Qwen2Tokenizer"),  # a text model loads its tokenizer, not a processor
    ],
)
def test_from_pretrained_round_trip_takes_the_hub_path(name, processor_class, media, tmp_path: Path):
    options = BackboneOptions(name=name)
    processor = load_processor(options)
    model = load_causal_lm(options, processor).eval()
    model.save_pretrained(tmp_path)
    processor.save_pretrained(tmp_path)

    loaded_options = BackboneOptions(name=str(tmp_path))
    loaded_processor = load_processor(loaded_options)
    loaded = load_causal_lm(loaded_options, loaded_processor).eval()
    assert type(loaded_processor).__name__ == processor_class and type(loaded) is type(model)
    assert model_class_for(loaded.config) is tiny_spec(name).auto_class
    batch, loaded_batch = _batch(processor, media[name]), _batch(loaded_processor, media[name])
    assert batch.keys() == loaded_batch.keys()
    for key in batch:
        torch.testing.assert_close(loaded_batch[key], batch[key], atol=0, rtol=0)
    torch.testing.assert_close(_logits(loaded, loaded_batch), _logits(model, batch), atol=0, rtol=0)


@pytest.mark.parametrize("name", MULTIMODAL)
def test_lora_adapts_the_language_model_only_and_starts_at_the_base_model(name, media):
    base_options = BackboneOptions(name=name)
    processor = load_processor(base_options)
    base = load_causal_lm(base_options, processor).eval()
    peft_model = load_causal_lm(BackboneOptions(name=name, lora=LoraOptions(r=4)), processor).eval()

    adapted = {n.rsplit(".lora_A", 1)[0] for n, _ in peft_model.named_modules() if n.endswith(".lora_A")}
    assert len(adapted) == 2 * 7  # 2 layers x (q, k, v, o, gate, up, down)
    assert all(".model.language_model.layers." in n for n in adapted)
    trainable = [n for n, p in peft_model.named_parameters() if p.requires_grad]
    assert trainable and all(".lora_" in n for n in trainable)

    batch = _batch(processor, media[name])
    torch.testing.assert_close(_logits(peft_model, batch), _logits(base, batch))  # lora_B starts at zero
    logits = peft_model(**model_inputs(batch), use_cache=False).logits
    logits[batch["response_mask"].bool()].logsumexp(-1).sum().backward()
    assert all(p.grad is not None for n, p in peft_model.named_parameters() if "lora_A" in n)


def test_named_lora_targets_skip_the_vision_tower_that_shares_the_names():
    """CLIP's attention also has `q_proj`/`v_proj`; a bare name would adapt the vision tower too."""
    options = BackboneOptions(name="tiny:llava", lora=LoraOptions(target_modules=["q_proj", "v_proj"]))
    model = load_causal_lm(options, load_processor(options))
    adapted = [n for n, _ in model.named_modules() if n.endswith(".lora_A")]
    assert len(adapted) == 2 * 2 and not any("vision_tower" in n for n in adapted)
    assert any(n.endswith("q_proj") for n, _ in model.named_modules() if "vision_tower" in n)
