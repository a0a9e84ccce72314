"""Prompt-only batches: left-padded whatever the tokenizer's side, no response tokens, rows traceable to
their samples; prompts of several schemas, SafeSora eval prompts included."""

from __future__ import annotations

import pytest

from omnialign.data.datamodules import PromptDataModule
from omnialign.data.fixtures import write_fixture


@pytest.mark.parametrize("fmt", ["safesora/eval", "align-anything/text-to-text", "pku-saferlhf"])
def test_prompt_batches_are_left_padded_and_traceable(tmp_path, tiny_tokenizer, fmt):
    fixture = write_fixture(tmp_path, fmt, rows=5)
    data = PromptDataModule([str(fixture.path)], schema=fmt, batch_size=5)
    assert tiny_tokenizer.padding_side == "right"  # the module must left-pad anyway
    data.attach_processor(tiny_tokenizer)
    data.setup("fit")
    batch = next(iter(data.train_dataloader()))
    assert (batch["attention_mask"][:, -1] == 1).all(), "every prompt must end at the last position"
    assert batch["response_mask"].sum() == 0
    for row, index in enumerate(batch["targets"]["index"].tolist()):
        sample = data.sample("train", index)
        prompt = batch["input_ids"][row][batch["attention_mask"][row].bool()]
        assert prompt.tolist() == data.encoder.encode_prompt(sample).input_ids.tolist()
    ends = tiny_tokenizer.decode(batch["input_ids"][0, -8:])
    assert ends.endswith("<|im_start|>assistant\n"), "the generation prompt closes every prompt"


def test_packing_is_refused_for_prompts(tmp_path):
    with pytest.raises(ValueError, match="left-padded"):
        PromptDataModule(["unused.jsonl"], packing=True)


def test_multimodal_prompts_batch_with_their_media(tmp_path):
    """The `prompts` fixture mixes text, image, audio and video prompts; a Qwen2-VL processor batches the
    text, image and video ones with their media tensors."""
    from omnialign.models.backbone import BackboneOptions, load_processor

    fixture = write_fixture(tmp_path, "prompts", rows=12)
    data = PromptDataModule([str(fixture.path)], on_invalid="error", batch_size=12)
    data.attach_processor(load_processor(BackboneOptions(name="tiny:qwen2-vl")))
    data.setup("fit")
    keep = [
        i
        for i, s in enumerate(data._samples["train"])
        if all(m.modality != "audio" for m in s.prompt_media())
    ]
    data._samples["train"] = [data._samples["train"][i] for i in keep]
    batch = next(iter(data.train_dataloader()))
    assert (batch["attention_mask"][:, -1] == 1).all()
    assert "pixel_values" in batch or "pixel_values_videos" in batch
