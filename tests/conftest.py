"""Shared fixtures: the tiny tokenizer and the repository root. Everything here is offline and seeded."""

from __future__ import annotations

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
