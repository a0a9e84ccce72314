"""Offline stand-ins for the generation metrics' encoders, written next to the tiny eval fixture so the
quickstart computes FID/KID/IS/CLIPScore without a download, through the same path options real weights use:

- `ChannelMeans`, saved as TorchScript: features = per-channel mean pixel value. Not a perceptual encoder,
  but one whose FID on solid-colour images is a number worked out by hand;
- a random 1-layer CLIP with a character-level tokenizer, saved with `save_pretrained` (model and
  processor), loaded back by folder exactly as a hub CLIP is.
"""

from __future__ import annotations

import json
import string
import tempfile
from pathlib import Path

import torch
from torch import Tensor, nn

CLIP_SIZE = 32


class ChannelMeans(nn.Module):
    """`[N, 3, H, W]` images (any dtype) → `[N, 3]` per-channel means."""

    num_features: int = 3

    def forward(self, images: Tensor) -> Tensor:
        return images.float().mean(dim=(2, 3))


def write_channel_means(path: Path) -> Path:
    """The TorchScript file `ImageMetricOptions.features` can point at."""
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.jit.script(ChannelMeans()).save(str(path))
    return path


def _char_vocab() -> dict[str, int]:
    """CLIP's BPE with no merges splits every word into characters, the last one marked `</w>`: a vocabulary
    of characters in both forms encodes any lowercase prompt without unknown tokens."""
    chars = string.ascii_lowercase + string.digits + string.punctuation
    tokens = ["<|startoftext|>", "<|endoftext|>", *chars, *(f"{c}</w>" for c in chars)]
    return {token: index for index, token in enumerate(tokens)}


def write_tiny_clip(folder: Path, seed: int = 3) -> Path:
    """A random tiny CLIP and its processor under `folder`, loadable with `CLIPModel.from_pretrained`. The
    default seed gives the fixture's images and captions positive cosines, so CLIPScore (which clamps
    negative ones to 0) is a non-trivial number there."""
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor, CLIPTokenizer

    vocab = _char_vocab()
    with tempfile.TemporaryDirectory() as scratch:
        (Path(scratch) / "vocab.json").write_text(json.dumps(vocab))
        (Path(scratch) / "merges.txt").write_text("#version: 0.2\n")
        tokenizer = CLIPTokenizer(str(Path(scratch) / "vocab.json"), str(Path(scratch) / "merges.txt"))
    layers = {"hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2}
    text = {**layers, "vocab_size": len(vocab), "max_position_embeddings": 77, "bos_token_id": 0}
    config = CLIPConfig(
        text_config={**text, "eos_token_id": 1, "pad_token_id": 1},
        vision_config={**layers, "image_size": CLIP_SIZE, "patch_size": 8},
        projection_dim=8,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = CLIPModel(config).eval()
    crop = {"height": CLIP_SIZE, "width": CLIP_SIZE}
    images = CLIPImageProcessor(size={"shortest_edge": CLIP_SIZE}, crop_size=crop)
    model.save_pretrained(folder)
    CLIPProcessor(image_processor=images, tokenizer=tokenizer).save_pretrained(folder)
    return folder
