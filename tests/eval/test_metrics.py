"""Every metric against hand-computed values (see metric_cases.py), alone and under 2-process DDP (gloo)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from metric_cases import CASES, run_case
from ports import free_port

from omnialign.eval.metrics import ModerationMetrics, PreferenceAccuracy

HERE = Path(__file__).parent


@pytest.mark.parametrize("name", sorted(CASES))
def test_metric_matches_hand_computed_values(name):
    assert run_case(name) == pytest.approx(CASES[name][2])


def test_preference_accumulates_over_updates():
    """Two updates equal one with the rows concatenated: the states sum, nothing is averaged per batch."""
    metric = PreferenceAccuracy()
    metric.update(torch.tensor([1.0]), torch.tensor([0.0]))
    metric.update(torch.tensor([0.0, 0.0, 0.0]), torch.tensor([1.0, 1.0, 1.0]))
    assert metric.compute()["accuracy"].item() == pytest.approx(0.25)  # 1 of 4, not (1 + 0)/2


def test_moderation_ignores_unlabelled_entries():
    """Category a, row 2 unlabelled (-1), must not count: predicted 1, 1 vs labels 1, 0 → precision ½,
    recall 1; AUROC: positive .9 above negative .7 → 1. (Counted as a negative, its .2 would not change
    these, so b checks the other way: row 1's -1 at .8 would be a false positive.) b: predicted 1, 0, 1 on
    labels -1, 0, 1 → precision 1, recall 1."""
    metric = ModerationMetrics(["a", "b"], ignore_index=-1)
    metric.update(
        torch.tensor([[0.9, 0.8], [0.2, 0.1], [0.7, 0.6]]), torch.tensor([[1, -1], [-1, 0], [0, 1]])
    )
    result = {key: value.item() for key, value in metric.compute().items()}
    assert result["precision/a"] == pytest.approx(0.5)
    assert result["recall/a"] == pytest.approx(1.0)
    assert result["auroc/a"] == pytest.approx(1.0)
    assert (result["precision/b"], result["recall/b"], result["auroc/b"]) == pytest.approx((1.0, 1.0, 1.0))


@pytest.mark.slow
def test_metrics_synchronise_across_two_gloo_processes(tmp_path):
    """Each rank sees every other row; both ranks must compute the full-data, hand-computed values."""
    port = str(free_port())
    outs = [tmp_path / f"rank{rank}.json" for rank in range(2)]
    procs = [
        subprocess.Popen(
            [sys.executable, str(HERE / "ddp_metrics_worker.py"), str(rank), "2", port, str(out)], cwd=HERE
        )
        for rank, out in enumerate(outs)
    ]
    assert [proc.wait(timeout=120) for proc in procs] == [0, 0]
    for out in outs:
        results = json.loads(out.read_text())
        for name, (_, _, expected) in CASES.items():
            assert results[name] == pytest.approx(expected), name
