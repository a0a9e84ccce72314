"""Prompts in, an HTML page out: each prompt (and its image) beside the text and PNG images the model
answered with.

`generate_gallery` is what `apps/generate.py` runs; the page is plain HTML with relative links to the PNGs
written beside it, so the folder can be opened or copied as it is.
"""

from __future__ import annotations

import html
import shutil
from dataclasses import dataclass
from pathlib import Path

import torch

from omnialign.data.sample import MediaRef, Message, Part, Sample
from omnialign.models.backbone import BackboneOptions, load_causal_lm, load_processor
from omnialign.models.device import resolve_device
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


CSS = """
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1f2933; }
main { max-width: 1100px; margin: 0 auto; padding: 24px 28px 48px; }
table { border-collapse: collapse; width: 100%; }
th, td { padding: 10px; border-bottom: 1px solid #d9e2ec; text-align: left; vertical-align: top; }
thead th { background: #f5f7fa; }
td.text { white-space: pre-wrap; max-width: 420px; }
img { width: 192px; height: auto; image-rendering: pixelated; border: 1px solid #d9e2ec; border-radius: 4px; }
.none { color: #616e7c; }
"""


NO_IMAGE = '<span class="none">no image</span>'


def _image_cell(name: str, alt: str) -> str:
    return f'<img src="{html.escape(name)}" alt="{html.escape(alt)}">'


def _prompt_image(index: int, prompt: PromptSpec, directory: Path) -> str:
    """The prompt's image, copied beside the page so the folder stays self-contained."""
    if prompt.image is None:
        return NO_IMAGE
    source = Path(prompt.image)
    name = f"prompt{index}_image{source.suffix.lower()}"
    shutil.copyfile(source, directory / name)
    return _image_cell(name, f"prompt {index} image")


def _row(index: int, prompt: PromptSpec, answer: Answer, directory: Path) -> str:
    images = []
    for number, image in enumerate(answer.images):
        name = f"answer{index}_image{number}.png"
        image.save(directory / name)
        images.append(_image_cell(name, name))
    cells = [
        f'<td class="text">{html.escape(prompt.text)}</td>',
        f"<td>{_prompt_image(index, prompt, directory)}</td>",
        f'<td class="text">{html.escape(answer.text)}</td>',
        f"<td>{''.join(images) or NO_IMAGE}</td>",
    ]
    return "<tr>" + "".join(cells) + "</tr>"


def write_gallery(prompts: list[PromptSpec], answers: list[Answer], directory: Path, title: str) -> Path:
    """Write each answer's images as PNGs, copy each prompt's image, and one HTML table (prompt, prompt
    image, answer text, answer images) into `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    rows = [_row(i, p, a, directory) for i, (p, a) in enumerate(zip(prompts, answers, strict=True))]
    head = "<tr><th>prompt</th><th>prompt image</th><th>answer</th><th>answer images</th></tr>"
    page = (
        f"<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{CSS}</style></head>\n<body><main><h1>{html.escape(title)}</h1>\n<table>\n<thead>{head}</thead>"
        "<tbody>\n" + "\n".join(rows) + "\n</tbody></table></main></body></html>\n"
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
    device: str = "auto",
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
        device: `auto` (the GPU when CUDA is available, else the CPU), `cpu`, `cuda:1`, ...
    """
    if not prompts:
        raise ValueError("no prompts given")
    processor = load_processor(backbone)
    model = load_causal_lm(backbone, processor).eval().to(resolve_device(device))
    generator = InterleavedGenerator(model, processor, max_new_tokens, guidance_scale, always_draw)
    torch.manual_seed(seed)
    answers = [generator.answer(prompt.sample()) for prompt in prompts]
    return write_gallery(prompts, answers, Path(output_dir), title=f"{backbone.name}: generations")
