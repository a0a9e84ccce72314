"""A task the base model cannot do: repeat a list of words in reverse order.

Words come from a fixed vocabulary of everyday nouns; training and held-out examples are drawn from disjoint
word *sets* (every held-out example uses only words no training example contains), so a held-out loss can
fall only if the model learned the reversal itself, not memorised answers or word sequences.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

WORDS = [
    "apple",
    "river",
    "stone",
    "cloud",
    "garden",
    "window",
    "pencil",
    "candle",
    "mirror",
    "basket",
    "ladder",
    "button",
    "castle",
    "feather",
    "harbor",
    "island",
    "jacket",
    "kettle",
    "lantern",
    "meadow",
    "needle",
    "orange",
    "pillow",
    "rocket",
    "saddle",
    "tunnel",
    "violin",
    "wagon",
    "anchor",
    "bottle",
    "carpet",
    "dragon",
    "engine",
    "forest",
    "guitar",
    "hammer",
    "igloo",
    "jungle",
    "kitten",
    "lemon",
    "magnet",
    "napkin",
    "ocean",
    "parrot",
    "quilt",
    "ribbon",
    "spoon",
    "tiger",
    "umbrella",
    "valley",
    "walnut",
    "yogurt",
    "zebra",
    "bridge",
    "desert",
    "falcon",
]
TRAIN_WORDS, HELDOUT_WORDS = WORDS[: len(WORDS) // 2], WORDS[len(WORDS) // 2 :]
INSTRUCTION = "Repeat these words in reverse order: "


def examples(words: list[str], count: int, seed: int, length: int = 5) -> list[dict[str, str]]:
    rng = random.Random(seed)
    rows = []
    for i in range(count):
        picked = rng.sample(words, length)
        rows.append(
            {
                "id": f"{seed}-{i}",
                "prompt": INSTRUCTION + " ".join(picked),
                "response": " ".join(picked[::-1]),
            }
        )
    return rows


def write_split(folder: Path, train: int, heldout: int) -> tuple[Path, Path]:
    """`sft` records for training and held-out validation, from disjoint word sets."""
    paths = folder / "reverse_train.jsonl", folder / "reverse_heldout.jsonl"
    splits = examples(TRAIN_WORDS, train, 0), examples(HELDOUT_WORDS, heldout, 1)
    for path, rows in zip(paths, splits, strict=True):
        path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return paths
