"""The benchmark harness itself runs (a smoke run with a shrunken model): a broken benchmark is found in CI,
not when someone needs the numbers. Timing is never asserted here."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.slow
def test_dpo_benchmark_harness_runs_every_variant(repo_root):
    result = subprocess.run(
        [sys.executable, "bench/dpo_vs_trl.py", "--quick"],
        cwd=repo_root,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    rows = [line for line in result.stdout.splitlines() if line.startswith("| ") and "variant" not in line]
    assert len(rows) == 4, result.stdout
