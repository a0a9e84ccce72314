"""`apps/evaluate.py scores`: a saved tiny reward/cost model on PKU-SafeRLHF fixture pairs in two subsets;
the reported metrics must agree with a recount from the per-pair scores it logged, and those scores with the
model's own scoring of the same pair. The shipped eval configs parse strictly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from omnialign.data.fixtures import write_fixture
from omnialign.eval.cli import main
from omnialign.models.backbone import BackboneOptions, load_processor
from omnialign.models.score import ScoreConfig, build_score_model

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    root = tmp_path_factory.mktemp("scores")
    options = BackboneOptions(name="tiny:llama", seed=5)
    model = build_score_model(options, load_processor(options), ScoreConfig(heads=["reward", "cost"]))
    model.save_pretrained(root / "rm")
    files = [write_fixture(root / f"d{seed}", "pku-saferlhf", rows=6, seed=seed).path for seed in (0, 1)]
    return root, files


def _run(root: Path, files: list[Path], kind: str) -> Path:
    args = ["scores", "--model", str(root / "rm"), "--processor", "tiny:llama", "--kind", kind]
    args += ["--output_dir", str(root / kind), "--batch_size", "4"]
    args += [
        "--subsets",
        json.dumps([{"name": "a", "files": [str(files[0])]}, {"name": "b", "files": [str(files[1])]}]),
    ]
    return main(args)


def test_reward_benchmark_agrees_with_its_logged_scores(saved):
    root, files = saved
    out = _run(root, files, "reward")
    rows = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    results = {(r["task"], r["metric"]): r for r in json.loads((out / "results.json").read_text())}
    assert len(rows) == 12 and {r["subset"] for r in rows} == {"a", "b"}

    def accuracy(subset_rows):
        wins = [(r["scores"][r["chosen"]] > r["scores"][1 - r["chosen"]]) for r in subset_rows]
        return sum(wins) / len(wins)

    per_subset = {s: accuracy([r for r in rows if r["subset"] == s]) for s in "ab"}
    assert results["a", "accuracy"]["value"] == pytest.approx(per_subset["a"])
    assert results["b", "accuracy"]["value"] == pytest.approx(per_subset["b"])
    assert results["pairs", "accuracy"]["value"] == pytest.approx(accuracy(rows))
    assert results["pairs", "accuracy/macro"]["value"] == pytest.approx(
        (per_subset["a"] + per_subset["b"]) / 2
    )
    assert results["pairs", "accuracy"]["n"] == 12
    with Image.open(out / "report/reward-distribution.png") as image:
        assert image.format == "PNG"


def test_cost_benchmark_sign_accuracy_recounts(saved):
    root, files = saved
    out = _run(root, files, "cost")
    rows = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    labelled = [r for r in rows if -1 not in r["is_safe"] and r["safer"] != -1]
    signs = [
        (score > 0) == (not safe)
        for r in labelled
        for score, safe in zip(r["scores"], r["is_safe"], strict=True)
    ]
    results = {r["metric"]: r for r in json.loads((out / "results.json").read_text())}
    assert results["sign_accuracy"]["value"] == pytest.approx(sum(signs) / len(signs))
    assert results["sign_accuracy"]["n"] == len(signs) > 0


@pytest.mark.parametrize(
    ("command", "config"),
    [("tasks", "tiny.yaml"), ("scores", "reward.yaml"), ("moderation", "moderation.yaml")],
)
def test_shipped_eval_configs_parse_strictly(command, config, capsys):
    config = ROOT / "configs/eval" / config
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--config", str(config), "--print_config"])
    assert exit_info.value.code in (None, 0)
    assert "output_dir" in capsys.readouterr().out


def test_moderation_benchmark_per_category(tmp_path):
    """A 3-head moderation model on SafeSora label prompts: every per-category metric is reported, recall's
    n is that category's labelled positives, and the per-category bars open."""
    options = BackboneOptions(name="tiny:llama", seed=7)
    heads = ["violence", "porn", "unsafe"]
    model = build_score_model(options, load_processor(options), ScoreConfig(heads=heads))
    model.save_pretrained(tmp_path / "mod")
    fixture = write_fixture(tmp_path / "d", "safesora/labels", rows=8)
    args = ["moderation", "--model", str(tmp_path / "mod"), "--processor", "tiny:llama", "--inputs", "prompt"]
    out = main([*args, "--files", json.dumps([str(fixture.path)]), "--output_dir", str(tmp_path / "out")])
    rows = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    results = {r["metric"]: r for r in json.loads((out / "results.json").read_text())}
    for name in ("precision", "recall", "f1", "auroc"):
        assert {f"{name}/{h}" for h in heads} | {name} <= results.keys()
    assert results["f1/porn"]["ci_low"] is None  # F1 is no proportion: no interval, and strict JSON
    positives = sum(r["labels"]["unsafe"] == 1 for r in rows)
    assert len(rows) == 8 and results["recall/unsafe"]["n"] == positives
    with Image.open(out / "report/moderation-categories.png") as image:
        assert image.format == "PNG"
