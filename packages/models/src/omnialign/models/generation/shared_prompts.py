"""Response log-probs of a padded batch whose rows repeat prompts, each distinct prompt run once.

An online-RL rollout holds k sampled responses per prompt (GRPO, RLOO: k >= 2), and every mini-batch of its
updates a few of them per prompt; the padded batch runs each prompt once per response. Here the rows that
share a prompt become one shared-prefix group (the prompt once, then each response continuing it: the
layout `collate.pack_shared_prefix` gives preference pairs, with any number of responses), the groups one
unpadded row scored by `response_token_logprobs` (block-by-block attention included), and the per-token
log-probs are put back at their padded coordinates: `[B, T]`, the padded batch's result, so every RL loss,
advantage and KL term works unchanged. On the SmolLM2 GRPO benchmark (prompts ~50 tokens, 2 responses of up
to 16 per prompt in a mini-batch) the row has about 60% of the padded batch's real tokens.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from omnialign.data.collate import PREDICTOR_IDS
from omnialign.models.generation.logprobs import response_token_logprobs

_TEXT_KEYS = frozenset({"input_ids", "attention_mask", "position_ids", "response_mask"})


def _split_row(ids: Tensor, attended: Tensor, response: Tensor, row: int) -> tuple[Tensor, Tensor]:
    """(prompt positions, response positions) of one padded row: the attended tokens before its first
    response token, then its response tokens, which must be all the attended tokens after the prompt."""
    scored = response.nonzero().flatten()
    if len(scored) == 0:
        raise ValueError(f"shared prompts: row {row} has no response token")
    prompt = (attended & (torch.arange(len(ids), device=ids.device) < scored[0])).nonzero().flatten()
    if len(prompt) == 0 or not torch.equal(attended.nonzero().flatten(), torch.cat([prompt, scored])):
        raise ValueError(
            f"shared prompts: row {row} is not a non-empty prompt followed by its response tokens only"
        )
    return prompt, scored


def share_prompts(batch: dict[str, Tensor]) -> tuple[dict[str, Tensor], Tensor, Tensor, Tensor]:
    """The rows of a padded text batch as one shared-prefix row (rows with identical prompt tokens in one
    group, groups in order of first appearance), with where its response tokens came from: (row batch,
    their row positions, padded rows, padded columns)."""
    extra = batch.keys() - _TEXT_KEYS
    if extra:
        raise ValueError(f"shared prompts take text-only batches; this one also has {sorted(extra)}")
    ids, attended = batch["input_ids"], batch["attention_mask"].bool()
    response = batch["response_mask"].bool()
    groups: dict[tuple[int, ...], list[tuple[int, Tensor, Tensor]]] = {}
    for row in range(ids.shape[0]):
        prompt, scored = _split_row(ids[row], attended[row], response[row], row)
        groups.setdefault(tuple(ids[row, prompt].tolist()), []).append((row, prompt, scored))
    tokens, positions, masks, segments, predictors = [], [], [], [], []
    sources, rows, columns = [], [], []

    def place(row: int, source: Tensor, first_position: int, predictor: int, scored: bool) -> None:
        start, count = sum(len(t) for t in tokens), len(source)
        chain = torch.arange(start - 1, start + count - 1)
        chain[0] = predictor
        tokens.append(ids[row, source])
        positions.append(torch.arange(first_position, first_position + count))
        masks.append(torch.full((count,), int(scored)))
        segments.append(torch.full((count,), row))
        predictors.append(chain)
        if scored:
            sources.append(torch.arange(start, start + count))
            rows.append(torch.full((count,), row))
            columns.append(source.cpu())

    for members in groups.values():
        first_row, prompt, _ = members[0]
        place(first_row, prompt, 0, -1, scored=False)
        last = sum(len(t) for t in tokens) - 1  # the prompt's last position predicts every response's first
        for row, _, scored in members:
            place(row, scored, len(prompt), last, scored=True)
    device = ids.device
    shared = {
        "input_ids": torch.cat(tokens).unsqueeze(0),
        "position_ids": torch.cat(positions).unsqueeze(0).to(device),
        "response_mask": torch.cat(masks).unsqueeze(0).to(device),
        "segment_ids": torch.cat(segments).unsqueeze(0).to(device),
        PREDICTOR_IDS: torch.cat(predictors).unsqueeze(0).to(device),
    }
    return shared, torch.cat(sources).to(device), torch.cat(rows).to(device), torch.cat(columns).to(device)


def shared_prompt_logprobs(model: nn.Module, batch: dict[str, Tensor], temperature: float = 1.0) -> Tensor:
    """`response_token_logprobs(model, batch, temperature)` of a padded text batch, each distinct prompt run
    once (`share_prompts`); `[B, T]`, zero outside `response_mask`."""
    shared, sources, rows, columns = share_prompts(batch)
    per_token = response_token_logprobs(model, shared, temperature)[0]
    out = torch.zeros(batch["input_ids"].shape, dtype=per_token.dtype, device=per_token.device)
    out[rows, columns] = per_token[sources]
    return out
