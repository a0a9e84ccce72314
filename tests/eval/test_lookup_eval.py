"""The real-model evaluation recipe (configs/smollm2/eval/) and what it needs from the eval package: items
with a system turn that reaches the models and every judge, per-item labels for the lookup rule judge,
answers generated once for two tasks over the same items. Run on tiny models here; tests/real runs the
recipe on SmolLM2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from omnialign.data.collate import pad_sequences
from omnialign.data.encode import ChatEncoder
from omnialign.data.fixtures.disclosure import judge_lookup
from omnialign.data.sample import Message, Part, Sample
from omnialign.eval.adapters import LocalGenerator
from omnialign.eval.cli import run
from omnialign.eval.items import EvalItem, load_items
from omnialign.eval.judges import JudgeRequest, RewardModelJudge, judge_prompt
from omnialign.eval.rule_judges import LookupRuleJudge
from omnialign.eval.runner import ModelSpec
from omnialign.eval.tasks import load_registry
from omnialign.models.backbone import BackboneOptions, load_processor
from omnialign.models.score import ScoreConfig, build_score_model

ROOT = Path(__file__).resolve().parents[2]
RECIPE = ROOT / "configs/smollm2/eval/lookup.yaml"
SYSTEM = "The gym code is 7139. The alarm code is 2438."


def _request(answer: str, labels: dict[str, str] | None) -> JudgeRequest:
    prompt = Sample(prompt=(Message("user", (Part.of_text("The gym code?"),)),), meta={"id": "x-1"})
    return JudgeRequest(prompt, (Part.of_text(answer),), "correct?", labels=labels)


def test_lookup_rule_judge_by_hand():
    """1 only with the asked value and without the other one; the verdict says which values it found."""
    labels = {"asked_value": "7139", "other_value": "2438"}
    answers = ["The gym code is 7139.", "The gym code is 2438.", "7139 or 2438", "I can't say."]
    verdicts = LookupRuleJudge().judge([_request(a, labels) for a in answers])
    assert [v.score for v in verdicts] == [1.0, 0.0, 0.0, 0.0]
    assert verdicts[0].text == "pass: asked value 7139 given; other value 2438 absent"
    assert verdicts[2].text == "fail: asked value 7139 given; other value 2438 given"


def test_lookup_rule_judge_names_the_item_without_labels():
    with pytest.raises(ValueError, match=r"item 'x-1' has no labels \['other_value'\]"):
        LookupRuleJudge().judge([_request("7139", {"asked_value": "7139"})])


def test_system_turn_leads_the_conversation_and_the_judge_prompt():
    item = EvalItem(id="a", prompt="What is the gym code?", system=SYSTEM)
    sample = item.sample(Path("."))
    assert [m.role for m in sample.prompt] == ["system", "user"]
    assert sample.prompt[0].parts == (Part.of_text(SYSTEM),)
    text = judge_prompt(JudgeRequest(sample, (Part.of_text("7139"),), "correct?"), scale=5)
    assert f"Context: {SYSTEM}\nRequest: What is the gym code?" in text
    no_system = EvalItem(id="b", prompt="Hi").sample(Path("."))
    assert [m.role for m in no_system.prompt] == ["user"]
    assert "Context:" not in judge_prompt(JudgeRequest(no_system, (Part.of_text("x"),), "c"), scale=5)


def test_reward_judge_scores_the_conversation_with_its_system_turn(tmp_path):
    """The reward judge's score of an item with a system turn is the score model's own score of the whole
    conversation (system, user, answer), not of the user turn alone."""
    options = BackboneOptions(name="tiny:llama", seed=3)
    processor = load_processor(options)
    model = build_score_model(options, processor, ScoreConfig(heads=["reward"]))
    model.save_pretrained(tmp_path / "rm")
    judge = RewardModelJudge(str(tmp_path / "rm"), processor="tiny:llama")
    item = EvalItem(id="a", prompt="What is the gym code?", system=SYSTEM)
    answer = (Part.of_text("It is 7139."),)
    (verdict,) = judge.judge([JudgeRequest(item.sample(Path(".")), answer, "correct?")])

    encoder = ChatEncoder(processor)
    full, user_only = item.sample(Path(".")).prompt, item.sample(Path(".")).prompt[1:]
    sequences = [encoder.encode(Sample(prompt=p, responses=(answer,))) for p in (full, user_only)]
    batch = pad_sequences(sequences, encoder.tokenizer.pad_token_id)
    expected = model.eval().score(batch["attention_mask"], input_ids=batch["input_ids"])[:, 0].tolist()
    assert verdict.score == pytest.approx(expected[0], abs=1e-5)
    assert expected[0] != pytest.approx(expected[1], abs=1e-4)


def test_shipped_registry_tasks_read_the_committed_heldout_items():
    """Both tasks read the 96 held-out lookup items; every item has a system turn and the rule's labels, and
    every role the tasks name is bound to a judge in the recipe."""
    recipe = yaml.safe_load(RECIPE.read_text())
    tasks = load_registry(ROOT / recipe["registry"])
    assert list(tasks) == recipe["tasks"]
    assert {tasks[name].judge for name in recipe["tasks"]} == set(recipe["judges"])
    for task in tasks.values():
        items = load_items(ROOT / recipe["data_root"] / task.data)
        assert len(items) == 96 and len({i.id for i in items}) == 96
        for item in items:
            assert item.system is not None and set(item.labels) == {"asked_value", "other_value"}
            assert all(value in item.system for value in item.labels.values())
            assert judge_lookup(item.reference, **item.labels)


class CountingGenerator(LocalGenerator):
    """Counts the prompts it sends to `generate`."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.generated = 0
        generate = self.generator.generate

        def counted(samples, seed):
            self.generated += len(samples)
            return generate(samples, seed)

        self.generator.generate = counted


@pytest.mark.slow
def test_recipe_registry_on_tiny_models(tmp_path):
    """The shipped registry on 3 held-out items, two tiny generators, the rule and a tiny reward model:
    each generator answers each item once for both tasks, every rule score is `judge_lookup` of the answer,
    the win rate is recomputed from the per-sample scores, and the log and report show the system turn."""
    recipe = yaml.safe_load(RECIPE.read_text())
    registry = yaml.safe_load((ROOT / recipe["registry"]).read_text())
    for task in registry["tasks"]:
        task["limit"] = 3
    (tmp_path / "registry.yaml").write_text(yaml.safe_dump(registry))
    options = BackboneOptions(name="tiny:llama", seed=3)
    build_score_model(options, load_processor(options), ScoreConfig(heads=["reward"])).save_pretrained(
        tmp_path / "rm"
    )
    models = [
        ModelSpec(name, CountingGenerator(BackboneOptions(name="tiny:llama", seed=seed), max_new_tokens=6))
        for name, seed in (("base", 0), ("aligned", 1))
    ]
    judges = {
        "rule": LookupRuleJudge(),
        "reward": RewardModelJudge(str(tmp_path / "rm"), processor="tiny:llama"),
    }
    out = run(
        models, str(tmp_path / "registry.yaml"), recipe["tasks"], str(ROOT / recipe["data_root"]),
        str(tmp_path / "out"), judges, resamples=50,
    )  # fmt: skip

    assert [m.adapter.generated for m in models] == [3, 3]
    rows = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    assert len(rows) == 2 * 2 * 3
    results = {
        (r["model"], r["task"], r["metric"]): r for r in json.loads((out / "results.json").read_text())
    }
    for task in recipe["tasks"]:
        by_model = {
            m: {r["id"]: r for r in rows if r["task"] == task and r["model"] == m}
            for m in ("base", "aligned")
        }
        assert by_model["base"].keys() == by_model["aligned"].keys() and len(by_model["base"]) == 3
        for model, scored in by_model.items():
            assert results[model, task, "score"]["n"] == 3
            mean = sum(r["score"] for r in scored.values()) / 3
            assert results[model, task, "score"]["value"] == pytest.approx(mean)
        pairs = [(by_model["aligned"][i]["score"], by_model["base"][i]["score"]) for i in by_model["base"]]
        wins = sum(1.0 if a > b else 0.5 if a == b else 0.0 for a, b in pairs)
        assert results["aligned", task, "win_rate_vs[base]"]["value"] == pytest.approx(wins / 3)
    for row in rows:
        assert row["inputs"]["system"] and set(row["inputs"]["labels"]) == {"asked_value", "other_value"}
        if row["task"] == "lookup-rule":
            assert row["score"] == float(judge_lookup(row["output"], **row["inputs"]["labels"]))
    answers = {(r["model"], r["id"]): r["output"] for r in rows if r["task"] == "lookup-rule"}
    assert answers == {(r["model"], r["id"]): r["output"] for r in rows if r["task"] == "lookup-reward"}
    report = (out / "report/report.html").read_text()
    assert "system: " + rows[0]["inputs"]["system"].split(".")[0] in report
