"""Padding-free packing: one row, positions restarting per sequence, and exactly the per-sequence log-probs
of the padded batch on a tiny model."""

from __future__ import annotations

import pytest
import torch

from omnialign.data.collate import pack_sequences, pad_sequences, per_sequence_sum
from omnialign.data.encode import ChatEncoder
from omnialign.data.sample import Message, Part, Sample
from omnialign.models.backbone import BackboneOptions, load_causal_lm, load_processor
from omnialign.models.generation.logprobs import response_token_logprobs

PAIRS = [
    ("Hi", "Hello there"),
    ("What is 2 + 2?", "4"),
    ("Name three colours please.", "red, green and blue"),
]


def _encoded(processor):
    encoder = ChatEncoder(processor)
    return [
        encoder.encode(Sample((Message("user", (Part.of_text(p),)),), ((Part.of_text(r),),)))
        for p, r in PAIRS
    ]


def test_packed_layout(tiny_tokenizer):
    sequences = _encoded(tiny_tokenizer)
    packed = pack_sequences(sequences)
    lengths = [len(s) for s in sequences]
    assert packed["input_ids"].shape == (1, sum(lengths))
    assert "attention_mask" not in packed
    starts = torch.tensor([0, lengths[0], lengths[0] + lengths[1]])
    assert (packed["position_ids"][0, starts] == 0).all()
    assert packed["segment_ids"][0].bincount().tolist() == lengths
    assert packed["response_mask"].sum() == sum(int(s.response_mask.sum()) for s in sequences)


@pytest.mark.parametrize("name", ["tiny:llama", "tiny:qwen2"])
def test_packed_and_padded_give_the_same_per_sequence_logprobs(name):
    options = BackboneOptions(name=name)
    processor = load_processor(options)
    model = load_causal_lm(options, processor).eval()
    sequences = _encoded(processor)
    padded = pad_sequences(sequences, processor.pad_token_id, side="right")
    packed = pack_sequences(sequences)
    with torch.no_grad():
        from_padded = per_sequence_sum(response_token_logprobs(model, padded), padded)
        from_packed = per_sequence_sum(response_token_logprobs(model, packed), packed)
    torch.testing.assert_close(from_packed, from_padded, rtol=1e-5, atol=1e-5)
    # and packing is not trivially equal: crossing a boundary would change the numbers
    width = packed["input_ids"].shape[1]
    one_sequence = {
        "position_ids": torch.arange(width).unsqueeze(0),
        "segment_ids": torch.zeros(1, width).long(),
    }
    with torch.no_grad():  # summed by the true sequences
        from_leaky = per_sequence_sum(response_token_logprobs(model, packed | one_sequence), packed)
    assert not torch.allclose(from_leaky[1:], from_padded[1:], atol=1e-3)


def test_packing_refuses_media_and_response_first(tiny_tokenizer):
    sequence = _encoded(tiny_tokenizer)[0]
    with_media = type(sequence)(sequence.input_ids, sequence.response_mask, media_inputs={"pixel_values": 1})
    with pytest.raises(ValueError, match="text-only"):
        pack_sequences([with_media])
    response_first = type(sequence)(sequence.input_ids, torch.ones_like(sequence.response_mask))
    with pytest.raises(ValueError, match="prompt token"):
        pack_sequences([response_first])


@pytest.mark.parametrize("side", ["left", "right"])
def test_rotate_responses_keeps_prompts_and_moves_responses(tiny_tokenizer, side):
    from omnialign.data.collate import rotate_responses

    sequences = _encoded(tiny_tokenizer)
    batch = pad_sequences(sequences, tiny_tokenizer.pad_token_id, side=side)
    rotated = rotate_responses(batch, tiny_tokenizer.pad_token_id, side)
    for i in range(len(sequences)):
        j = (i + 1) % len(sequences)
        row = rotated["input_ids"][i][rotated["attention_mask"][i].bool()]
        mask = rotated["response_mask"][i][rotated["attention_mask"][i].bool()].bool()
        own, other = sequences[i], sequences[j]
        assert row[~mask].tolist() == own.input_ids[~own.response_mask.bool()].tolist()
        assert row[mask].tolist() == other.input_ids[other.response_mask.bool()].tolist()
        positions = rotated["position_ids"][i][rotated["attention_mask"][i].bool()]
        assert positions.tolist() == list(range(len(row)))
