"""LLF for generation modalities: the feedback model critiques generated media, the prompt is rewritten,
the media regenerated under the same noise, and the pairs feed Diffusion-DPO unchanged."""

from __future__ import annotations

import pytest
import torch
from llf_helpers import REPO, shipped_config_cut
from quiet_trainer import quiet_trainer

from omnialign.alignment.modules.diffusion import DiffusionModule
from omnialign.data.datamodules.media_preference import MediaPreferenceDataModule
from omnialign.data.records import load_samples
from omnialign.models.backbone import BackboneOptions, load_causal_lm, load_processor
from omnialign.models.diffusion import DiffusionOptions
from omnialign.models.generation.media import MediaGenerationOptions, MediaGenerator
from omnialign.models.generation.text import GenerationOptions, TextGenerator
from omnialign.pipelines.llf.cli import build, parser
from omnialign.pipelines.llf.pipeline import run_pipeline
from omnialign.pipelines.llf.responders import PromptRefiningResponder
from omnialign.pipelines.llf.synthesis import PairSynthesizer

TINY = REPO / "data" / "tiny" / "train" / "align-anything"


def _text_generator(name: str, tokens: int) -> TextGenerator:
    options = BackboneOptions(name=name)
    processor = load_processor(options)
    return TextGenerator(load_causal_lm(options, processor).eval(), processor, GenerationOptions(tokens))


CRITICS = {"image": "tiny:qwen2-vl", "video": "tiny:qwen2-vl", "audio": "tiny:qwen2-audio"}


@pytest.mark.parametrize("kind", ["image", "video", "audio"])
def test_generation_pairs_differ_by_the_prompt_and_train_diffusion_dpo(kind, tmp_path):
    subset = f"text-to-{kind}"
    prompts = load_samples(TINY / subset / "train.parquet", f"align-anything/{subset}").samples[:4]
    generator = MediaGenerator.load(
        f"tiny:{subset}",
        tmp_path / "pairs" / "media",
        MediaGenerationOptions(
            num_inference_steps=2, height=16, width=16, num_frames=4, audio_length_in_s=1.0
        ),
    )
    responder = PromptRefiningResponder(generator, _text_generator("tiny:llama", 12))
    critic = _text_generator(CRITICS[kind], 12)  # sees the generated image, video frames or audio
    output = tmp_path / "pairs" / "pairs.jsonl"
    synthesizer = PairSynthesizer(responder, critic, output, batch_size=2)
    report = synthesizer.run(prompts)
    synthesizer.merge(prompts)
    assert report.written + sum(report.skipped.values()) == 4 and report.written >= 2

    pairs = load_samples(output, "preference", verify_media=True).samples
    originals = {s.meta["row"]: s.prompt[0].text for s in prompts}
    for pair in pairs:
        chosen, rejected = (response[0].media for response in pair.responses)
        assert chosen.modality == rejected.modality == kind and chosen.path != rejected.path
        provenance = pair.meta["provenance"]
        assert pair.prompt[0].text == originals[provenance["row"]] != provenance["refined_prompt"]

    data = MediaPreferenceDataModule(schema="preference", train_files=[str(output)], batch_size=2)
    module = DiffusionModule(DiffusionOptions(name=f"tiny:{subset}"), beta=50.0)
    trainer = quiet_trainer(
        max_steps=1,
        default_root_dir=tmp_path,
    )
    trainer.fit(module, datamodule=data)
    assert torch.isfinite(trainer.callback_metrics["train/loss"])


def test_the_text_to_image_pipeline_config_runs_every_stage(tmp_path):
    """configs/llf/tiny-text-to-image.yaml, cut to a few rows: the feedback model is trained on critiques of
    generated images (shown to it), then critiques the diffusion model's images, and Diffusion-DPO trains on
    the pairs."""
    args = shipped_config_cut(
        REPO / "configs/llf/tiny-text-to-image.yaml",
        tmp_path,
        "--synthesis.diffusion.options.num_inference_steps=2",
    )
    pipeline = build(parser().parse_args(args))
    run_pipeline(pipeline)
    pairs = load_samples(pipeline.pairs_file, "preference", verify_media=True).samples
    assert pairs and all(pair.responses[0][0].type == "image" for pair in pairs)
    assert (tmp_path / "diffusion_dpo" / "export" / "model_index.json").exists()
