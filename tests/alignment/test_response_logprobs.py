"""The response-only LM-head path gives exactly the log-probs of the full-logits computation."""

from __future__ import annotations

import pytest
import torch

from omnialign.data.collate import pad_sequences
from omnialign.data.encode import ChatEncoder
from omnialign.data.sample import Message, Part, Sample
from omnialign.models.backbone import BackboneOptions, LoraOptions, load_causal_lm, load_processor
from omnialign.models.generation.logprobs import _body_and_head, response_token_logprobs


def token_logprobs(logits: torch.Tensor, input_ids: torch.Tensor) -> torch.Tensor:
    """The plain computation, for reference: log-softmax of the full logits, position 0 zero."""
    picked = torch.log_softmax(logits[:, :-1].float(), dim=-1).gather(-1, input_ids[:, 1:, None])[..., 0]
    return torch.nn.functional.pad(picked, (1, 0))


def _batch(processor) -> dict[str, torch.Tensor]:
    encoder = ChatEncoder(processor)
    samples = [
        Sample((Message("user", (Part.of_text(p),)),), ((Part.of_text(r),),))
        for p, r in [("Hi", "Hello there"), ("What is 2 + 2?", "4"), ("Name a colour.", "blue, or red")]
    ]
    return pad_sequences([encoder.encode(s) for s in samples], processor.pad_token_id, side="left")


@pytest.mark.parametrize("name,lora", [("tiny:llama", False), ("tiny:qwen2", False), ("tiny:llama", True)])
def test_fast_path_matches_full_logits(name, lora):
    options = BackboneOptions(name=name, lora=LoraOptions(r=4) if lora else None)
    processor = load_processor(options)
    model = load_causal_lm(options, processor)
    assert _body_and_head(model) is not None, "the fast path must apply to this family"
    batch = _batch(processor)
    fast = response_token_logprobs(model, batch)
    full = model(
        input_ids=batch["input_ids"],
        attention_mask=batch["attention_mask"],
        position_ids=batch["position_ids"],
    ).logits
    expected = token_logprobs(full, batch["input_ids"]) * batch["response_mask"]
    torch.testing.assert_close(fast, expected, rtol=1e-5, atol=1e-5)
    fast.sum().backward()  # gradients flow through the selected positions
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters() if p.requires_grad)


def test_logit_postprocessing_takes_the_full_path():
    options = BackboneOptions(name="tiny:llama")
    model = load_causal_lm(options, load_processor(options))
    model.config.final_logit_softcapping = 30.0
    assert _body_and_head(model) is None
