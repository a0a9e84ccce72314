"""The prompt refiner's parts: best/worst selection, judges (rules, weighted mix, a SafeSora-style score
model on videos), prompt reading, and resumable best-of-N writing."""

from __future__ import annotations

import json
import math
import shutil

import numpy as np
import pytest
import torch

from omnialign.data.media_writing import save_video
from omnialign.data.records import load_samples
from omnialign.data.sample import MediaRef
from omnialign.models.backbone import BackboneOptions, load_processor
from omnialign.models.generation.text import GenerationOptions
from omnialign.models.score import ScoreConfig, build_score_model
from omnialign.pipelines.prompt_refinement.best_of_n import PREFERENCE_FILE, SFT_FILE, BestOfNWriter
from omnialign.pipelines.prompt_refinement.candidates import judge_rewrites
from omnialign.pipelines.prompt_refinement.judges import (
    BrightnessJudge,
    Candidates,
    KeywordJudge,
    ScoreModelJudge,
    WeightedJudge,
)
from omnialign.pipelines.prompt_refinement.prompts import UserPrompt, inline_prompts, load_prompts
from omnialign.pipelines.prompt_refinement.refiner import Refiner
from omnialign.pipelines.prompt_refinement.selection import Selection, select_best_worst
from omnialign.pipelines.sources import RecordSource

TINY = "data/tiny"


# -- selection -----------------------------------------------------------------------------------------------
def test_selection_takes_highest_and_lowest_first_on_ties():
    assert select_best_worst(["a", "b", "c"], [1.0, 3.0, 2.0]) == Selection(best=1, worst=0)
    assert select_best_worst(["a", "b", "c", "d"], [3.0, 1.0, 3.0, 1.0]) == Selection(best=0, worst=1)


def test_selection_ignores_empty_rewrites_and_their_scores():
    assert select_best_worst(["", "b", " ", "d"], [math.nan, 1.0, 9.0, 2.0]) == Selection(best=3, worst=1)
    assert select_best_worst(["", "b"], [math.nan, 1.0]) == "fewer than two non-empty rewrites"


def test_selection_skips_prompts_without_margin():
    assert select_best_worst(["a", "b"], [2.0, 2.0]) == "no score margin between rewrites"
    assert select_best_worst(["a", "b"], [2.0, 2.5], min_margin=0.5) == "no score margin between rewrites"
    assert select_best_worst(["a", "b"], [2.0, 2.6], min_margin=0.5) == Selection(best=1, worst=0)
    with pytest.raises(ValueError, match="finite"):
        select_best_worst(["a", "b"], [math.nan, 1.0])


# -- judges --------------------------------------------------------------------------------------------------
def test_keyword_and_weighted_judges():
    candidates = Candidates(["p", "p", "p"], ["a cat", "cat cat cat", "dog"])
    assert KeywordJudge("cat").score(candidates) == {"score": [1.0, 3.0, 0.0]}
    assert KeywordJudge("cat", weight=0.5, max_count=2).score(candidates) == {"score": [0.5, 1.0, 0.0]}
    mixed = WeightedJudge(
        {"cats": KeywordJudge("cat"), "dogs": KeywordJudge("dog")}, {"cats": 1.0, "dogs": -2}
    )
    assert mixed.score(candidates) == {
        "score": [1.0, 3.0, -2.0],
        "cats": [1.0, 3.0, 0.0],
        "dogs": [0.0, 0.0, 1.0],
    }
    assert not mixed.needs_media
    with pytest.raises(ValueError, match="must name exactly"):
        WeightedJudge({"cats": KeywordJudge("cat")}, {"dogs": 1.0})
    with pytest.raises(ValueError, match="one entry per candidate"):
        Candidates(["p"], ["a", "b"])


def _video(level: int, tmp_path) -> MediaRef:
    frames = np.full((4, 16, 16, 3), level, dtype=np.uint8)
    return MediaRef("video", path=str(save_video(frames, tmp_path)))


def test_brightness_judge_reads_the_videos(tmp_path):
    bright, dark = _video(204, tmp_path), _video(51, tmp_path)
    scores = BrightnessJudge().score(Candidates(["p", "p"], ["x", "y"], [bright, dark]))["score"]
    assert scores == pytest.approx([0.8, 0.2], abs=0.02)  # MPEG-4 round trip of flat frames
    with pytest.raises(ValueError, match="set `diffusion`"):
        BrightnessJudge().score(Candidates(["p"], ["x"]))


@pytest.fixture(scope="module")
def score_model_dir(tmp_path_factory):
    """A SafeSora-style score model export (tiny Qwen2-VL, random heads) with its processor."""
    folder = tmp_path_factory.mktemp("judge")
    options = BackboneOptions(name="tiny:qwen2-vl", seed=1)
    processor = load_processor(options)
    build_score_model(options, processor, ScoreConfig(["helpfulness", "unsafe"])).save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


def test_score_model_judge_batches_like_one_at_a_time(score_model_dir, tmp_path):
    """Padding a batch changes nothing: each video's score equals its score alone; `safety` is 1 − σ(logit)
    of the `unsafe` head, and the two heads differ."""
    videos = [_video(level, tmp_path) for level in (30, 120, 220)]
    candidates = Candidates(["a cat", "a much longer prompt about a cat", "dog"], ["r"] * 3, videos)
    judge = ScoreModelJudge(str(score_model_dir), head="helpfulness", batch_size=3)
    together = judge.score(candidates)["score"]
    alone = [
        judge.score(Candidates([p], ["r"], [v]))["score"][0]
        for p, v in zip(candidates.prompts, videos, strict=True)
    ]
    assert together == pytest.approx(alone, abs=1e-5)
    assert len(set(np.round(together, 6))) == 3  # the video and prompt both reach the score

    safety = ScoreModelJudge(str(score_model_dir), head="unsafe", transform="safety").score(candidates)[
        "score"
    ]
    raw = ScoreModelJudge(str(score_model_dir), head="unsafe").score(candidates)["score"]
    expected = 1.0 - torch.sigmoid(torch.tensor(raw))
    assert safety == pytest.approx(expected.tolist(), abs=1e-6)


class RecordingGenerator:
    """Stands in for a MediaGenerator: records prompts and returns one distinct video per prompt."""

    def __init__(self, folder) -> None:
        self.folder = folder
        self.calls: list[tuple[list[str], int]] = []

    def generate(self, prompts: list[str], seed: int) -> list[MediaRef]:
        self.calls.append((list(prompts), seed))
        return [_video(10 + 40 * i, self.folder) for i in range(len(prompts))]


def test_empty_rewrites_are_neither_generated_nor_judged(tmp_path):
    generator = RecordingGenerator(tmp_path)
    judged = judge_rewrites(["p"] * 3, ["bright", "", "dark"], BrightnessJudge(), generator, seed=7)
    assert generator.calls == [(["bright", "dark"], 7)]
    assert judged.media[1] is None and math.isnan(judged.total[1])
    assert all(math.isfinite(judged.total[i]) for i in (0, 2))


# -- prompts -------------------------------------------------------------------------------------------------
def test_prompts_must_be_text_and_unique(tmp_path):
    with pytest.raises(ValueError, match=r"row \d+.*text only"):
        load_prompts(RecordSource([f"{TINY}/train/prompts/train.jsonl"], "prompts"))
    safesora = load_prompts(
        RecordSource([f"{TINY}/train/safesora-eval/config.json"], "safesora/eval", limit=3)
    )
    assert [p.id for p in safesora] == ["p000", "p001", "p002"]
    with pytest.raises(ValueError, match="unique"):
        inline_prompts(["a cat", " a cat "])


# -- best-of-N writing ---------------------------------------------------------------------------------------
def _writer(output) -> BestOfNWriter:
    refiner = Refiner.load("tiny:llama", GenerationOptions(max_new_tokens=8), instruction="Rewrite: ")
    return BestOfNWriter(refiner, KeywordJudge("[aeiou]"), output, num_candidates=3, batch_size=2, seed=5)


PROMPTS = [UserPrompt(f"q{i}", text) for i, text in enumerate(["a cat", "blue river", "seven maps", "light"])]


def test_best_of_n_rows_load_as_sft_and_preference_records(tmp_path):
    report = _writer(tmp_path).run(PROMPTS)
    assert report.written + sum(report.skipped.values()) == len(PROMPTS)
    sft = load_samples(tmp_path / SFT_FILE, "sft").samples
    pairs = load_samples(tmp_path / PREFERENCE_FILE, "preference").samples
    assert len(sft) == len(pairs) == report.written > 0
    for sample, pair in zip(sft, pairs, strict=True):
        provenance = pair.meta["provenance"]
        scores, rewrites = provenance["scores"]["score"], provenance["rewrites"]
        best, worst = provenance["chosen_index"], provenance["rejected_index"]
        assert pair.responses[0][0].text == rewrites[best] == sample.responses[0][0].text
        assert pair.responses[1][0].text == rewrites[worst]
        kept = [s for s, r in zip(scores, rewrites, strict=True) if r.strip()]
        assert scores[best] == max(kept) > scores[worst] == min(kept)
        assert provenance["num_candidates"] == 3 and provenance["refiner"] == "tiny:llama"
        assert sample.prompt[-1].parts[0].text == "Rewrite: " + provenance["prompt"]


def test_a_killed_run_finishes_with_the_uninterrupted_rows(tmp_path):
    """A rerun after a kill between journal writes (the last pair missing, a torn line in its place)
    regenerates that batch identically and writes only what is missing; a second rerun writes nothing."""
    _writer(tmp_path / "whole").run(PROMPTS)
    shutil.copytree(tmp_path / "whole", tmp_path / "killed")
    pairs = tmp_path / "killed" / PREFERENCE_FILE
    lines = pairs.read_text().splitlines(keepends=True)
    pairs.write_text("".join(lines[:-1]) + lines[-1][:20])
    report = _writer(tmp_path / "killed").run(PROMPTS)
    assert report.torn_lines == 1 and report.written == 1 and report.done_before == len(PROMPTS) - 1
    for name in (SFT_FILE, PREFERENCE_FILE):
        assert (tmp_path / "killed" / name).read_text() == (tmp_path / "whole" / name).read_text()
    again = _writer(tmp_path / "killed").run(PROMPTS)
    assert again.written == 0 and again.done_before == len(PROMPTS)
    assert [json.loads(line)["id"] for line in pairs.read_text().splitlines()] == [
        json.loads(line)["id"] for line in (tmp_path / "whole" / PREFERENCE_FILE).read_text().splitlines()
    ]
