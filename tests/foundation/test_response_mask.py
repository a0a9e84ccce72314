"""The SFT loss sees response tokens only: prompt, template and padding contribute exactly zero."""

from __future__ import annotations

from types import SimpleNamespace

import torch

from omnialign.alignment.losses.sft import sft_nll
from omnialign.data.collate import pad_sequences, per_sequence_sum
from omnialign.data.encode import ChatEncoder
from omnialign.data.sample import Message, Part, Sample
from omnialign.models.generation.logprobs import response_token_logprobs


def _sample(prompt: str, response: str) -> Sample:
    return Sample(prompt=(Message("user", (Part.of_text(prompt),)),), responses=((Part.of_text(response),),))


def test_mask_covers_exactly_the_response_tokens(tiny_tokenizer):
    """Hand-made example: 'Hi' -> 'Yo'. The rendered prompt is
    '<|im_start|>user\\nHi<|im_end|>\\n<|im_start|>assistant\\n'
    and the response part is 'Yo<|im_end|>\\n'."""
    encoded = ChatEncoder(tiny_tokenizer).encode(_sample("Hi", "Yo"))
    tok = tiny_tokenizer
    prompt_ids = tok("<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n", add_special_tokens=False)
    response_ids = tok("Yo<|im_end|>\n", add_special_tokens=False)
    expected_ids = prompt_ids["input_ids"] + response_ids["input_ids"]
    expected_mask = [0] * len(prompt_ids["input_ids"]) + [1] * len(response_ids["input_ids"])
    assert encoded.input_ids.tolist() == expected_ids
    assert encoded.response_mask.tolist() == expected_mask
    scored = [t for t, m in zip(encoded.input_ids.tolist(), expected_mask, strict=True) if m]
    assert tok.decode(scored) == "Yo<|im_end|>\n"


def test_padding_is_outside_the_mask_on_both_sides(tiny_tokenizer):
    encoder = ChatEncoder(tiny_tokenizer)
    short, long = (
        encoder.encode(_sample("Hi", "Yo")),
        encoder.encode(_sample("Hello there", "A longer answer")),
    )
    for side in ("left", "right"):
        batch = pad_sequences([short, long], pad_token_id=tiny_tokenizer.pad_token_id, side=side)
        pad = batch["attention_mask"] == 0
        assert pad.sum() == len(long) - len(short)
        assert (batch["response_mask"][pad] == 0).all()
        assert batch["response_mask"].sum() == short.response_mask.sum() + long.response_mask.sum()
        real_positions = batch["position_ids"][0][batch["attention_mask"][0] == 1]
        assert real_positions.tolist() == list(range(len(short)))


def test_response_is_cut_to_max_length_and_prompt_overflow_is_an_error(tiny_tokenizer):
    encoder = ChatEncoder(tiny_tokenizer, max_length=20)
    encoded = encoder.encode(_sample("Hi", "word " * 50))
    assert len(encoded) == 20 and encoded.response_mask[-1] == 1
    try:
        encoder.encode(_sample("word " * 50, "Yo"))
    except ValueError as exc:
        assert "max_length is 20" in str(exc)
    else:
        raise AssertionError("an over-long prompt must be an error")


class FixedLogits(torch.nn.Module):
    """Stands in for a model: returns preset logits, so the test controls every position's prediction."""

    def __init__(self, logits: torch.Tensor) -> None:
        super().__init__()
        self.logits = logits

    def forward(self, **inputs: torch.Tensor) -> SimpleNamespace:
        return SimpleNamespace(logits=self.logits)


def test_sft_loss_ignores_prompt_and_padding_logits(tiny_tokenizer):
    """Through the SFT path (response log-probs -> per-sequence sums -> NLL): changing the logits that predict
    prompt or padding tokens leaves the loss unchanged; changing one that predicts a response token changes
    it; the value is the hand-computed mean NLL over the response tokens."""
    encoder = ChatEncoder(tiny_tokenizer)
    batch = pad_sequences(
        [encoder.encode(_sample("Hi", "Yo")), encoder.encode(_sample("Hello there", "A longer answer"))],
        pad_token_id=tiny_tokenizer.pad_token_id,
    )
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(*batch["input_ids"].shape, len(tiny_tokenizer), generator=generator)

    def loss(lg: torch.Tensor) -> torch.Tensor:
        per_token = response_token_logprobs(FixedLogits(lg), batch)
        out = sft_nll(per_sequence_sum(per_token, batch), batch["response_mask"].sum(-1), averaging="token")
        return out.loss.sum() / out.num_tokens.sum()

    base = loss(logits)
    # position t-1 predicts token t: positions whose *next* token is not a response token are free
    predicts_response = torch.zeros_like(batch["response_mask"], dtype=torch.bool)
    predicts_response[:, :-1] = batch["response_mask"][:, 1:].bool()
    perturbed = logits.clone()
    perturbed[~predicts_response] += 5.0 * torch.randn_like(perturbed[~predicts_response])
    torch.testing.assert_close(loss(perturbed), base)
    touched = logits.clone()
    touched[predicts_response] += 5.0 * torch.randn_like(touched[predicts_response])
    assert not torch.allclose(loss(touched), base)

    logp = torch.log_softmax(logits, dim=-1)
    nll = [
        -logp[b, t - 1, batch["input_ids"][b, t]]
        for b in range(2)
        for t in range(1, batch["input_ids"].shape[1])
        if batch["response_mask"][b, t]
    ]
    torch.testing.assert_close(base, torch.stack(nll).mean())
