"""Padded batches whose rows repeat prompts (RL rollouts), scored with each distinct prompt run once: the
row layout by hand, the padded batch's log-probs and gradients on a tiny model, what is refused, and a GRPO
fit that trains the same with and without it."""

from __future__ import annotations

from functools import partial

import pytest
import torch
from lightning.pytorch import seed_everything
from rl_helpers import fit, text_prompts

from omnialign.alignment.modules.rl import GroupRLModule
from omnialign.alignment.rollout import KeywordScorer, build_rollout
from omnialign.alignment.rollout.generation import tile
from omnialign.data.collate import PREDICTOR_IDS
from omnialign.models.backbone import BackboneOptions, load_causal_lm, load_processor
from omnialign.models.generation.logprobs import response_token_logprobs
from omnialign.models.generation.shared_prompts import share_prompts, shared_prompt_logprobs
from omnialign.models.generation.text import GenerationOptions

PAD = 0


def _batch() -> dict[str, torch.Tensor]:
    """Rows 0 and 2 share the prompt [5 6]; row 1 has its own, [11 12 13]; responses are right-padded."""
    return {
        "input_ids": torch.tensor([[0, 5, 6, 7, 8, 0], [11, 12, 13, 14, 15, 16], [0, 5, 6, 9, 0, 0]]),
        "attention_mask": torch.tensor([[0, 1, 1, 1, 1, 0], [1, 1, 1, 1, 1, 1], [0, 1, 1, 1, 0, 0]]),
        "response_mask": torch.tensor([[0, 0, 0, 1, 1, 0], [0, 0, 0, 1, 1, 1], [0, 0, 0, 1, 0, 0]]),
    }


def test_layout_by_hand():
    shared, sources, rows, columns = share_prompts(_batch())
    assert shared["input_ids"].tolist() == [[5, 6, 7, 8, 9, 11, 12, 13, 14, 15, 16]]
    assert shared["position_ids"].tolist() == [[0, 1, 2, 3, 2, 0, 1, 2, 3, 4, 5]]
    assert shared["response_mask"].tolist() == [[0, 0, 1, 1, 1, 0, 0, 0, 1, 1, 1]]
    # the second response of prompt [5 6] (token 9) is predicted by the prompt's last position (1)
    assert shared[PREDICTOR_IDS].tolist() == [[-1, 0, 1, 2, 1, -1, 5, 6, 7, 8, 9]]
    assert shared["segment_ids"].tolist() == [[0, 0, 0, 0, 2, 1, 1, 1, 1, 1, 1]]
    # each response token's row position and its padded coordinates
    assert sources.tolist() == [2, 3, 4, 8, 9, 10]
    assert list(zip(rows.tolist(), columns.tolist(), strict=True)) == [
        (0, 3),
        (0, 4),
        (2, 3),
        (1, 3),
        (1, 4),
        (1, 5),
    ]


def test_what_cannot_be_shared_is_refused():
    no_response = _batch() | {"response_mask": torch.zeros(3, 6, dtype=torch.long)}
    with pytest.raises(ValueError, match="row 0 has no response token"):
        share_prompts(no_response)
    gap = _batch()
    gap["attention_mask"] = gap["attention_mask"].clone()
    gap["attention_mask"][1, 5] = 1
    gap["response_mask"] = gap["response_mask"].clone()
    gap["response_mask"][1, 5] = 0  # an attended token after the response
    with pytest.raises(ValueError, match="row 1 is not a non-empty prompt followed by its response"):
        share_prompts(gap)
    with pytest.raises(ValueError, match=r"text-only batches; this one also has \['pixel_values'\]"):
        share_prompts(_batch() | {"pixel_values": torch.zeros(3, 1)})


def _rollout():
    """Two left-padded prompts, three sampled responses each (right-padded after their eos), as GRPO has."""
    options = BackboneOptions(name="tiny:llama")
    processor = load_processor(options)
    model = load_causal_lm(options, processor)
    encode = processor.tokenizer if hasattr(processor, "tokenizer") else processor
    prompts = [encode("Name a colour.")["input_ids"], encode("What is two plus two, briefly?")["input_ids"]]
    width = max(map(len, prompts))
    batch = {
        "input_ids": torch.tensor([[PAD] * (width - len(p)) + p for p in prompts]),
        "attention_mask": torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts]),
    }
    generator = torch.Generator().manual_seed(0)
    generated = torch.randint(3, 200, (6, 7), generator=generator)
    eos = encode.eos_token_id
    generated[0, 2] = generated[3, 5] = eos  # responses of 3, 7 (no eos), 7, 6 tokens ...
    rollout = build_rollout(tile(batch, 3), generated, 3, eos, PAD, encode)
    return model, rollout.batch


def test_shared_prompts_give_the_padded_logprobs_and_gradients():
    model, batch = _rollout()
    model.train()
    weights = torch.linspace(0.5, 1.5, batch["input_ids"].numel()).view(batch["input_ids"].shape)

    def run(score):
        model.zero_grad()
        logprobs = score(model, batch, 0.7)
        (logprobs * weights).sum().backward()
        return logprobs.detach(), {n: p.grad.clone() for n, p in model.named_parameters()}

    expected, expected_grads = run(response_token_logprobs)
    got, grads = run(shared_prompt_logprobs)
    assert (got != 0).sum() == batch["response_mask"].sum()  # every response token, nothing else
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)
    for name, grad in grads.items():
        torch.testing.assert_close(grad, expected_grads[name], rtol=1e-4, atol=1e-5, msg=name)
    shared, *_ = share_prompts(batch)
    assert shared["input_ids"].shape[1] < int(batch["attention_mask"].sum())  # fewer tokens than padded


@pytest.mark.slow
def test_a_grpo_fit_trains_the_same_with_shared_prompts(tmp_path):
    """Same seed, same rollouts: the update diagnostics of two rollouts agree with and without sharing."""
    common = {
        "reward": KeywordScorer("e"),
        "backbone": BackboneOptions(name="tiny:llama"),
        "generation": GenerationOptions(max_new_tokens=8),
        "samples_per_prompt": 4,
        "mini_batches": 2,
        "ppo_epochs": 2,
        "kl_coef": 0.05,
        "optimizer": partial(torch.optim.AdamW, lr=1e-3),
    }
    runs = []
    for shared in (False, True):
        seed_everything(0)
        module = GroupRLModule(shared_prefix=shared, **common)
        runs.append(fit(module, text_prompts(tmp_path / str(shared), rows=4, batch_size=4), steps=2))
    for name in ("reward", "policy_loss", "approx_kl", "kl"):
        torch.testing.assert_close(
            torch.tensor(runs[1].series(name)), torch.tensor(runs[0].series(name)), rtol=1e-3, atol=1e-4
        )
