"""`apps/evaluate.py scores`: a saved tiny reward/cost model on PKU-SafeRLHF fixture pairs in two subsets;
the reported metrics must agree with a recount from the per-pair scores it logged, and those scores with the
model's own scoring of the same pair. Files with other column names and a hub-style split read through a
config's `columns` and `split`, as the training datamodules read them. The shipped eval configs parse
strictly."""

from __future__ import annotations

import json
from pathlib import Path

import datasets
import pytest
import yaml
from PIL import Image

from omnialign.data.errors import RecordError
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


def _rows(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]


def test_config_columns_and_split_read_renamed_files(saved, tmp_path):
    """The same pairs with `prompt`, `response_0`, `response_1` renamed, saved as a `DatasetDict` whose only
    split is `test`: a config with `columns` and `split: test` logs exactly the scores and labels of the
    original JSONL; without the mapping the run stops at the missing field."""
    root, files = saved
    renames = {"prompt": "question", "response_0": "answer_a", "response_1": "answer_b"}
    original = [json.loads(line) for line in files[0].read_text().splitlines()]
    renamed = [{renames.get(key, key): value for key, value in row.items()} for row in original]
    datasets.DatasetDict({"test": datasets.Dataset.from_list(renamed)}).save_to_disk(str(tmp_path / "hf"))
    config = {
        "model": str(root / "rm"),
        "processor": "tiny:llama",
        "kind": "reward",
        "batch_size": 4,
        "output_dir": str(tmp_path / "renamed"),
        "split": "test",
        "columns": renames,
        "subsets": [{"name": "a", "files": [str(tmp_path / "hf")]}],
    }
    (tmp_path / "renamed.yaml").write_text(yaml.safe_dump(config))
    renamed_out = main(["scores", "--config", str(tmp_path / "renamed.yaml")])
    plain_args = ["scores", "--model", str(root / "rm"), "--processor", "tiny:llama", "--batch_size", "4"]
    plain_args += [
        "--output_dir",
        str(tmp_path / "plain"),
        "--subsets",
        json.dumps([{"name": "a", "files": [str(files[0])]}]),
    ]
    plain_out = main(plain_args)
    assert _rows(renamed_out) == _rows(plain_out) and len(_rows(plain_out)) == 6
    config["columns"] = None
    (tmp_path / "unmapped.yaml").write_text(yaml.safe_dump(config))
    with pytest.raises(RecordError, match="row 0, field 'prompt': required field is missing"):
        main(["scores", "--config", str(tmp_path / "unmapped.yaml")])


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
    [
        ("tasks", "eval/tiny.yaml"),
        ("scores", "eval/reward.yaml"),
        ("moderation", "eval/moderation.yaml"),
        ("tasks", "smollm2/eval/lookup.yaml"),
    ],
)
def test_shipped_eval_configs_parse_strictly(command, config, capsys):
    config = ROOT / "configs" / config
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
