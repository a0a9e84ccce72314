"""Keeps the tiny diffusion tests on one thread."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def one_thread():
    """The tiny networks are far smaller than a thread pool's overhead; on shared cores several threads
    per process slow them down by two orders of magnitude."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
