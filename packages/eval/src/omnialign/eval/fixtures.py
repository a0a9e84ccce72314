"""A small eval-anything dataset for tests and the quickstart: one JSONL per task family, real media files,
and the answers of two pretend models (`strong`, `weak`) whose judge-free scores can be worked out by hand.

`strong` returns the modality each generation instruction asks for (solid-colour images for the image
generation task, whose FID and Inception Score are worked out below) and picks the most-voted modality in
selection; `weak` answers everything in text and picks the least-voted one. Run
`uv run python -m omnialign.eval.fixtures DIR` to write it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from omnialign.data.fixtures.media_files import IMAGE_SIZE, write_image, write_mp4, write_wav
from omnialign.eval.fixture_encoders import write_channel_means, write_tiny_clip

MEDIA_FILES = {"image": "media/cat.png", "audio": "media/tone.wav", "video": "media/bar.mp4"}

UNDERSTANDING = [
    {"id": "u-text", "prompt": "What is 2 + 2?", "reference": "4", "category": "text"},
    {
        "id": "u-image",
        "prompt": "Is the picture bright?",
        "image": MEDIA_FILES["image"],
        "reference": "yes",
        "category": "image",
    },
    {
        "id": "u-audio",
        "prompt": "Is this a pure tone?",
        "audio": MEDIA_FILES["audio"],
        "reference": "yes",
        "category": "audio",
    },
    {
        "id": "u-video",
        "prompt": "Where does the bar move?",
        "video": MEDIA_FILES["video"],
        "reference": "down",
        "category": "video",
    },
]
GENERATION = [
    {"id": f"g-{m}", "prompt": f"Make a {m} of a sunrise.", "modality": m, "category": m}
    for m in ("text", "image", "audio", "video")
]
# vote shares: g-s1 text .6, text+image .3, image .1; g-s2 image+text .75, audio .25
SELECTION = [
    {"id": "s-1", "prompt": "How do I boil an egg?", "votes": {"text": 6, "text+image": 3, "image": 1}},
    {"id": "s-2", "prompt": "Show me a heron and describe it.", "votes": {"image+text": 3, "audio": 1}},
]
SYNERGY = [
    {"id": "y-1", "prompt": "Explain this sound with a picture.", "audio": MEDIA_FILES["audio"]},
    {"id": "y-2", "prompt": "Narrate this clip.", "video": MEDIA_FILES["video"]},
]
# Image generation with distribution metrics. Solid colours, so the tiny `ChannelMeans` features are the
# colours themselves: `strong` draws (60,0,0) and (0,60,0) in turn, the real images are the same two colours
# with blue 40. Both sets have covariance Σ, so FID = |Δμ|² + Tr(2Σ − 2√(Σ·Σ)) = 40² = 1600; each generated
# image is one-hot under softmax(features) and half are each colour, so Inception Score = 2.
IMAGE_GENERATION = [
    {"id": f"i-{k}", "prompt": f"Draw shape {k} in one colour.", "modality": "image", "category": "image"}
    for k in range(4)
]
GENERATED_COLOURS = [(60, 0, 0), (0, 60, 0)] * 2
REAL_COLOURS = [(60, 0, 40), (0, 60, 40)] * 2
REAL_IMAGES = "media/real"
TASKS = {
    "understanding": UNDERSTANDING,
    "generation": GENERATION,
    "selection": SELECTION,
    "synergy": SYNERGY,
    "image_generation": IMAGE_GENERATION,
}
ENCODERS = {"features": "models/channel-means.pt", "clip": "models/tiny-clip"}


def _generated(item_id: str) -> str:
    return f"media/generated/{item_id}.png"


def _strong(item: dict[str, Any]) -> dict[str, str]:
    if "votes" in item:
        top = max(item["votes"], key=item["votes"].__getitem__)
        return {"id": item["id"], "text": f"I would answer with {' and '.join(top.split('+'))}."}
    if item["id"].startswith("i-"):
        return {"id": item["id"], "text": "Here it is.", "image": f"../{_generated(item['id'])}"}
    modality = item.get("modality", "image" if item["id"].startswith("y-") else "text")
    answer = {"id": item["id"], "text": item.get("reference", "Here you go.")}
    return answer | ({modality: f"../{MEDIA_FILES[modality]}"} if modality != "text" else {})


def _weak(item: dict[str, Any]) -> dict[str, str]:
    if "votes" in item:
        low = min(item["votes"], key=item["votes"].__getitem__)
        return {"id": item["id"], "text": f"{' and '.join(low.split('+'))}, I guess."}
    return {"id": item["id"], "text": "no idea"}


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def _solid(path: Path, colour: tuple[int, int, int]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (IMAGE_SIZE, IMAGE_SIZE), colour).save(path)


def write_eval_fixture(directory: str | Path) -> Path:
    """Task files `<task>.jsonl`, media under `media/` (real images for FID/KID under `media/real/`), answers
    under `responses/{strong,weak}.jsonl`, offline metric encoders under `models/`."""
    root = Path(directory)
    rng = np.random.default_rng(0)
    write_image(root / MEDIA_FILES["image"], 0.8, rng)
    write_wav(root / MEDIA_FILES["audio"], 440.0)
    write_mp4(root / MEDIA_FILES["video"], 0.3, rng, codec="libvpx-vp9")  # VP9: the report's browser plays it
    for item, colour in zip(IMAGE_GENERATION, GENERATED_COLOURS, strict=True):
        _solid(root / _generated(item["id"]), colour)
    for index, colour in enumerate(REAL_COLOURS):
        _solid(root / REAL_IMAGES / f"{index}.png", colour)
    write_channel_means(root / ENCODERS["features"])
    write_tiny_clip(root / ENCODERS["clip"])
    for family, rows in TASKS.items():
        _write_jsonl(root / f"{family}.jsonl", rows)
    everything = [row for rows in TASKS.values() for row in rows]
    _write_jsonl(root / "responses/strong.jsonl", [_strong(row) for row in everything])
    _write_jsonl(root / "responses/weak.jsonl", [_weak(row) for row in everything])
    return root


if __name__ == "__main__":
    from jsonargparse import CLI

    print(CLI(write_eval_fixture))
