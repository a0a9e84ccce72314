"""LLF end to end on tiny models, per input modality: feedback data → feedback-model SFT → sample → critique →
refine → pairs → DPO, and the shipped pipeline configs parse strictly."""

from __future__ import annotations

from pathlib import Path

import pytest
from llf_helpers import QUIET, REPO, shipped_config_cut

from omnialign.data.journal import RowJournal
from omnialign.data.records import load_samples
from omnialign.models.backbone import BackboneOptions
from omnialign.models.generation.text import GenerationOptions
from omnialign.pipelines.llf.cli import build, parser
from omnialign.pipelines.llf.config import (
    FeedbackDataStage,
    LLFPipeline,
    RecordSource,
    SynthesisStage,
    TrainStage,
)
from omnialign.pipelines.llf.pipeline import run_pipeline

PPO_PROMPTS = REPO / "data/tiny/train/align-anything/text-to-text/train.parquet"


def _source(subset: str, split: str, limit: int) -> RecordSource:
    path = REPO / "data" / "tiny" / split / "align-anything" / subset / "train.parquet"
    return RecordSource(files=[str(path)], schema=f"align-anything/{subset}", limit=limit)


def tiny_pipeline(workdir: Path, subset: str, backbone: str, trainings: tuple[str, ...]) -> LLFPipeline:
    """Every stage of configs/llf/tiny-*.yaml, cut to a few rows and one epoch."""
    model = {"model.init_args.backbone.name": backbone, **QUIET}
    return LLFPipeline(
        workdir=str(workdir),
        feedback_data=FeedbackDataStage(train=_source(subset, "train", 8), val=_source(subset, "val", 2)),
        feedback_sft=TrainStage([str(REPO / "configs/llf/train/feedback-sft.yaml")], model),
        synthesis=SynthesisStage(
            prompts=_source(subset, "train", 6),
            policy=BackboneOptions(name=backbone),
            generation=GenerationOptions(max_new_tokens=8),
            feedback_generation=GenerationOptions(max_new_tokens=12),
            batch_size=3,
        ),
        training={name: _training(name, model) for name in trainings},
    )


def _training(name: str, model: dict[str, object]) -> TrainStage:
    config = [str(REPO / f"configs/llf/train/{name}.yaml")]
    if name != "ppo":
        return TrainStage(config, model)
    reward = {"model.init_args.reward.init_args.path": "{workdir}/reward/export"}
    prompts = {"data.init_args.train_files": [str(PPO_PROMPTS)]}
    return TrainStage(config, {**model, **reward, **prompts}, on_pairs=False)


@pytest.mark.parametrize(
    "subset, backbone, trainings",
    [
        ("text-to-text", "tiny:llama", ("dpo", "reward", "ppo")),  # LLF+DPO, and LLF+RLHF
        ("text-image-to-text", "tiny:qwen2-vl", ("dpo",)),
        ("text-video-to-text", "tiny:qwen2-vl", ("dpo",)),
    ],
)
def test_every_stage_runs_and_the_pairs_are_valid_preference_data(subset, backbone, trainings, tmp_path):
    pipeline = tiny_pipeline(tmp_path, subset, backbone, trainings)
    run_pipeline(pipeline)

    assert len(load_samples(pipeline.feedback_file("train"), "sft").samples) == 16
    assert (pipeline.feedback_model_dir / "config.json").exists()

    pairs = load_samples(pipeline.pairs_file, "preference", verify_media=True).samples
    skipped = RowJournal(pipeline.pairs_file.with_name("pairs.skipped.jsonl"))
    assert len(pairs) + len(skipped) == 6 and len(pairs) >= 3
    prompts = {s.meta["row"]: s for s in _source(subset, "train", 6).load()}
    for pair in pairs:
        provenance = pair.meta["provenance"]
        origin = prompts[provenance["row"]]
        assert provenance["policy"] == backbone
        assert provenance["feedback_model"] == str(pipeline.feedback_model_dir)
        assert provenance["generation"]["max_new_tokens"] == 8
        assert provenance["feedback"] and provenance["original"] == pair.responses[1][0].text
        assert pair.responses[0] != pair.responses[1]
        assert [p.type for p in pair.prompt[0].parts] == [p.type for p in origin.prompt[0].parts]
        assert [m.path for m in pair.prompt_media()] == [m.path for m in origin.prompt_media()]

    for name in trainings:
        assert (tmp_path / name / "export" / "config.json").exists()
        assert (tmp_path / name / "checkpoints" / "last.ckpt").exists()


PIPELINES = sorted((REPO / "configs" / "llf").glob("*.yaml"))
TRAININGS = {"tiny-text-rlhf": ["reward", "ppo"], "tiny-text-to-image": ["diffusion_dpo"]}


@pytest.mark.parametrize("path", PIPELINES, ids=lambda p: p.stem)
def test_shipped_pipeline_configs_parse_strictly(path):
    pipeline = build(parser().parse_args(["--config", str(path)]))
    trainings = TRAININGS.get(path.stem, ["dpo"])
    assert pipeline.stage_names() == ["feedback_data", "feedback_sft", "synthesis", *trainings]
    with pytest.raises(SystemExit):
        parser().parse_args(["--config", str(path), "--synthesis.bogus=1"])


def test_interleaved_llf_pairs_hold_text_and_image_and_train_the_any_to_any_policy(tmp_path):
    """configs/llf/tiny-interleaved.yaml on a few rows: Janus answers with text + image, the feedback model
    sees both images, the refined interleaved answer is chosen, and DPO trains Janus on the pairs."""
    pipeline = build(
        parser().parse_args(shipped_config_cut(REPO / "configs/llf/tiny-interleaved.yaml", tmp_path))
    )
    run_pipeline(pipeline)
    pairs = load_samples(pipeline.pairs_file, "preference", verify_media=True).samples
    assert pairs
    for pair in pairs:
        assert [[p.type for p in response] for response in pair.responses] == [["text", "image"]] * 2
        assert pair.responses[0][1].media.path != pair.responses[1][1].media.path
    assert (tmp_path / "dpo" / "export" / "config.json").exists()


def test_the_vllm_backend_is_chosen_per_model_and_fails_clearly_without_vllm():
    try:
        import vllm  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("vllm is installed: the missing-engine message cannot be observed")
    stage = SynthesisStage(
        prompts=_source("text-to-text", "train", 1), policy=BackboneOptions(), backend="vllm"
    )
    with pytest.raises(ImportError, match="HFGenerateBackend"):
        stage.make_backend()
    assert type(SynthesisStage(prompts=stage.prompts, policy=stage.policy).make_backend()).__name__ == (
        "HFGenerateBackend"
    )
