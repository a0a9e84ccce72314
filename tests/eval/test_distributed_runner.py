"""The runner under torchrun with 2 CPU processes (gloo) against one process, on the shipped tiny config
(every family and the image metrics), judged by an OpenAI-compatible stub whose rating is a hash of the
request: the outputs must be identical, and the stub must have been asked exactly as often as by one
process (each item judged once, by one rank)."""

from __future__ import annotations

import hashlib
import json
import math
import os
import subprocess
import sys
import threading
from contextlib import chdir
from pathlib import Path
from typing import ClassVar

import pytest
import yaml
from chat_stub import ChatStub, serving

from omnialign.eval.cli import main
from omnialign.eval.distributed import Shards, progress
from omnialign.eval.fixtures import write_eval_fixture

ROOT = Path(__file__).resolve().parents[2]


class HashRatingHandler(ChatStub):
    """Rates 1..5 by a hash of the message content, so different items get different, reproducible scores."""

    requests: ClassVar[list[str]] = []
    lock = threading.Lock()

    def reply(self, body: dict) -> str:
        content = json.dumps(body["messages"][0]["content"], sort_keys=True)
        with HashRatingHandler.lock:
            HashRatingHandler.requests.append(content)
        return f"Rating: [[{1 + int(hashlib.sha256(content.encode()).hexdigest(), 16) % 5}]]"


@pytest.fixture(scope="module")
def stub_url():
    with serving(HashRatingHandler) as url:
        yield url


def _config(work: Path, url: str) -> Path:
    """configs/eval/tiny.yaml with both judge roles bound to the stub."""
    config = yaml.safe_load((ROOT / "configs/eval/tiny.yaml").read_text())
    judge = {"class_path": "omnialign.eval.judges.HttpJudge", "init_args": {"url": url, "model": "stub"}}
    config["judges"] = {"judge": judge, "reward": judge}
    config["registry"] = str(ROOT / "configs/eval/registry.yaml")
    path = work / "run.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.mark.slow
def test_two_processes_write_what_one_writes(tmp_path, stub_url):
    write_eval_fixture(tmp_path / "eval-data")
    config = _config(tmp_path, stub_url)
    HashRatingHandler.requests = []
    with chdir(tmp_path):  # the config's paths are relative to where the app runs
        main(["tasks", "--config", str(config), "--output_dir", str(tmp_path / "one")])
    single_requests = sorted(HashRatingHandler.requests)

    HashRatingHandler.requests = []
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2"]
    app = [str(ROOT / "apps/evaluate.py"), "tasks", "--config", str(config)]
    app += ["--output_dir", str(tmp_path / "two")]
    env = os.environ | {"OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [*launcher, *app], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]

    assert sorted(HashRatingHandler.requests) == single_requests  # every item judged once, none twice
    one, two = tmp_path / "one", tmp_path / "two"
    assert (two / "samples.jsonl").read_text() == (one / "samples.jsonl").read_text()
    single, double = (json.loads((out / "results.json").read_text()) for out in (one, two))
    assert [{k: v for k, v in e.items() if k != "value"} for e in double] == [
        {k: v for k, v in e.items() if k != "value"} for e in single
    ]
    # image features are summed/concatenated per rank before the metric: equal up to float summation order
    values = [[math.nan if e["value"] is None else e["value"] for e in run] for run in (double, single)]
    assert values[0] == pytest.approx(values[1], rel=1e-6, nan_ok=True)
    assert any(e["metric"] == "fid" and e["value"] is not None for e in double)
    assert sorted(os.listdir(two / "report")) == sorted(os.listdir(one / "report"))


def test_shards_interleave_and_merge_back_in_order():
    """Items 0..6 over 3 ranks: rank 1 takes 1 and 4; merging each rank's per-item results restores 0..6."""
    items = list(range(7))
    assert Shards(1, 3).take(items) == [1, 4]
    parts = [Shards(rank, 3).take(items) for rank in range(3)]
    assert [parts[i % 3][i // 3] for i in range(7)] == items  # the rule `merge` applies to gathered parts


def test_progress_bars_only_on_rank_zero(monkeypatch):
    assert not progress(range(2), "main").disable
    monkeypatch.setattr(Shards, "current", classmethod(lambda cls: Shards(1, 2)))
    assert progress(range(2), "other").disable
