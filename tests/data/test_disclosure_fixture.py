"""The planted-disclosure data behind the real-model evidence: truly held-out validation, no direction or
length shortcut, a rule judge that says what it claims, and committed files that match the writer's output."""

from __future__ import annotations

import itertools
import json

import pytest

from omnialign.data.fixtures import disclosure as d
from omnialign.data.records.load import load_samples
from omnialign.data.sample import LabelKey

LISTS = {
    "items": d.ITEMS,
    "contexts": d.CONTEXTS,
    "questions": d.QUESTIONS,
    "answers": d.ANSWERS,
    "refusals": d.REFUSALS,
}


@pytest.mark.parametrize("name", sorted(LISTS))
def test_validation_shares_no_template_or_item_with_training(name):
    table = LISTS[name]
    assert set(table["train"]).isdisjoint(table["val"])


def test_no_item_name_is_part_of_another_across_splits():
    """A val item containing a train item ('gate code' in 'back gate code') would leak wording."""
    for train, val in itertools.product(d.ITEMS["train"], d.ITEMS["val"]):
        assert train not in val and val not in train


def test_preferred_is_a_refusal_exactly_half_the_time_and_never_leaks():
    examples = d.make_examples("train", 64, seed=3)
    assert sum(e.preferred == e.refusal for e in examples) == 32
    for e in examples:
        assert e.private_value not in e.preferred
        assert e.private_value != e.public_value and e.item in e.question
        assert e.private_value in e.system and e.public_value in e.system
        leaked = e.private_value in e.dispreferred
        assert leaked == (e.asked == "private")


def test_judge_rule_by_hand():
    assert d.judge_answer("I can't say.", "private", "1234", "5678")
    assert not d.judge_answer("It is 1234.", "private", "1234", "5678")
    assert d.judge_answer("It is 5678.", "public", "1234", "5678")
    assert not d.judge_answer("I can't say.", "public", "1234", "5678")
    assert not d.judge_answer("5678, or maybe 1234", "public", "1234", "5678")


def test_length_shortcut_accuracy_by_hand():
    assert d.length_shortcut_accuracy([("aaa", "a"), ("a", "aaa"), ("aa", "aa")]) == pytest.approx(0.5)
    assert d.length_shortcut_accuracy([("aaa", "a")]) == 1.0


def test_records_load_through_the_readers(tmp_path):
    paths = d.write_dataset(tmp_path, {"train": 8, "val": 4})
    pairs = load_samples(paths["train/preference"], "preference").samples
    assert len(pairs) == 8 and all(s.labels[LabelKey.CHOSEN] == 0 for s in pairs)
    assert pairs[0].prompt[0].role == "system"
    costs = load_samples(paths["val/cost"], "pku-saferlhf", dimension="safer").samples
    assert len(costs) == 2
    for sample in costs:
        safer = sample.labels[LabelKey.SAFER]
        assert sample.labels[LabelKey.IS_SAFE][safer] and not sample.labels[LabelKey.IS_SAFE][1 - safer]


def test_committed_files_are_the_writer_output(repo_root, tmp_path):
    d.write_dataset(tmp_path, {"train": d.TRAIN_SIZE, "val": d.VAL_SIZE})
    committed = repo_root / "data" / "smollm2" / "disclosure"
    for generated in sorted(tmp_path.rglob("*.jsonl")):
        relative = generated.relative_to(tmp_path)
        assert (committed / relative).read_text() == generated.read_text(), relative
        assert all(json.loads(line) for line in generated.read_text().splitlines())


def test_lookup_pairs_differ_only_in_the_value():
    examples = d.make_examples("val", 64, seed=3)
    for index, e in enumerate(examples):
        record = d.lookup_record(e, index)
        chosen, rejected = record["chosen"], record["rejected"]
        assert len(chosen) == len(rejected)
        assert chosen.replace(e.asked_value, "####") == rejected.replace(e.other_value, "####")
        assert d.judge_lookup(chosen, e.asked_value, e.other_value)
        assert not d.judge_lookup(rejected, e.asked_value, e.other_value)
    # the asked item comes first in the context half of the time: its position is no shortcut either
    first = sum(e.system.index(e.asked_value) < e.system.index(e.other_value) for e in examples)
    assert 20 <= first <= 44


def test_lookup_judge_by_hand():
    assert d.judge_lookup("The code is 1234.", "1234", "5678")
    assert not d.judge_lookup("The code is 5678.", "1234", "5678")
    assert not d.judge_lookup("1234 or 5678", "1234", "5678")
    assert not d.judge_lookup("I can't say.", "1234", "5678")
