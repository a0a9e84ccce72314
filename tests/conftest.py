"""Shared fixtures: the tiny tokenizer, the repository root, and a headless browser for the HTML pages the
apps write. Everything here is offline and seeded."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from omnialign.models.tiny_tokenizer import build_tiny_tokenizer

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture
def tiny_tokenizer():
    return build_tiny_tokenizer()


CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = REPO_ROOT / "artifacts"
"""Screenshots of pages opened in the browser tests (git-ignored; CI keeps the folder)."""


@pytest.fixture(scope="session")
def browser():
    """Debian's chromium driven by playwright (`.ci/run` installs it). Off CI a machine without it skips the
    browser tests with the install command; on CI (CI=true) a missing browser fails them."""
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: .ci/run installs it with apt-get install chromium")
        pytest.skip(f"needs {CHROMIUM}: apt-get install chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM))
        yield chromium
        chromium.close()


@dataclass
class Rendered:
    """What a page showed in the browser."""

    images: list[dict]
    """Each `<img>`: its `src`, whether loading finished (`complete`) and its decoded `width` (0: broken)."""
    errors: list[str]
    """Console errors (a missing file included) and uncaught script errors."""
    text: str
    """The page's visible text."""
    screenshot: Path
    players: list[dict]
    """Each `<audio>`/`<video>`: `tag`, `src`, `duration` once its metadata loaded (None before), and the
    `MediaError` code (None: no error; 4: the browser cannot play the file)."""


@pytest.fixture
def render(browser):
    """Open an HTML file by file:// URL, wait for it to load, and keep a full-page screenshot under
    artifacts/."""

    def open_page(path: Path, screenshot: str) -> Rendered:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        errors: list[str] = []
        page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(path.resolve().as_uri(), wait_until="load")
        page.wait_for_function(  # players fetch their metadata after `load`
            "Array.from(document.querySelectorAll('audio, video')).every(m => m.readyState >= 1 || m.error)"
        )
        players = page.evaluate(
            "Array.from(document.querySelectorAll('audio, video'), m => ({tag: m.tagName.toLowerCase(),"
            " src: m.getAttribute('src'), duration: m.readyState >= 1 ? m.duration : null,"
            " error: m.error ? m.error.code : null}))"
        )
        images = page.evaluate(
            "Array.from(document.images, i => ({src: i.getAttribute('src'), complete: i.complete,"
            " width: i.naturalWidth}))"
        )
        ARTIFACTS.mkdir(exist_ok=True)
        shot = ARTIFACTS / screenshot
        page.screenshot(path=str(shot), full_page=True)
        text = page.inner_text("body")
        page.close()
        return Rendered(images, errors, text, shot, players)

    return open_page
