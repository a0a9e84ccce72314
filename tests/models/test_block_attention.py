"""Block-by-block attention of packed and shared-prefix rows: the gather layout by hand, and on a tiny
grouped-query Llama the same log-probs and gradients as the padded batch, with the block function really
called (and the model's own attention restored after the call, also when it raises)."""

from __future__ import annotations

import pytest
import torch

from omnialign.data.collate import pack_sequences, pack_shared_prefix, pad_sequences, per_sequence_sum
from omnialign.data.encode import ChatEncoder
from omnialign.data.sample import Message, Part, Sample
from omnialign.models.backbone import BackboneOptions, load_causal_lm, load_processor
from omnialign.models.generation import block_attention as blocks_module
from omnialign.models.generation.block_attention import block_attention, block_starts, row_blocks
from omnialign.models.generation.logprobs import response_token_logprobs
from omnialign.models.generation.prefix_mask import ancestor_mask

PAIRS = [
    ("Hi", ("Hello there, how are you?", "Hey")),
    ("What is 2 + 2? Answer briefly please.", ("4", "It is four, as far as I can tell")),
    ("Name a colour.", ("blue", "red or green")),
]


def test_blocks_of_a_packed_row_by_hand():
    starts = block_starts(torch.tensor([[0, 0, 0, 1, 1, 2]]), None)
    assert starts.tolist() == [True, False, False, True, False, True]
    blocks = row_blocks(starts)
    assert blocks.index.tolist() == [[0, 1, 2], [3, 4, 0], [5, 0, 0]]
    assert blocks.valid.tolist() == [[True, True, True], [True, True, False], [True, False, False]]
    assert blocks.mask is None  # plain sequences: causal inside each block


def test_blocks_of_a_shared_prefix_row_by_hand():
    # pair 0: prompt at 0-1, responses at 2-4 and 5; pair 1: prompt at 6, responses at 7 and 8-9
    predictors = torch.tensor([[-1, 0, 1, 2, 3, 1, -1, 6, 6, 8]])
    starts = block_starts(torch.tensor([[0, 0, 0, 0, 0, 2, 1, 1, 3, 3]]), predictors)
    blocks = row_blocks(starts, ancestor_mask(predictors)[0])
    assert blocks.index.tolist() == [[0, 1, 2, 3, 4, 5], [6, 7, 8, 9, 0, 0]]
    second = blocks.mask[1, 0].int().tolist()
    assert second == [
        [1, 0, 0, 0, 0, 0],
        [1, 1, 0, 0, 0, 0],
        [1, 0, 1, 0, 0, 0],  # the second response sees its prompt, not the first response
        [1, 0, 1, 1, 0, 0],
        [0, 0, 0, 0, 1, 0],  # padding slots see themselves only, and no real query sees them
        [0, 0, 0, 0, 0, 1],
    ]
    torch.testing.assert_close(blocks.mask[0, 0], ancestor_mask(predictors)[0, :6, :6])


def test_a_row_must_open_with_a_block():
    with pytest.raises(ValueError, match="first position"):
        row_blocks(torch.tensor([False, True]))


def _model():
    options = BackboneOptions(name="tiny:llama")
    processor = load_processor(options)
    model = load_causal_lm(options, processor)
    assert model.config.num_key_value_heads < model.config.num_attention_heads  # grouped-query attention
    return model, processor


def _layouts(processor, layout: str):
    encoder = ChatEncoder(processor)
    encoded = [
        encoder.encode_responses(
            Sample((Message("user", (Part.of_text(p),)),), tuple((Part.of_text(r),) for r in responses))
        )
        for p, responses in PAIRS
    ]
    firsts, seconds = [e[0] for e in encoded], [e[1] for e in encoded]
    padded = pad_sequences(firsts + seconds, processor.pad_token_id, side="right")
    if layout == "shared_prefix":
        return padded, pack_shared_prefix(firsts, seconds)
    return padded, pack_sequences(firsts + seconds)


def _sums_and_grads(model, batch):
    model.zero_grad()
    sums = per_sequence_sum(response_token_logprobs(model, batch), batch)
    (sums * torch.linspace(1.0, 2.0, len(sums))).sum().backward()
    return sums.detach(), {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


@pytest.mark.parametrize("checkpointing", [False, True])
@pytest.mark.parametrize("layout", ["packing", "shared_prefix"])
def test_block_attention_gives_the_padded_logprobs_and_gradients(monkeypatch, layout, checkpointing):
    model, processor = _model()
    if checkpointing:  # its recompute runs in backward, after the call: the model keeps its own attention
        model.gradient_checkpointing_enable()
    model.train()
    calls = []
    block_forward = blocks_module.block_sdpa_forward

    def counted(*args, row_blocks=None, **kwargs):
        calls.append(row_blocks is not None)
        return block_forward(*args, row_blocks=row_blocks, **kwargs)

    monkeypatch.setitem(blocks_module.AttentionInterface._global_mapping, blocks_module.BLOCK_SDPA, counted)
    padded, row = _layouts(processor, layout)
    expected, expected_grads = _sums_and_grads(model, padded)
    assert not calls
    got, grads = _sums_and_grads(model, row)
    assert calls == ([] if checkpointing else [True] * model.config.num_hidden_layers)
    assert model.config._attn_implementation == "sdpa"
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)
    assert grads.keys() == expected_grads.keys()
    for name, grad in grads.items():
        torch.testing.assert_close(grad, expected_grads[name], rtol=1e-4, atol=1e-5, msg=name)


def test_the_models_attention_comes_back_after_an_error():
    model, _ = _model()
    blocks = row_blocks(torch.tensor([True, False]))
    with pytest.raises(RuntimeError, match="inside"), block_attention(model, blocks) as keywords:
        assert model.config._attn_implementation == blocks_module.BLOCK_SDPA
        assert keywords == {"row_blocks": blocks}
        raise RuntimeError("inside")
    assert model.config._attn_implementation == "sdpa"


def test_other_attention_implementations_are_left_alone():
    options = BackboneOptions(name="tiny:llama", attn_implementation="eager")
    model = load_causal_lm(options, load_processor(options))
    with block_attention(model, row_blocks(torch.tensor([True]))) as keywords:
        assert keywords == {}
        assert model.config._attn_implementation == "eager"
