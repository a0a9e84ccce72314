"""Confidence intervals, modality choice parsing and vote shares, against hand-computed values; and the
generation family's rule that a missing output modality scores 0 without asking the judge."""

from __future__ import annotations

from pathlib import Path

import pytest

from omnialign.data.sample import MediaRef, Part
from omnialign.eval.families import chosen_modalities, score_family, vote_share
from omnialign.eval.items import EvalItem
from omnialign.eval.judges import Judge, JudgeRequest, Verdict
from omnialign.eval.stats import bootstrap_interval, wilson_interval
from omnialign.eval.tasks import load_registry


def test_wilson_interval_by_hand():
    """2 of 2, z = 1.96 (z² = 3.8415): centre (1 + z²/4)/(1 + z²/2) = 1.9604/2.9207 = .6712,
    half-width z·√(z²/16)/2.9207 = .3288 → [.3424, 1]; 0 of n mirrors it."""
    low, high = wilson_interval(2, 2)
    assert (low, high) == pytest.approx((0.3424, 1.0), abs=1e-4)
    assert wilson_interval(0, 2) == pytest.approx((0.0, 1 - 0.3424), abs=1e-4)


def test_bootstrap_interval_brackets_the_mean_and_collapses_for_constants():
    assert bootstrap_interval([0.5] * 7) == pytest.approx((0.5, 0.5))
    low, high = bootstrap_interval([0.0, 1.0] * 10, seed=3)
    assert low < 0.5 < high and low >= 0.0 and high <= 1.0


@pytest.mark.parametrize(
    ("parts", "expected"),
    [
        ((Part.of_text("I would use an Image and some text."),), "image+text"),
        ((Part.of_text("no idea"),), ""),
        ((Part.of_media(MediaRef("audio", path="a.wav")), Part.of_text("listen")), "audio+text"),
        ((Part.of_media(MediaRef("video", path="v.mp4")),), "video"),
    ],
)
def test_chosen_modalities(parts, expected):
    assert chosen_modalities(parts) == expected


def test_vote_share_normalises_combination_order():
    """votes text 6, image+text 3 (spelled text+image), image 1: image+text = 3/10."""
    assert vote_share({"text": 6, "text+image": 3, "image": 1}, "image+text") == pytest.approx(0.3)
    assert vote_share({"text": 6, "image": 1}, "audio") == 0.0


class RecordingJudge(Judge):
    def __init__(self) -> None:
        self.seen: list[JudgeRequest] = []

    def judge(self, requests: list[JudgeRequest]) -> list[Verdict]:
        self.seen += requests
        return [Verdict(1.0, "fine") for _ in requests]


def test_generation_without_the_asked_modality_scores_zero_unjudged():
    items = [EvalItem("a", "draw", modality="image"), EvalItem("b", "write", modality="text")]
    judge = RecordingJudge()
    responses = [(Part.of_text("a cat"),), (Part.of_text("a poem"),)]
    scored = score_family("generation", items, [i.sample(Path()) for i in items], responses, judge)
    assert [s.score for s in scored] == [0.0, 1.0]
    assert [r.criterion for r in judge.seen] == ["Does the text output follow the instruction?"]


def test_registry_rejects_unknown_keys(tmp_path):
    path = tmp_path / "registry.yaml"
    path.write_text("tasks:\n  - {name: a, family: selection, data: a.jsonl, judgee: x}\n")
    with pytest.raises(Exception, match="judgee"):
        load_registry(path)
