"""Multimodal encoding: each family's real processor expands the placeholders, and the response mask covers
the response tokens and nothing else (never a placeholder, never a prompt or template token).

Placeholder counts are derived by hand from the tiny processors' settings:
- Qwen2-VL: a 56x56 image is 4x4 patches of 14 px, merged 2x2 -> 4 `<|image_pad|>`; a 4-frame 56x56 video is
  2 temporal x 4x4 patches, merged 2x2 -> 8 `<|video_pad|>`.
- LLaVA: a 28 px crop is 2x2 patches of 14 px, +1 CLS dropped by the "default" strategy -> 4 `<image>`.
- Qwen2-Audio: 0.25 s at 16 kHz (written at 8 kHz, resampled) is 4000 samples -> 25 mel frames (hop 160)
  -> conv stride 2: 13 -> pooling stride 2: (13 - 2) // 2 + 1 = 6 `<|AUDIO|>`.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from omnialign.data.collate import pad_sequences
from omnialign.data.encode import ChatEncoder
from omnialign.data.fixtures.media_files import write_image, write_mp4, write_wav
from omnialign.data.sample import MediaRef, Message, Part, Sample
from omnialign.models.backbone import BackboneOptions, load_processor

SYSTEM = "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> dict[str, MediaRef]:
    root = tmp_path_factory.mktemp("media")
    rng = np.random.default_rng(0)
    return {
        "image56": MediaRef("image", path=str(write_image(root / "a.png", 0.3, rng, size=56))),
        "image28": MediaRef("image", path=str(write_image(root / "b.png", 0.7, rng, size=28))),
        "video": MediaRef("video", path=str(write_mp4(root / "v.mp4", 0.5, rng, frames=8, size=56))),
        "audio": MediaRef("audio", path=str(write_wav(root / "a.wav", 440.0, rate=8000, seconds=0.25))),
    }


def _sample(media: tuple[MediaRef, ...], prompt: str, *responses: str) -> Sample:
    parts = (*(Part.of_media(ref) for ref in media), Part.of_text(prompt))
    return Sample(prompt=(Message("user", parts),), responses=tuple((Part.of_text(r),) for r in responses))


def _encoder(name: str) -> ChatEncoder:
    return ChatEncoder(load_processor(BackboneOptions(name=name)))


def _assert_exact(encoder: ChatEncoder, sample: Sample, pieces: list[str | tuple[str, int]], response: str):
    """`pieces` spell the prompt: text, or (placeholder token, count); `response` is the scored suffix."""
    tok = encoder.tokenizer
    expected: list[int] = []
    for piece in pieces:
        if isinstance(piece, tuple):
            expected += [tok.convert_tokens_to_ids(piece[0])] * piece[1]
        else:
            expected += tok(piece, add_special_tokens=False)["input_ids"]
    response_ids = tok(response, add_special_tokens=False)["input_ids"]
    encoded = encoder.encode(sample)
    assert encoded.input_ids.tolist() == expected + response_ids
    assert encoded.response_mask.tolist() == [0] * len(expected) + [1] * len(response_ids)
    assert tok.decode(encoded.input_ids[encoded.response_mask.bool()]) == response
    return encoded


def test_qwen2_vl_mask_is_exact_around_image_and_video_tokens(media):
    encoder = _encoder("tiny:qwen2-vl")
    sample = _sample((media["image56"], media["video"]), "Describe.", "A square.")
    encoded = _assert_exact(
        encoder,
        sample,
        [
            SYSTEM + "<|im_start|>user\n<|vision_start|>",
            ("<|image_pad|>", 4),
            "<|vision_end|><|vision_start|>",
            ("<|video_pad|>", 8),
            "<|vision_end|>Describe.<|im_end|>\n<|im_start|>assistant\n",
        ],
        "A square.<|im_end|>\n",
    )
    assert encoded.media_inputs["image_grid_thw"].tolist() == [[1, 4, 4]]
    assert encoded.media_inputs["video_grid_thw"].tolist() == [[2, 4, 4]]
    assert encoded.media_inputs["pixel_values"].shape == (16, 3 * 2 * 14 * 14)
    assert encoded.media_inputs["pixel_values_videos"].shape == (32, 3 * 2 * 14 * 14)
    tokens = encoder.tokenizer.convert_ids_to_tokens(encoded.input_ids.tolist())
    kinds = {"<|image_pad|>": 1, "<|video_pad|>": 2}  # text 0, image 1, video 2
    assert encoded.token_inputs["mm_token_type_ids"].tolist() == [kinds.get(t, 0) for t in tokens]


def test_llava_mask_is_exact_around_image_tokens(media):
    encoder = _encoder("tiny:llava")
    encoded = _assert_exact(
        encoder,
        _sample((media["image28"],), "Describe.", "A square."),
        ["USER: ", ("<image>", 4), "\nDescribe. ASSISTANT:"],
        " A square.<|im_end|>",
    )
    assert encoded.media_inputs["pixel_values"].shape == (1, 3, 28, 28)
    assert encoded.token_inputs == {}


def test_qwen2_audio_mask_is_exact_and_audio_is_resampled_to_the_processor_rate(media):
    encoder = _encoder("tiny:qwen2-audio")
    encoded = _assert_exact(
        encoder,
        _sample((media["audio"],), "What is it?", "A tone."),
        [
            SYSTEM + "<|im_start|>user\nAudio 1: <|audio_bos|>",
            ("<|AUDIO|>", 6),
            "<|audio_eos|>\nWhat is it?<|im_end|>\n<|im_start|>assistant\n",
        ],
        "A tone.<|im_end|>\n",
    )
    assert encoded.media_inputs["input_features"].shape == (1, 16, 100)
    assert encoded.media_inputs["feature_attention_mask"].sum() == 25


@pytest.mark.parametrize("side", ["left", "right"])
def test_qwen2_vl_batch_concatenates_patches_and_leaves_positions_to_the_model(media, side):
    encoder = _encoder("tiny:qwen2-vl")
    first = encoder.encode(_sample((media["image56"],), "Hi", "Yo"))
    second = encoder.encode(
        _sample((media["image56"], media["video"]), "Describe it all.", "A longer answer.")
    )
    batch = pad_sequences([first, second], encoder.tokenizer.pad_token_id, side=side)
    assert set(batch) == {
        "input_ids", "attention_mask", "response_mask", "mm_token_type_ids",
        "pixel_values", "image_grid_thw", "pixel_values_videos", "video_grid_thw",
    }  # fmt: skip
    assert batch["pixel_values"].shape == (32, 1176) and batch["image_grid_thw"].tolist() == [[1, 4, 4]] * 2
    assert batch["pixel_values_videos"].shape == (32, 1176) and batch["video_grid_thw"].tolist() == [
        [2, 4, 4]
    ]
    pad = len(second) - len(first)
    real = slice(pad, None) if side == "left" else slice(0, len(first))
    torch.testing.assert_close(batch["input_ids"][0, real], first.input_ids)
    torch.testing.assert_close(batch["mm_token_type_ids"][0, real], first.token_inputs["mm_token_type_ids"])
    torch.testing.assert_close(batch["response_mask"][0, real], first.response_mask)
    assert batch["attention_mask"][0].sum() == len(first) and (batch["mm_token_type_ids"][0].sum() == 4)
    assert (batch["response_mask"][batch["attention_mask"] == 0] == 0).all()


def test_text_only_batch_of_a_self_positioning_family_gets_1d_positions(media):
    """Without media M-RoPE positions are plain 0..n-1 on every axis, so 1-D positions are exact and keep
    left-padded rows right; with media the model must compute them from the grids."""
    encoder = _encoder("tiny:qwen2-vl")
    text_only = [encoder.encode(_sample((), "Hi", "Yo")), encoder.encode(_sample((), "Hello there", "Hey"))]
    batch = pad_sequences(text_only, encoder.tokenizer.pad_token_id, side="left")
    assert "position_ids" in batch and "pixel_values" not in batch
    assert batch["position_ids"][0, -len(text_only[0]) :].tolist() == list(range(len(text_only[0])))


@pytest.mark.parametrize(
    ("name", "image", "shapes"),
    [
        ("tiny:llava", "image28", {"pixel_values": (2, 3, 28, 28)}),
        ("tiny:qwen2-audio", "audio", {"input_features": (2, 16, 100), "feature_attention_mask": (2, 100)}),
    ],
)
def test_llava_and_audio_batches_stack_media_and_carry_positions(media, name, image, shapes):
    encoder = _encoder(name)
    items = [
        encoder.encode(_sample((media[image],), p, r)) for p, r in (("Hi", "Yo"), ("Say more.", "Longer."))
    ]
    batch = pad_sequences(items, encoder.tokenizer.pad_token_id, side="left")
    assert set(batch) == {"input_ids", "attention_mask", "response_mask", "position_ids", *shapes}
    assert {key: tuple(batch[key].shape) for key in shapes} == shapes
    assert batch["position_ids"][0, -len(items[0]) :].tolist() == list(range(len(items[0])))


def test_encode_responses_shares_the_prompt_and_equals_encoding_each(media):
    encoder = _encoder("tiny:qwen2-vl")
    sample = _sample((media["image56"],), "Which?", "The first.", "The second one.")
    both = encoder.encode_responses(sample)
    for index, encoded in enumerate(both):
        alone = encoder.encode(sample, response_index=index)
        torch.testing.assert_close(encoded.input_ids, alone.input_ids)
        torch.testing.assert_close(encoded.response_mask, alone.response_mask)
        torch.testing.assert_close(encoded.media_inputs["pixel_values"], alone.media_inputs["pixel_values"])


def test_media_the_backbone_cannot_take_is_an_error(media, tiny_tokenizer):
    with pytest.raises(ValueError, match="takes no audio input"):
        _encoder("tiny:qwen2-vl").encode(_sample((media["audio"],), "Hi", "Yo"))
    with pytest.raises(ValueError, match=r"has image input but the backbone .* is text-only"):
        ChatEncoder(tiny_tokenizer).encode(_sample((media["image28"],), "Hi", "Yo"))


def test_prompt_with_expanded_placeholders_must_fit(media):
    encoder = ChatEncoder(load_processor(BackboneOptions(name="tiny:qwen2-vl")), max_length=30)
    with pytest.raises(ValueError, match="max_length is 30"):
        encoder.encode(_sample((media["video"],), "Hi", "Yo"))
