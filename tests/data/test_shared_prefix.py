"""Shared-prefix preference batches: each pair's prompt once, then both responses, in one row; the layout is
checked against hand-built expectations, and the per-sequence response log-probs against the padded batch's
on tiny models (both attention implementations that take an explicit mask)."""

from __future__ import annotations

import pytest
import torch

from omnialign.data.collate import PREDICTOR_IDS, pack_shared_prefix, pad_sequences, per_sequence_sum
from omnialign.data.datamodules.preference import PreferenceDataModule
from omnialign.data.encode import ChatEncoder, EncodedSequence
from omnialign.data.sample import Message, Part, Sample
from omnialign.models.backbone import BackboneOptions, load_causal_lm, load_processor
from omnialign.models.generation.logprobs import response_token_logprobs
from omnialign.models.generation.prefix_mask import ancestor_mask, prefix_attention_mask

# unequal prompt lengths across pairs, and unequal response lengths within and across pairs
PAIRS = [
    ("Hi", ("Hello there, how are you?", "Hey")),
    ("What is 2 + 2? Answer briefly please.", ("4", "It is four, as far as I can tell")),
    ("Name a colour.", ("blue", "red or green")),
]


def _sequence(prompt: list[int], response: list[int]) -> EncodedSequence:
    ids = torch.tensor(prompt + response)
    return EncodedSequence(ids, torch.tensor([0] * len(prompt) + [1] * len(response)))


def _pairs(processor) -> tuple[list[EncodedSequence], list[EncodedSequence]]:
    encoder = ChatEncoder(processor)
    encoded = [
        encoder.encode_responses(
            Sample((Message("user", (Part.of_text(p),)),), tuple((Part.of_text(r),) for r in responses))
        )
        for p, responses in PAIRS
    ]
    return [e[0] for e in encoded], [e[1] for e in encoded]


def test_layout_by_hand():
    # pair 0: prompt [5 6], responses [7 8 9] and [10]; pair 1: prompt [11], responses [12] and [13 14]
    firsts = [_sequence([5, 6], [7, 8, 9]), _sequence([11], [12])]
    seconds = [_sequence([5, 6], [10]), _sequence([11], [13, 14])]
    batch = pack_shared_prefix(firsts, seconds)
    assert batch["input_ids"].tolist() == [[5, 6, 7, 8, 9, 10, 11, 12, 13, 14]]
    assert batch["position_ids"].tolist() == [[0, 1, 2, 3, 4, 2, 0, 1, 1, 2]]
    assert batch["response_mask"].tolist() == [[0, 0, 1, 1, 1, 1, 0, 1, 1, 1]]
    # sequences 0, 1: first responses of pairs 0, 1; sequences 2, 3: their second responses
    assert batch["segment_ids"].tolist() == [[0, 0, 0, 0, 0, 2, 1, 1, 3, 3]]
    # token 10 (index 5) follows the prompt's last token (index 1); 13 (index 8) follows 11 (index 6)
    assert batch[PREDICTOR_IDS].tolist() == [[-1, 0, 1, 2, 3, 1, -1, 6, 6, 8]]
    assert "attention_mask" not in batch  # the model side builds it from the predictors


def test_ancestor_mask_by_hand():
    allowed = ancestor_mask(torch.tensor([[-1, 0, 1, 2, 3, 1, -1, 6, 6, 8]]))[0].int()
    expected = [
        [1, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        [1, 1, 0, 0, 0, 0, 0, 0, 0, 0],
        [1, 1, 1, 0, 0, 0, 0, 0, 0, 0],
        [1, 1, 1, 1, 0, 0, 0, 0, 0, 0],
        [1, 1, 1, 1, 1, 0, 0, 0, 0, 0],
        [1, 1, 0, 0, 0, 1, 0, 0, 0, 0],  # second response: its prompt and itself, not the first response
        [0, 0, 0, 0, 0, 0, 1, 0, 0, 0],  # the next pair sees nothing of the first
        [0, 0, 0, 0, 0, 0, 1, 1, 0, 0],
        [0, 0, 0, 0, 0, 0, 1, 0, 1, 0],
        [0, 0, 0, 0, 0, 0, 1, 0, 1, 1],
    ]
    assert allowed.tolist() == expected


def test_per_sequence_sums_keep_the_padded_order(tiny_tokenizer):
    firsts, seconds = _pairs(tiny_tokenizer)
    batch = pack_shared_prefix(firsts, seconds)
    padded = pad_sequences(firsts + seconds, tiny_tokenizer.pad_token_id, side="right")
    counts = per_sequence_sum(batch["response_mask"], batch)
    assert counts.tolist() == padded["response_mask"].sum(-1).tolist()
    prompts = sum(int((1 - s.response_mask).sum()) for s in firsts)
    assert batch["input_ids"].shape[1] == sum(len(s) for s in firsts + seconds) - prompts


@pytest.mark.parametrize("attention", ["sdpa", "eager"])
@pytest.mark.parametrize("name", ["tiny:llama", "tiny:qwen2"])
def test_shared_prefix_and_padded_give_the_same_per_sequence_logprobs(name, attention):
    options = BackboneOptions(name=name, attn_implementation=attention)
    processor = load_processor(options)
    model = load_causal_lm(options, processor).eval()
    assert model.config._attn_implementation == attention
    firsts, seconds = _pairs(processor)
    padded = pad_sequences(firsts + seconds, processor.pad_token_id, side="left")
    shared = pack_shared_prefix(firsts, seconds)
    with torch.no_grad():
        from_padded = per_sequence_sum(response_token_logprobs(model, padded), padded)
        from_shared = per_sequence_sum(response_token_logprobs(model, shared), shared)
    torch.testing.assert_close(from_shared, from_padded, rtol=1e-5, atol=1e-5)
    # not trivially equal: a second response that follows the first (plain causal chain) scores differently
    chained = dict(shared, **{PREDICTOR_IDS: _plain_chain(shared[PREDICTOR_IDS])})
    with torch.no_grad():
        from_chained = per_sequence_sum(response_token_logprobs(model, chained), chained)
    second = slice(len(PAIRS), None)
    assert not torch.allclose(from_chained[second], from_padded[second], atol=1e-3)


def _plain_chain(predictors: torch.Tensor) -> torch.Tensor:
    """Every token predicted by the one before it, except where a pair starts."""
    chain = torch.arange(-1, predictors.shape[1] - 1).unsqueeze(0)
    return torch.where(predictors < 0, predictors, chain)


def test_full_logits_path_takes_the_predictors_too():
    """Models whose logits are post-processed run the whole model, not body + head: same predictors."""
    options = BackboneOptions(name="tiny:llama")
    processor = load_processor(options)
    model = load_causal_lm(options, processor).eval()
    shared = pack_shared_prefix(*_pairs(processor))
    with torch.no_grad():
        fast = response_token_logprobs(model, shared)
        model.config.final_logit_softcapping = 30.0  # llama ignores it: only the path changes
        full = response_token_logprobs(model, shared)
    torch.testing.assert_close(full, fast, rtol=1e-5, atol=1e-5)


def test_collate_refuses_what_it_cannot_share(tiny_tokenizer):
    prompt, other = [5, 6], [5, 7]
    with pytest.raises(ValueError, match=r"pair 1 .* identical, non-empty prompt"):
        pack_shared_prefix(
            [_sequence(prompt, [8]), _sequence(prompt, [8])], [_sequence(prompt, [9]), _sequence(other, [9])]
        )
    with pytest.raises(ValueError, match=r"pair 0 .* identical"):  # same tokens, but the prompts end apart
        pack_shared_prefix([_sequence(prompt, [7, 8])], [_sequence([5, 6, 7], [8])])
    with pytest.raises(ValueError, match=r"pair 0 .* empty response"):
        pack_shared_prefix([_sequence(prompt, [8])], [_sequence(prompt, [])])
    with_media = EncodedSequence(torch.tensor([5, 6, 8]), torch.tensor([0, 0, 1]), media_inputs={"x": 1})
    with pytest.raises(ValueError, match="shared_prefix supports text-only"):
        pack_shared_prefix([with_media], [_sequence(prompt, [9])])


def test_datamodule_refuses_combinations():
    with pytest.raises(ValueError, match="does not combine with packing"):
        PreferenceDataModule(["unused.jsonl"], schema="pku-saferlhf", shared_prefix=True, packing=True)
    with pytest.raises(ValueError, match="media_responses_as_input"):
        PreferenceDataModule(["unused.jsonl"], shared_prefix=True, media_responses_as_input=True)
    data = PreferenceDataModule(["unused.jsonl"], shared_prefix=True)
    assert data.contract().shared_prefix and not data.contract().packed
    janus = type("JanusProcessor", (), {})()  # any-to-any processors are recognised by class name
    with pytest.raises(ValueError, match="shared_prefix is for text-only pairs"):
        data.attach_processor(janus)


def test_mask_refuses_models_without_an_explicit_mask():
    options = BackboneOptions(name="tiny:llama")
    model = load_causal_lm(options, load_processor(options))
    predictors = ancestor_mask(torch.tensor([[-1, 0, 1, 1]]))
    model.config._attn_implementation = "flash_attention_2"
    with pytest.raises(ValueError, match=r"shared_prefix needs .* 'flash_attention_2'"):
        prefix_attention_mask(model, predictors)
    model.config._attn_implementation = "sdpa"
    model.config.layer_types = ["sliding_attention"] * model.config.num_hidden_layers
    with pytest.raises(ValueError, match="sliding-window"):
        prefix_attention_mask(model, predictors)
    with pytest.raises(ValueError, match="earlier positions"):
        ancestor_mask(torch.tensor([[-1, 1]]))
