"""Held-out response images for the any-to-any learning tests: flat grey images whose VQ code grids training
never sees, per tiny backbone.

The tiny models' VQs have random weights: pixel noise (and any texture) maps to near-random codes, which
would hide whether a head learns from images at all, so the tests draw flat greys. A flat grey of level v
encodes to one 4x4 code grid, and neighbouring levels share it: the levels 0..255 fall into runs of one grid
each. Found by encoding a flat 32 px image of every level 0..255 with the VQ of the score model's backbone
(seed 0; the Janus policy's VQ gives the same runs) and listing where the grid changes:

- tiny:janus: dark runs 0-7, 8-28, 29-39, 40-47, 48-59, 60-86, 87-89, 90-97, 98-107; bright runs 162-179,
  180-192, 193-211, 212-232, 233-243, 245-255 (between 108 and 161 the runs are one to six levels wide).
- tiny:emu3: dark runs 0-17, 18-40, 41-49, 50-51, 52-119; bright runs 136-145, 146-159, 160-213, 214-224,
  225-229, 230-240, 241-242, 243-253, 254-255 (between 120 and 135 one to three levels wide; 26 distinct
  grids in all, against Janus's 52).

Training levels and validation levels come from different runs, away from the runs' edges, so every
validation image encodes to a grid that no training image has; the tests assert it by encoding both.
Grids of one brightness still share most of their 16 codes (every bright Emu3 grid starts with code 3): what
is held out is each grid as a whole, not each code.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import torch
from PIL import Image
from torch import nn

from omnialign.models.any_to_any import adapter_for


@dataclass(frozen=True)
class GreyLevels:
    """Flat grey levels for each kind of image ('bright', 'dark'); training and validation levels come from
    disjoint code grids."""

    train: dict[str, tuple[int, ...]]
    val: dict[str, tuple[int, ...]]


LEVELS: dict[str, GreyLevels] = {
    "tiny:janus": GreyLevels(
        train={"bright": (170, 202, 238), "dark": (20, 44, 94)},
        val={"bright": (186, 222, 250), "dark": (4, 34, 102)},
    ),
    "tiny:emu3": GreyLevels(
        train={"bright": (186, 235), "dark": (8, 45)},
        val={"bright": (152, 219, 248), "dark": (29, 86)},
    ),
}


def flat_image(path: Path, level: int) -> Path:
    """Write a 32 px flat grey image of `level` (the size the tiny models read and write)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (32, 32), (level, level, level)).save(path)
    return path


def flatten(paths: Iterable[Path], levels: dict[str, tuple[int, ...]]) -> None:
    """Redraw fixture images as flat greys, bright ones (mean above mid-grey) at the `bright` levels in turn
    and dark ones at the `dark` levels, so the planted brightness reaches the codes of the random tiny VQ."""
    counts = dict.fromkeys(levels, 0)
    for path in sorted(paths):
        with Image.open(path) as image:
            mean = sum(image.convert("L").getdata()) / (image.width * image.height)
        kind = "bright" if mean > 128 else "dark"
        flat_image(path, levels[kind][counts[kind] % len(levels[kind])])
        counts[kind] += 1


def code_grids(model: nn.Module, processor, paths: Iterable[Path]) -> set[tuple[int, ...]]:
    """The code grid each image encodes to under the VQ of `model` (a policy or a score model's backbone)."""
    images = []
    for path in paths:
        with Image.open(path) as image:
            images.append(image.convert("RGB"))
    pixels = processor.image_processor(images, return_tensors="pt")["pixel_values"]
    with torch.no_grad():
        return {tuple(codes.tolist()) for codes in adapter_for(model).image_codes(model, pixels)}
