"""Keeps the prompt-refiner tests on one thread."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny refiners, score models and video diffusion models are far smaller than a thread pool's overhead;
    on shared cores several threads per process slow them down by orders of magnitude."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
