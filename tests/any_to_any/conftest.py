"""Shared pieces of the any-to-any tests: the tiny Janus processor and model, and small images on disk."""

from __future__ import annotations

import numpy as np
import pytest

from omnialign.data.fixtures.media_files import write_image
from omnialign.data.sample import MediaRef
from omnialign.models.backbone import BackboneOptions, load_causal_lm, load_processor

JANUS = BackboneOptions(name="tiny:janus", seed=0)


@pytest.fixture(scope="session")
def janus_processor():
    return load_processor(JANUS)


@pytest.fixture
def janus_model(janus_processor):
    return load_causal_lm(JANUS, janus_processor)


@pytest.fixture(scope="session")
def images(tmp_path_factory) -> dict[str, MediaRef]:
    """A dark and a bright 32 px image (the size the tiny Janus reads and writes)."""
    root = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    return {
        name: MediaRef("image", path=str(write_image(root / f"{name}.png", level, rng, size=32)))
        for name, level in (("dark", 0.2), ("bright", 0.8))
    }
