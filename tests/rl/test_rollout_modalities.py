"""Rollouts for image- and video-input policies (tiny:qwen2-vl), and scoring with a score model whose
processor differs from the policy's."""

from __future__ import annotations

import pytest
import torch
from lightning.pytorch import seed_everything
from rl_helpers import fit

from omnialign.alignment.modules.rl import PPOModule
from omnialign.alignment.rollout import KeywordScorer, ScoreModelScorer
from omnialign.data.collate import pad_sequences
from omnialign.data.datamodules import PromptDataModule
from omnialign.data.fixtures import write_fixture
from omnialign.data.sample import Part, Sample
from omnialign.models.backbone import BackboneOptions
from omnialign.models.generation.logprobs import response_token_logprobs
from omnialign.models.generation.text import GenerationOptions, SpecialIds


def _prompts(tmp_path, schema: str, rows: int = 3) -> PromptDataModule:
    fixture = write_fixture(tmp_path, schema, rows=rows, seed=0)
    return PromptDataModule([str(fixture.path)], schema=schema, batch_size=rows)


def _module(**kwargs) -> PPOModule:
    return PPOModule(
        reward=KeywordScorer("e"),
        backbone=BackboneOptions(name="tiny:qwen2-vl"),
        generation=GenerationOptions(max_new_tokens=6),
        samples_per_prompt=2,
        mini_batches=2,
        **kwargs,
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    ("schema", "media_key"),
    [
        ("align-anything/text-image-to-text", "pixel_values"),
        ("align-anything/text-video-to-text", "pixel_values_videos"),
    ],
)
def test_media_rollout_masks_tiles_and_trains(tmp_path, schema, media_key):
    """The rollout keeps the prompt's media (one copy per tile), its response mask covers exactly the
    generated tokens up to end-of-turn, log-probs computed tile by tile equal those of the whole rollout (so
    mini-batches split the media correctly), and one PPO step runs."""
    seed_everything(0)
    module, data = _module(), _prompts(tmp_path, schema)
    module.configure_model()
    data.attach_processor(module.processor)
    data.setup("fit")
    prompts = next(iter(data.reference_dataloader("train")))
    experience = module.collect(prompts)
    batch, width = experience.rollout.batch, prompts["input_ids"].shape[1]
    assert batch[media_key].shape[0] == 2 * prompts[media_key].shape[0]
    assert batch["input_ids"].shape[0] == 6 and batch["response_mask"][:, :width].sum() == 0
    ids = SpecialIds.of(module.processor.tokenizer)
    assert module.processor.tokenizer.convert_tokens_to_ids("<|video_pad|>") in ids.suppressed
    for row in range(6):
        response = batch["input_ids"][row][batch["response_mask"][row].bool()]
        assert 1 <= len(response) <= 6 and (response[:-1] != ids.eos).all()
        assert not set(response.tolist()) & set(ids.suppressed), "media placeholders must never be sampled"
    with torch.no_grad():
        whole = response_token_logprobs(module.policy, batch)
    torch.testing.assert_close(experience.logprobs, whole, atol=1e-5, rtol=1e-4)

    history = fit(_module(), _prompts(tmp_path / "fit", schema), steps=1)
    assert torch.isfinite(torch.tensor(history.series("policy_loss"))).all()


def test_score_model_with_another_processor_re_encodes_prompt_and_response(tmp_path):
    """A text reward model (tiny:llama tokenizer) scoring an image policy's (Qwen2-VL processor) text-only
    prompts: each row is re-encoded with the scorer's own chat template and scored as that encoding alone."""
    seed_everything(0)
    module = PPOModule(
        reward=ScoreModelScorer(backbone=BackboneOptions(name="tiny:llama", seed=3), head="reward"),
        backbone=BackboneOptions(name="tiny:qwen2-vl"),
        generation=GenerationOptions(max_new_tokens=5),
        samples_per_prompt=2,
    )
    module.configure_model()
    data = _prompts(tmp_path, "align-anything/text-to-text", rows=2)
    data.attach_processor(module.processor)
    data.setup("fit")
    prompts = next(iter(data.reference_dataloader("train")))
    scorer = module.scorers["reward"]
    rollout_samples = [data.sample("train", i) for i in prompts["targets"]["index"].tolist()] * 2
    module._samples = lambda _: rollout_samples
    experience = module.collect(prompts)
    assert scorer.encoder is not None, "a different processor must trigger re-encoding"
    for row, (sample, text) in enumerate(zip(rollout_samples, experience.rollout.responses, strict=True)):
        alone = scorer.encoder.encode(Sample(sample.prompt, responses=((Part.of_text(text),),)))
        batch = pad_sequences([alone], scorer.encoder.tokenizer.pad_token_id)
        expected = scorer.model.score(batch["attention_mask"], input_ids=batch["input_ids"])[0, 0]
        torch.testing.assert_close(experience.scores["reward"][row], expected, atol=1e-5, rtol=1e-4)
