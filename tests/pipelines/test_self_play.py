"""Self-play data: pairs from stub answers, the shipped data's consistency, the report's statistics, and
self-play end to end on a tiny random model (the rule is tested by hand in tests/models/test_rules.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from omnialign.data.records import load_samples
from omnialign.models.generation.text import GenerationOptions
from omnialign.models.rules import PlainProse
from omnialign.pipelines.before_after import compare
from omnialign.pipelines.everyday_prompts import HELDOUT_TEMPLATES, TRAIN_TEMPLATES, everyday_prompts
from omnialign.pipelines.self_play import HELDOUT_FILE, PREFERENCE_FILE, SKIPPED_FILE, SelfPlay, run_self_play

DATA = Path(__file__).resolve().parents[2] / "data" / "smollm2"
RULE = PlainProse(min_words=2, target_words=4, max_words=8, markup_factor=0.25, incomplete_factor=0.5)


class StubGenerator:
    """Answers the i-th sample of a call with a fixed script; records the seeds it was called with."""

    options = GenerationOptions(max_new_tokens=8, temperature=0.7)

    def __init__(self, script: list[str]) -> None:
        self.script, self.seeds = script, []

    def generate(self, samples, seed):
        self.seeds.append(seed)
        return [self.script[i % len(self.script)] for i in range(len(samples))]


def test_pairs_are_best_vs_worst_and_ties_are_skipped():
    train, _ = everyday_prompts(3, 0)
    # prompt 0: scores [1, 0.25] -> pair; prompt 1: [1, 0.25] -> pair; prompt 2 (second batch): same script
    generator = StubGenerator(["Water it weekly.", "1. Water it."])
    play = SelfPlay(generator, RULE, "stub", num_samples=2, batch_size=2, seed=5)
    pairs, skipped = play.pairs(train)
    assert [row["id"] for row in pairs] == ["train-000", "train-001", "train-002"] and not skipped
    assert all(r["chosen"] == "Water it weekly." and r["rejected"] == "1. Water it." for r in pairs)
    assert pairs[0]["provenance"]["scores"] == [1.0, 0.25] and pairs[0]["provenance"]["chosen_index"] == 0
    assert len(set(generator.seeds)) == 2  # one seed per batch
    tied, skipped = SelfPlay(StubGenerator(["Same answer."]), RULE, "stub", 2).pairs(train[:1])
    assert not tied and skipped[0]["reason"] == "no score margin between rewrites"


def test_shipped_data_is_consistent_with_the_rule_and_the_split():
    pairs = load_samples(DATA / PREFERENCE_FILE, "preference")
    assert pairs.report.kept == len(pairs.samples) > 20 and not pairs.report.skipped
    rows = [json.loads(line) for line in (DATA / PREFERENCE_FILE).read_text().splitlines()]
    skipped = [json.loads(line) for line in (DATA / SKIPPED_FILE).read_text().splitlines()]
    judge = PlainProse(**{k: v for k, v in rows[0]["provenance"]["judge"].items() if k != "rule"})
    for row in rows:
        answers = row["provenance"]["answers"]
        assert answers[row["provenance"]["chosen_index"]] == row["chosen"]
        assert answers[row["provenance"]["rejected_index"]] == row["rejected"]
        assert judge.score(row["chosen"]) > judge.score(row["rejected"])  # recomputed, not read back
    train, heldout = everyday_prompts(len(rows) + len(skipped), 24)
    assert sorted(r["id"] for r in rows + skipped) == [p.id for p in train]
    held = [json.loads(line) for line in (DATA / HELDOUT_FILE).read_text().splitlines()]
    assert [h["prompt"] for h in held] == [p.text for p in heldout]
    train_tasks = {r["provenance"]["task"] for r in rows + skipped}
    assert not train_tasks & {p.task for p in heldout}
    assert not set(TRAIN_TEMPLATES) & set(HELDOUT_TEMPLATES)
    assert not any(p.task in h["prompt"] for p in train for h in held)


def test_compare_by_hand():
    report = compare([0.0, 0.5, 1.0, 1.0], [1.0, 0.5, 0.25, 1.0], resamples=200, seed=0)
    assert report["before"]["mean"] == pytest.approx(0.625) and report["after"]["mean"] == pytest.approx(
        0.6875
    )
    assert report["difference"]["mean"] == pytest.approx(0.0625)
    assert (report["win_rate"]["wins"], report["win_rate"]["ties"], report["win_rate"]["losses"]) == (1, 2, 1)
    assert report["win_rate"]["value"] == pytest.approx(0.5)
    for key in ("before", "after", "difference"):
        low, high = report[key]["ci95"]
        assert low <= report[key]["mean"] <= high
    low, high = report["win_rate"]["ci95"]
    assert 0 < low < 0.5 < high < 1


def test_self_play_on_a_tiny_random_model(tmp_path):
    result = run_self_play(
        str(tmp_path),
        model="tiny:llama",
        num_train=3,
        num_heldout=2,
        num_samples=2,
        max_new_tokens=6,
        batch_size=2,
        judge=RULE,
    )
    written = [
        json.loads(x)
        for f in (PREFERENCE_FILE, SKIPPED_FILE)
        for x in (tmp_path / f).read_text().splitlines()
    ]
    assert result.pairs + sum(result.skipped.values()) == 3 == len(written)
    assert all(len(row["provenance"]["answers"]) == 2 for row in written)
    assert len((tmp_path / HELDOUT_FILE).read_text().splitlines()) == 2
