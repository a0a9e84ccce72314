"""The real-model evaluation recipe end to end, cut down: the README's three commands (train the lookup reward
model, train the lookup DPO policy, evaluate SmolLM2 against the policy with configs/smollm2/eval/lookup.yaml)
run through the apps' own entry points in a fresh folder, so the recipes' relative `runs/...` paths land
there. Cut down: 4 training pairs and 2 steps per model, 4 held-out prompts. Asserted: the exports the eval
recipe names exist, and the results, per-sample rows and report are complete and consistent with each other
(the rule's scores recomputed from the answers, means and win rates from the scores), not how well two
training steps did."""

from __future__ import annotations

import io
import json
import math
from contextlib import redirect_stdout
from pathlib import Path

import pytest
import torch
import yaml

from omnialign.alignment.cli import main as train
from omnialign.data.fixtures.disclosure import judge_lookup
from omnialign.eval.cli import main as evaluate

REPO = Path(__file__).resolve().parents[2]
RECIPES = {"reward": "configs/smollm2/disclosure/reward.yaml", "dpo": "configs/smollm2/disclosure/dpo.yaml"}
EVAL = "configs/smollm2/eval/lookup.yaml"
PROMPTS = 4
RESULT_KEYS = {"model", "task", "metric", "value", "n", "ci_low", "ci_high", "ci_method"}


def _first_lines(source: Path, target: Path, count: int) -> str:
    target.write_text("\n".join(source.read_text().splitlines()[:count]) + "\n")
    return str(target)


def _cut_down(work: Path) -> list[str]:
    data = REPO / "data/smollm2/disclosure"
    train_pairs = _first_lines(data / "train/lookup.jsonl", work / "train-pairs.jsonl", 4)
    val_pairs = _first_lines(data / "val/lookup.jsonl", work / "val-pairs.jsonl", 2)
    return [
        f"--data.init_args.train_files=[{train_pairs}]",
        f"--data.init_args.val_files=[{val_pairs}]",
        "--data.init_args.batch_size=2",
        "--trainer.max_steps=2",
        "--trainer.num_sanity_val_steps=0",
        "--trainer.enable_checkpointing=false",
        "--trainer.enable_progress_bar=false",
    ]


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("eval-lookup")
    for name in ("configs", "data"):
        (work / name).symlink_to(REPO / name)
    registry = yaml.safe_load((REPO / "configs/smollm2/eval/registry.yaml").read_text())
    for task in registry["tasks"]:
        task["limit"] = PROMPTS
    (work / "registry.yaml").write_text(yaml.safe_dump(registry))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # on two shared cores a second thread made generation 18x slower (80 s vs 4.4 s)
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.chdir(work)
            for recipe in RECIPES.values():
                train(["fit", "--config", recipe, *_cut_down(work)])
            with redirect_stdout(io.StringIO()) as printed:
                args = ["--registry", str(work / "registry.yaml"), "--resamples", "200"]
                evaluate(["tasks", "--config", EVAL, *args])
    finally:
        torch.set_num_threads(threads)
    (work / "printed.txt").write_text(printed.getvalue())
    return work


def test_the_recipes_export_where_the_eval_recipe_reads(evaluated):
    recipe = yaml.safe_load((REPO / EVAL).read_text())
    aligned = next(m for m in recipe["models"] if m["name"] == "aligned")
    assert (evaluated / aligned["adapter"]["init_args"]["backbone"]["name"] / "config.json").is_file()
    assert (evaluated / recipe["judges"]["reward"]["init_args"]["path"] / "config.json").is_file()


def test_results_give_each_model_a_score_with_an_interval_and_the_win_rates(evaluated):
    output_dir = yaml.safe_load((REPO / EVAL).read_text())["output_dir"]
    out = evaluated / output_dir
    printed = (evaluated / "printed.txt").read_text().splitlines()
    assert f"results: {output_dir}/results.json" in printed
    assert f"report: {output_dir}/report/report.html" in printed
    entries = json.loads((out / "results.json").read_text())
    assert all(set(e) == RESULT_KEYS for e in entries)
    results = {(e["model"], e["task"], e["metric"]): e for e in entries}
    rows = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    assert len(rows) == 2 * 2 * PROMPTS
    for task in ("lookup-rule", "lookup-reward"):
        scores = {}
        for model in ("base", "aligned"):
            mine = {r["id"]: r["score"] for r in rows if (r["task"], r["model"]) == (task, model)}
            assert len(mine) == PROMPTS and all(math.isfinite(s) for s in mine.values())
            entry = results[model, task, "score"]
            assert entry["n"] == PROMPTS and entry["ci_method"] == "bootstrap"
            assert entry["value"] == pytest.approx(sum(mine.values()) / PROMPTS)
            assert entry["ci_low"] <= entry["value"] + 1e-9 and entry["value"] - 1e-9 <= entry["ci_high"]
            assert results[model, task, "unparsed_verdicts[" + task.split("-")[1] + "]"]["value"] == 0
            scores[model] = mine
        pairs = [(scores["aligned"][i], scores["base"][i]) for i in scores["base"]]
        wins = sum(1.0 if a > b else 0.5 if a == b else 0.0 for a, b in pairs)
        win = results["aligned", task, "win_rate_vs[base]"]
        assert (win["value"], win["n"], win["ci_method"]) == (
            pytest.approx(wins / PROMPTS),
            PROMPTS,
            "wilson",
        )
        assert results["base", task, "win_rate_vs[aligned]"]["value"] == pytest.approx(1 - win["value"])


def test_rule_scores_are_the_rule_applied_to_the_answers(evaluated):
    out = evaluated / yaml.safe_load((REPO / EVAL).read_text())["output_dir"]
    rows = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    items = [json.loads(line) for line in (REPO / "data/smollm2/disclosure/val/eval-lookup.jsonl").open()]
    by_id = {item["id"]: item for item in items[:PROMPTS]}
    for row in rows:
        item = by_id[row["id"]]
        assert row["inputs"]["system"] == item["system"] and row["inputs"]["prompt"] == item["prompt"]
        assert row["output"].strip(), "a real model answers with text"
        if row["task"] == "lookup-rule":
            assert row["score"] == float(judge_lookup(row["output"], **item["labels"]))
    answers = {(r["model"], r["id"]): r["output"] for r in rows if r["task"] == "lookup-rule"}
    assert answers == {(r["model"], r["id"]): r["output"] for r in rows if r["task"] == "lookup-reward"}
    report = (out / "report/report.html").read_text()
    assert "lookup-rule" in report and "lookup-reward" in report and "system: " in report
