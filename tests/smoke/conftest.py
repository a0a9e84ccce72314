"""The `smoke` tier: every shipped tiny recipe runs through its app for one step (tests/smoke/smoke_plan.py).

Every test in this folder is marked `smoke`, so `pytest -m smoke` runs the tier alone and `-m "not smoke"`
leaves it out. Each test gets a workspace: a fresh folder whose `configs/` and `data/` link to the
repository's, so the recipes run unchanged with their own relative paths and write `runs/`, `eval-data/`
and `eval-out/` there.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from smoke_plan import REPO


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/smoke/" in str(item.fspath):
            item.add_marker(pytest.mark.smoke)


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("configs", "data"):
        (tmp_path / name).symlink_to(REPO / name, target_is_directory=True)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WANDB_MODE", "offline")
    return tmp_path


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models gain nothing from a thread pool; on two shared cores several threads slow them down."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
