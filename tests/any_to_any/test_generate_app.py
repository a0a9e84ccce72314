"""apps/generate.py: prompts -> text + PNG images (classifier-free guidance), side by side in an HTML page.

The app runs as users run it (its shipped config, a subprocess) on the tiny Janus; the page is parsed and
every image it links is opened with Pillow. Emu3 goes through the same `InterleavedGenerator` in-process.
"""

from __future__ import annotations

import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import torch
from PIL import Image

from omnialign.models.any_to_any.gallery import PromptSpec, generate_gallery
from omnialign.models.backbone import BackboneOptions
from omnialign.models.generation.interleaved import to_pil

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "configs/any_to_any/generate/tiny-janus.yaml"


class _Table(HTMLParser):
    """Rows of the page's table: the text of each cell and the images of each row."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[dict[str, list[str]]] = []

    def handle_starttag(self, tag, attrs):
        if tag == "tr":
            self.rows.append({"cells": [], "images": []})
        elif tag == "td":
            self.rows[-1]["cells"].append("")
        elif tag == "img":
            self.rows[-1]["images"].append(dict(attrs)["src"])

    def handle_data(self, data):
        if self.rows and self.rows[-1]["cells"]:
            self.rows[-1]["cells"][-1] += data


def _check_page(page: Path, prompts: list[str], prompt_images: list[Path | None]) -> None:
    """Each row: the prompt, its image (a copy beside the page, byte for byte) or none, and one answer
    image, a 32×32 RGB PNG."""
    table = _Table()
    table.feed(page.read_text(encoding="utf-8"))
    answers = table.rows[1:]  # the first row is the header
    assert [row["cells"][0] for row in answers] == prompts
    for row, source in zip(answers, prompt_images, strict=True):
        shown = [name for name in row["images"] if name.startswith("prompt")]
        assert [(page.parent / name).read_bytes() for name in shown] == (
            [source.read_bytes()] if source else []
        )
        (answer,) = [name for name in row["images"] if name.startswith("answer")]
        with Image.open(page.parent / answer) as image:
            assert image.format == "PNG" and image.mode == "RGB" and image.size == (32, 32)


def test_the_app_writes_an_html_page_with_text_and_png_images(tmp_path, render):
    """Run as users run it; in chromium every image of the page, the prompt's included, decodes cleanly."""
    output = tmp_path / "gallery"
    command = [sys.executable, "apps/generate.py", "--config", str(CONFIG), f"--output_dir={output}"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert str(output / "index.html") in done.stdout
    prompt_image = ROOT / "data/tiny/train/align-anything/text-image-to-text-image/0_image_url.png"
    _check_page(
        output / "index.html", ["Draw a bright square.", "Make this picture brighter."], [None, prompt_image]
    )
    shown = render(output / "index.html", "any-to-any-gallery.png")
    assert [i["src"] for i in shown.images] == [
        "answer0_image0.png",
        "prompt1_image.png",
        "answer1_image0.png",
    ]
    assert all(i["complete"] and i["width"] > 0 for i in shown.images) and shown.errors == []


def test_emu3_answers_through_the_same_interleaved_generator(tmp_path):
    prompts = [PromptSpec("Draw a <b>dark</b> square.")]  # markup in a prompt is escaped, not rendered
    page = generate_gallery(BackboneOptions(name="tiny:emu3"), prompts, str(tmp_path), max_new_tokens=4)
    _check_page(page, ["Draw a <b>dark</b> square."], [None])


def test_pixels_go_back_through_the_processor_normalisation():
    """mean 0.5, std 0.5, rescale 1/255: x -> (0.5 x + 0.5) * 255, so -1 -> 0, 1 -> 255, 0.2 -> 153."""

    class Processor:
        image_mean, image_std, rescale_factor = [0.5] * 3, [0.5] * 3, 1 / 255

    pixels = torch.tensor([-1.0, 1.0, 0.2, 3.0]).view(1, 1, 2, 2).repeat(1, 3, 1, 1)
    (image,) = to_pil(pixels, Processor())
    assert list(image.getdata()) == [(0, 0, 0), (255, 255, 255), (153, 153, 153), (255, 255, 255)]
