"""The tied LM head: on a tiny tied-embedding Qwen2, the same log-probs and gradients as the model's own head
(in float32 and under bfloat16 autocast), the head and embedding gradients summed in place (no out-of-place
`[V, D]` add in the backward, where the plain head has one), and the plain head kept wherever calling the
weight directly would skip something (untied, hooked, LoRA-wrapped heads)."""

from __future__ import annotations

import pytest
import torch
from peft import LoraConfig, get_peft_model

from omnialign.data.collate import pad_sequences
from omnialign.data.encode import ChatEncoder
from omnialign.data.sample import Message, Part, Sample
from omnialign.models.backbone import BackboneOptions, load_causal_lm, load_processor
from omnialign.models.generation import tied_head
from omnialign.models.generation.logprobs import response_token_logprobs

PAIRS = [("Hi", "Hello there, how are you?"), ("Name a colour.", "blue, or maybe red")]


def _model(name: str = "tiny:qwen2"):
    options = BackboneOptions(name=name)
    processor = load_processor(options)
    model = load_causal_lm(options, processor)
    encoder = ChatEncoder(processor)
    encoded = [
        encoder.encode_responses(Sample((Message("user", (Part.of_text(p),)),), ((Part.of_text(r),),)))[0]
        for p, r in PAIRS
    ]
    return model, pad_sequences(encoded, processor.pad_token_id, side="right")


def _logprobs_and_grads(model, batch, autocast: bool = False):
    model.zero_grad(set_to_none=True)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
        logprobs = response_token_logprobs(model, batch)
    (logprobs.sum(-1) * torch.tensor([1.0, 2.0])).sum().backward()
    return logprobs.detach(), {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


@pytest.mark.parametrize("autocast", [False, True])
def test_same_logprobs_and_gradients_as_the_models_own_head(monkeypatch, autocast):
    model, batch = _model()
    assert model.get_output_embeddings().weight is model.get_input_embeddings().weight
    calls = []
    projection = tied_head._TiedProjection.apply

    def counted(*args):
        calls.append(1)
        return projection(*args)

    monkeypatch.setattr(tied_head._TiedProjection, "apply", counted)
    got, grads = _logprobs_and_grads(model, batch, autocast)
    assert calls == [1]
    monkeypatch.setattr(tied_head, "_is_plain_tied_head", lambda head, embeddings: False)
    expected, expected_grads = _logprobs_and_grads(model, batch, autocast)
    assert calls == [1]
    tolerance = {"rtol": 2e-2, "atol": 2e-2} if autocast else {"rtol": 1e-5, "atol": 1e-6}
    torch.testing.assert_close(got, expected, **tolerance)
    assert grads.keys() == expected_grads.keys()
    for name, grad in grads.items():
        assert grad.dtype == torch.float32
        torch.testing.assert_close(grad, expected_grads[name], **tolerance, msg=name)


def _out_of_place_vocab_adds(model, batch) -> int:
    """Out-of-place adds of two `[V, D]` tensors in one backward: autograd summing the tied gradients into a
    new buffer."""
    shape = list(model.get_input_embeddings().weight.shape)
    model.zero_grad(set_to_none=True)
    loss = response_token_logprobs(model, batch).sum()
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU], record_shapes=True) as prof:
        loss.backward()
    return sum(
        event.count
        for event in prof.key_averages(group_by_input_shape=True)
        if event.key == "aten::add" and event.input_shapes[:2] == [shape, shape]
    )


def test_tied_gradients_are_summed_in_place(monkeypatch):
    model, batch = _model()
    assert _out_of_place_vocab_adds(model, batch) == 0
    monkeypatch.setattr(tied_head, "_is_plain_tied_head", lambda head, embeddings: False)
    assert _out_of_place_vocab_adds(model, batch) == 1  # what the plain head costs


def test_heads_that_are_not_plain_and_tied_keep_their_own_forward():
    model, _ = _model()
    head, embeddings = model.get_output_embeddings(), model.get_input_embeddings()
    assert tied_head._is_plain_tied_head(head, embeddings)
    untied, _ = _model("tiny:llama")
    assert not tied_head._is_plain_tied_head(untied.get_output_embeddings(), untied.get_input_embeddings())
    handle = head.register_forward_pre_hook(lambda module, args: None)  # FSDP / ZeRO-3 gather in such hooks
    assert not tied_head._is_plain_tied_head(head, embeddings)
    handle.remove()
    lora = get_peft_model(model, LoraConfig(r=2, target_modules=["lm_head"]))
    assert not tied_head._is_plain_tied_head(lora.get_output_embeddings(), lora.get_input_embeddings())
