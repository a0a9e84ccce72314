"""FID, KID, Inception Score and CLIPScore wired into the generation family: the fixture's image_generation
task through `run`, with the offline encoders the fixture writes (a TorchScript channel-means extractor and
a saved tiny CLIP, both loaded from their paths). Values against hand computations; a model that generated
no images gets null, not a number."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from transformers import CLIPModel, CLIPProcessor

from omnialign.eval.adapters import ResponseFile
from omnialign.eval.cli import run
from omnialign.eval.fixtures import ENCODERS, GENERATED_COLOURS, IMAGE_GENERATION, write_eval_fixture
from omnialign.eval.image_metrics import ImageMetricOptions
from omnialign.eval.judges import Judge, JudgeRequest, Verdict
from omnialign.eval.runner import ModelSpec
from omnialign.eval.tasks import TaskSpec

ROOT = Path(__file__).resolve().parents[2]


class ConstantJudge(Judge):
    def judge(self, requests: list[JudgeRequest]) -> list[Verdict]:
        return [Verdict(1.0, "fine") for _ in requests]


@pytest.fixture(scope="module")
def outcome(tmp_path_factory):
    data = write_eval_fixture(tmp_path_factory.mktemp("imagegen") / "data")
    options = ImageMetricOptions(
        features=str(data / ENCODERS["features"]),
        clip_model=str(data / ENCODERS["clip"]),
        image_size=32,
        kid_subset_size=4,
        inception_splits=1,
    )
    models = [
        ModelSpec(name, ResponseFile(str(data / f"responses/{name}.jsonl"))) for name in ("strong", "weak")
    ]
    with pytest.warns(UserWarning, match=r"model 'weak': 0 generated and 4 real images are too few for fid"):
        out = run(
            models=models,
            registry=str(ROOT / "configs/eval/registry.yaml"),
            tasks=["image_generation"],
            data_root=str(data),
            output_dir=str(data.parent / "out"),
            judges={"judge": ConstantJudge()},
            resamples=10,
            image_metrics=options,
        )
    results = {(r["model"], r["metric"]): r for r in json.loads((out / "results.json").read_text())}
    return data, results


def test_fid_and_inception_score_by_hand(outcome):
    """Features are the colours. Generated (60,0,0), (0,60,0) ×2: mean (30,30,0); real: the same with blue 40,
    mean (30,30,40); equal covariances, so FID = |Δμ|² = 40² = 1600. softmax((60,0,0)) is one-hot to 1e-26,
    half the images per class: p(y) = (½, ½, 0), KL = log 2 each, IS = 2."""
    _, results = outcome
    assert results["strong", "fid"]["value"] == pytest.approx(1600.0, rel=1e-4)
    assert results["strong", "inception_score"]["value"] == pytest.approx(2.0, rel=1e-5)
    assert results["strong", "fid"]["n"] == 4


def test_kid_by_hand(outcome):
    """Subsets of 4 of 4 images are the whole sets, so KID is the unbiased MMD² with the cubic kernel
    k(x, y) = (x·y/3 + 1)³. Real a = (60,0,40), b = (0,60,40); generated c = (60,0,0), d = (0,60,0), twice
    each. a·a = b·b = 5200, a·b = 1600, c·c = d·d = 3600, c·d = 0, a·c = b·d = 3600, a·d = b·c = 0. Ordered
    distinct pairs: real 4 alike + 8 unlike, generated likewise, cross 8 at 3600 and 8 at 0."""

    def k(dot: float) -> float:
        return (dot / 3 + 1) ** 3

    real = (4 * k(5200) + 8 * k(1600)) / 12
    fake = (4 * k(3600) + 8 * k(0)) / 12
    cross = (8 * k(3600) + 8 * k(0)) / 16
    _, results = outcome
    assert results["strong", "kid"]["value"] == pytest.approx(real + fake - 2 * cross, rel=1e-5)


def test_clip_score_against_the_saved_clip(outcome):
    """100 · mean(max(cos, 0)) between each generated image and the instruction that asked for it, with the
    features recomputed here from the CLIP folder the run loaded."""
    data, results = outcome
    model = CLIPModel.from_pretrained(data / ENCODERS["clip"]).eval()
    processor = CLIPProcessor.from_pretrained(data / ENCODERS["clip"])
    images = torch.tensor(GENERATED_COLOURS, dtype=torch.uint8)[:, :, None, None].expand(-1, -1, 32, 32)
    captions = [item["prompt"] for item in IMAGE_GENERATION]
    with torch.no_grad():
        pixels = processor(images=list(images), return_tensors="pt")["pixel_values"]
        image_features = model.get_image_features(pixel_values=pixels).pooler_output
        text_features = model.get_text_features(**processor(text=captions, return_tensors="pt", padding=True))
    cosine = torch.nn.functional.cosine_similarity(image_features, text_features.pooler_output)
    assert (cosine > 0).all()  # a clamped 0 would compare nothing
    expected = (100 * cosine.clamp_min(0)).mean().item()
    assert results["strong", "clip_score"]["value"] == pytest.approx(expected, rel=1e-4)


def test_no_generated_images_is_null_with_n_zero(outcome):
    _, results = outcome
    for name in ("fid", "kid", "inception_score", "clip_score"):
        assert (results["weak", name]["value"], results["weak", name]["n"]) == (None, 0)
    assert results["weak", "score"]["value"] == 0.0  # the judge-free zero for a missing image


def test_fid_without_real_images_is_a_config_error():
    with pytest.raises(ValueError, match=r"task 'draw': \['fid'\] compare with real images"):
        TaskSpec(name="draw", family="generation", data="d.jsonl", judge="judge", image_metrics=["fid"])
