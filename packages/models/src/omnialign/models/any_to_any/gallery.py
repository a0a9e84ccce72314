"""Prompts in, an HTML page out: each prompt beside the text and PNG images the model answered with.

`generate_gallery` is what `apps/generate.py` runs; the page is plain HTML with relative links to the PNGs
written beside it, so the folder can be opened or copied as it is.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path

import torch

from omnialign.data.sample import MediaRef, Message, Part, Sample
from omnialign.models.backbone import BackboneOptions, load_causal_lm, load_processor
from omnialign.models.generation.interleaved import Answer, InterleavedGenerator

PAGE = "index.html"


@dataclass
class PromptSpec:
    """One prompt of the gallery."""

    text: str
    """What the user asks."""
    image: str | None = None
    """Path of an image that goes with the question (None: a text-only prompt)."""

    def sample(self) -> Sample:
        parts = (Part.of_media(MediaRef("image", path=self.image)),) if self.image else ()
        return Sample(prompt=(Message("user", (*parts, Part.of_text(self.text))),))


def _row(index: int, prompt: PromptSpec, answer: Answer, directory: Path) -> str:
    cells = [f"<td>{html.escape(prompt.text)}</td>", f"<td>{html.escape(answer.text)}</td>"]
    for number, image in enumerate(answer.images):
        name = f"answer{index}_image{number}.png"
        image.save(directory / name)
        cells.append(f'<td><img src="{name}" alt="{html.escape(name)}" width="128"></td>')
    return "<tr>" + "".join(cells) + "</tr>"


def write_gallery(prompts: list[PromptSpec], answers: list[Answer], directory: Path, title: str) -> Path:
    """Write each answer's images as PNGs and one HTML table (prompt, text, images) into `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    rows = [_row(i, p, a, directory) for i, (p, a) in enumerate(zip(prompts, answers, strict=True))]
    page = (
        f"<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>{html.escape(title)}</title></head>\n"
        f"<body><h1>{html.escape(title)}</h1>\n<table>\n<tr><th>prompt</th><th>text</th><th>images</th></tr>\n"
        + "\n".join(rows)
        + "\n</table></body></html>\n"
    )
    path = directory / PAGE
    path.write_text(page, encoding="utf-8")
    return path


def generate_gallery(
    backbone: BackboneOptions,
    prompts: list[PromptSpec],
    output_dir: str,
    max_new_tokens: int = 32,
    guidance_scale: float = 5.0,
    always_draw: bool = True,
    seed: int = 0,
) -> Path:
    """Answer every prompt with text and an image and write the HTML page; returns its path.

    Args:
        backbone: The any-to-any model (hub id, exported folder, or `tiny:janus` / `tiny:emu3`).
        prompts: The prompts, each a question and optionally an image.
        output_dir: Folder of the page and its PNGs.
        max_new_tokens: Most text tokens per answer.
        guidance_scale: Classifier-free guidance for image codes (1: none).
        always_draw: Draw an image after the text even when the model did not open one.
        seed: Seed of the sampling.
    """
    if not prompts:
        raise ValueError("no prompts given")
    processor = load_processor(backbone)
    model = load_causal_lm(backbone, processor).eval()
    generator = InterleavedGenerator(model, processor, max_new_tokens, guidance_scale, always_draw)
    torch.manual_seed(seed)
    answers = [generator.answer(prompt.sample()) for prompt in prompts]
    return write_gallery(prompts, answers, Path(output_dir), title=f"{backbone.name}: generations")
