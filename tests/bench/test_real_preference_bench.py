"""bench/real/preference_objectives.py runs end to end in its cut-down setting (a tiny random model, a few
pairs, two steps per objective): the script behind BENCHMARKS.md's real-model section stays runnable. Its
numbers are not asserted here; tests/real holds the learning bars."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


@pytest.mark.slow
def test_real_preference_bench_runs_in_quick_mode(repo_root, tmp_path):
    result = subprocess.run(
        [sys.executable, "bench/real/preference_objectives.py", "--quick", "--out", str(tmp_path)],
        cwd=repo_root,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    results = json.loads((tmp_path / "results-all.json").read_text())
    for name in ("reward", "cost"):
        assert results[name]["after"]["n"] > 0 and 0 <= results[name]["after"]["accuracy"] <= 1
    for name in ("base", "dpo", "simpo", "kto"):
        assert results[name]["generation"]["n"] == 4
        assert results[name]["pairs"]["kl_per_token"] >= -1e-6
    assert results["base"]["pairs"]["kl_per_token"] == pytest.approx(0.0, abs=1e-6)
    rows = [line for line in result.stdout.splitlines() if line.startswith("| ") and "---" not in line]
    assert len(rows) == 2 + 2 + 4  # two headers, reward and cost, base and three policies
