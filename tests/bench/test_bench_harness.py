"""The peer benchmark harness runs every variant of every objective (a smoke run: two steps, one repeat, the
GRPO rollouts cut to 2 prompts x 2 samples of 4 tokens): a broken benchmark is found in CI, not when someone
needs the numbers. Timing is never asserted here; the harness's own arithmetic is."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

EXPECTED_ROWS = {"dpo": 10, "reward": 3, "sft": 5, "grpo": 4}  # the quick run leaves out `-nogc`


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_peer_benchmark_runs_every_variant(repo_root, tmp_path):
    result = subprocess.run(
        [sys.executable, "bench/vs_trl.py", "--quick", "--repeats", "1", "--out", str(tmp_path)],
        cwd=repo_root,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    for objective, rows in EXPECTED_ROWS.items():
        runs = json.loads((tmp_path / f"{objective}-tiny.json").read_text())
        assert len(runs) == rows
        for (run,) in runs.values():
            assert run["per_second"] > 0 and run["peak_rss_mib"] > 0
            assert run["end_to_end_seconds"] >= run["timed_seconds"]
        if objective == "grpo":
            assert all(r["generated_tokens_per_s"] > 0 for (r,) in runs.values())


def test_ratios_compare_each_reference_mode_with_its_fastest_peer(repo_root, monkeypatch):
    """A DPO variant is compared with TRL in the same reference mode, "best" being TRL's fastest variant there
    (memory compared with that same variant)."""
    monkeypatch.syspath_prepend(str(repo_root / "bench"))
    from vs_trl import table

    def run(per_second: float, rss: float) -> list[dict]:
        return [{"per_second": per_second, "end_to_end_per_second": 1.0, "peak_rss_mib": rss}]

    dpo = {
        ("omnialign", "live"): run(6.0, 100.0),
        ("trl", "live-default"): run(2.0, 100.0),
        ("trl", "live-best"): run(4.0, 200.0),
        ("trl", "live-best-nogc"): run(3.0, 300.0),
        ("omnialign", "live-prefix"): run(8.0, 100.0),
        ("omnialign", "precomputed"): run(9.0, 50.0),
        ("trl", "precomputed-default"): run(3.0, 100.0),
        ("trl", "precomputed-best"): run(5.0, 400.0),
        ("trl", "precomputed-best-nogc"): run(6.0, 100.0),
    }
    rows = table("dpo", dpo).splitlines()
    assert rows[2].endswith("| 3.00x | 1.50x | 0.50x |")
    assert rows[6].endswith("| 4.00x | 2.00x | 0.50x |")  # a layout variant is compared in its mode too
    assert rows[7].endswith("| 3.00x | 1.50x | 0.50x |")
    reward = {("omnialign", "default"): run(3.0, 120.0), ("trl", "default"): run(2.0, 100.0)}
    assert table("reward", reward).splitlines()[2].endswith("| 1.50x | 1.50x | 1.20x |")
