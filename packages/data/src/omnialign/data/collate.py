"""Batching: pad to the longest sequence on the side the model wants, carrying media tensors along.

Position ids are passed explicitly (counting real tokens only), so a left-padded and a right-padded batch
give the same per-sequence outputs, except for model families that derive positions from their media
(Qwen2-VL's 3-D M-RoPE, see `encode.SELF_POSITIONING`), which do the same from the attention mask.
Media tensors are concatenated over the batch along their first dimension (patches for Qwen2-VL, images
for LLaVA, clips for audio): the models scatter them into the placeholder tokens in row-major order, which
is the order of the sequences.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch

from omnialign.data.encode import PER_TOKEN_KEYS, EncodedSequence
from omnialign.data.interleaved import RESPONSE_PART, RESPONSE_PIXELS

PREDICTOR_IDS = "predictor_ids"
"""Label key of a shared-prefix row: per token, the index of the position that predicts it (-1: none)."""


def _spans(sequences: Sequence[EncodedSequence], width: int, side: str) -> list[slice]:
    if side == "right":
        return [slice(0, len(s)) for s in sequences]
    return [slice(width - len(s), width) for s in sequences]


def _pad(rows: Sequence[torch.Tensor], spans: list[slice], width: int, fill: int) -> torch.Tensor:
    out = torch.full((len(rows), width), fill, dtype=rows[0].dtype)
    for row, (values, span) in enumerate(zip(rows, spans, strict=True)):
        out[row, span] = values
    return out


def _token_inputs(
    sequences: Sequence[EncodedSequence], spans: list[slice], width: int
) -> dict[str, torch.Tensor]:
    """Per-token extras, zero (= text) on padding and wherever a sequence lacks them."""
    keys = sorted({key for s in sequences for key in s.token_inputs})
    return {
        key: _pad(
            [
                s.token_inputs[key] if key in s.token_inputs else torch.zeros_like(s.input_ids)
                for s in sequences
            ],
            spans,
            width,
            fill=0,
        )
        for key in keys
    }


def concat_media(sequences: Sequence[EncodedSequence]) -> dict[str, torch.Tensor]:
    """Every media key of the batch, concatenated in sequence order along the first dimension."""
    keys = sorted({key for s in sequences for key in s.media_inputs})
    return {key: torch.cat([s.media_inputs[key] for s in sequences if key in s.media_inputs]) for key in keys}


def pad_sequences(
    sequences: Sequence[EncodedSequence], pad_token_id: int, side: Literal["left", "right"] = "right"
) -> dict[str, torch.Tensor]:
    """Stack sequences into `input_ids`, `attention_mask`, `response_mask`, `position_ids` (unless the model
    derives its own), the per-token extras, and the concatenated media tensors."""
    if side not in ("left", "right"):
        raise ValueError(f"padding side must be 'left' or 'right', got '{side}'")
    width = max(len(s) for s in sequences)
    spans = _spans(sequences, width, side)
    attention_mask = _pad([torch.ones_like(s.input_ids) for s in sequences], spans, width, fill=0)
    batch = {
        "input_ids": _pad([s.input_ids for s in sequences], spans, width, fill=pad_token_id),
        "attention_mask": attention_mask,
        "response_mask": _pad([s.response_mask for s in sequences], spans, width, fill=0),
        **_token_inputs(sequences, spans, width),
        **concat_media(sequences),
    }
    if not any(key in batch for s in sequences for key in s.positions_from):
        batch["position_ids"] = (attention_mask.cumsum(-1) - 1).clamp_min(0)
    return batch


def rotate_responses(
    batch: dict[str, torch.Tensor], pad_token_id: int, side: Literal["left", "right"], shift: int = 1
) -> dict[str, torch.Tensor]:
    """The same prompts paired with *other* rows' responses: row i gets the response of row i + shift.

    KTO's reference point is the policy-vs-reference KL on such mismatched (x, y') pairs. Prompts, and so
    their media tensors and row order, stay where they are; only response tokens move. Padded batches only.
    """
    if "segment_ids" in batch:
        raise ValueError(
            "rotate_responses needs a padded batch, not a packed one (packing: false, shared_prefix: false)"
        )
    real = batch["attention_mask"].bool()
    prompt = real & ~batch["response_mask"].bool()
    response = batch["response_mask"].bool()
    rows = batch["input_ids"].shape[0]
    sequences = []
    for i in range(rows):
        j = (i + shift) % rows
        ids = torch.cat([batch["input_ids"][i][prompt[i]], batch["input_ids"][j][response[j]]])
        mask = torch.cat(
            [torch.zeros(int(prompt[i].sum()), dtype=torch.long), torch.ones(int(response[j].sum()))]
        )
        extras = {
            key: torch.cat([batch[key][i][prompt[i]], batch[key][j][response[j]]])
            for key in PER_TOKEN_KEYS
            if key in batch
        }
        sequences.append(EncodedSequence(ids, mask.long(), token_inputs=extras))
    rotated = pad_sequences(sequences, pad_token_id, side)
    if "position_ids" not in batch:  # the model derives positions itself (e.g. from its media)
        rotated.pop("position_ids")
    media = {key: value for key, value in batch.items() if key not in rotated and key not in LABEL_KEYS}
    return {**rotated, **media}


def pack_sequences(sequences: Sequence[EncodedSequence]) -> dict[str, torch.Tensor]:
    """Concatenate text sequences into one row without padding (padding-free packing).

    Position ids restart at 0 for each sequence and no attention mask is passed: transformers then builds a
    block-diagonal causal mask from the position ids, so no token attends across a sequence boundary and
    every sequence gets the outputs it would get alone. `segment_ids` says which sequence each token belongs
    to, so objectives can sum per sequence; a sequence's first token is never a response token (it opens
    the prompt), so the prediction across a boundary is never scored.
    """
    if any(s.media_inputs or s.token_inputs for s in sequences):
        raise ValueError("packing supports text-only batches; multimodal batches are padded (packing=False)")
    if any(s.response_mask[0] for s in sequences):
        raise ValueError("a packed sequence must start with a prompt token, not a response token")
    return {
        "input_ids": torch.cat([s.input_ids for s in sequences]).unsqueeze(0),
        "position_ids": torch.cat([torch.arange(len(s)) for s in sequences]).unsqueeze(0),
        "response_mask": torch.cat([s.response_mask for s in sequences]).unsqueeze(0),
        "segment_ids": torch.cat([torch.full((len(s),), i) for i, s in enumerate(sequences)]).unsqueeze(0),
    }


def _prompt_length(sequence: EncodedSequence) -> int:
    """Tokens before the first response token (all of them when the response is empty)."""
    scored = sequence.response_mask.nonzero()
    return int(scored[0]) if len(scored) else len(sequence)


def _shared_prompt_length(first: EncodedSequence, second: EncodedSequence, pair: int) -> int:
    """The length of the prompt both sequences of a pair start with; an error unless both continue one
    identical, non-empty prompt with a non-empty response."""
    length = _prompt_length(first)
    shared = _prompt_length(second) == length and torch.equal(
        second.input_ids[:length], first.input_ids[:length]
    )
    if length == 0 or not shared:
        raise ValueError(
            f"shared_prefix: pair {pair} of the batch does not start both responses after one identical, "
            "non-empty prompt token prefix; set shared_prefix: false for such data"
        )
    if length in (len(first), len(second)):
        raise ValueError(f"shared_prefix: pair {pair} of the batch has an empty response after the prompt")
    return length


def pack_shared_prefix(
    firsts: Sequence[EncodedSequence], seconds: Sequence[EncodedSequence]
) -> dict[str, torch.Tensor]:
    """Preference pairs in one row without padding, each pair's prompt once (`shared_prefix: true`).

    Pair i is laid out as its prompt, then its first response's tokens, then its second's, and the pairs
    follow one another. `predictor_ids` holds, per token, the row index of the position whose hidden state
    predicts it: the previous position, except for the second response's first token, which the prompt's
    last position predicts, and a prompt's first token, which nothing predicts (-1). Every token attends to
    the chain of its predictors (the model side builds that mask from `predictor_ids`), so a second
    response sees its prompt but never the first response, and no token sees another pair. Position ids
    continue the prompt in both responses, so each response gets the outputs it gets after its prompt in a
    padded batch. `segment_ids` sums first responses as sequences 0..n-1 and second ones as n..2n-1 (prompt
    tokens, never scored, count with the first response), the order of a padded preference batch.
    """
    if any(s.media_inputs or s.token_inputs for s in (*firsts, *seconds)):
        raise ValueError(
            "shared_prefix supports text-only pairs; multimodal batches are padded (shared_prefix: false)"
        )
    n = len(firsts)
    ids, positions, mask, segments, predictors = [], [], [], [], []
    offset = 0
    for i, (first, second) in enumerate(zip(firsts, seconds, strict=True)):
        length = _shared_prompt_length(first, second, i)
        a, b = len(first) - length, len(second) - length
        ids += [first.input_ids, second.input_ids[length:]]
        mask += [first.response_mask, second.response_mask[length:]]
        positions += [torch.arange(length + a), torch.arange(length, length + b)]
        segments += [torch.full((length + a,), i), torch.full((b,), n + i)]
        chain = torch.arange(offset - 1, offset + length + a - 1)
        chain[0] = -1
        branch = torch.arange(offset + length + a - 1, offset + length + a + b - 1)
        branch[0] = offset + length - 1
        predictors += [chain, branch]
        offset += length + a + b
    return {
        "input_ids": torch.cat(ids).unsqueeze(0),
        "position_ids": torch.cat(positions).unsqueeze(0),
        "response_mask": torch.cat(mask).unsqueeze(0),
        "segment_ids": torch.cat(segments).unsqueeze(0),
        PREDICTOR_IDS: torch.cat(predictors).unsqueeze(0),
    }


def per_sequence_sum(values: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Sum `[rows, T]` per-token values per sequence: per row for padded batches, per segment for packed."""
    if "segment_ids" not in batch:
        return values.sum(dim=-1)
    segments = batch["segment_ids"].flatten()
    total = torch.zeros(int(segments.max()) + 1, dtype=values.dtype, device=values.device)
    return total.index_add(0, segments, values.flatten())


# Batch keys that are labels for the objective rather than inputs of the network. Every other key of a
# collated batch is passed to the model's forward as is (pixel_values, image_grid_thw, input_features ...).
# `targets` holds a task's label tensors (preferred index, safety flags, per-dimension labels ...);
# `segment_ids` marks the sequences of a packed row; `predictor_ids` the position predicting each token of a
# shared-prefix row (the model builds its attention mask from them); `response_part` and
# `response_pixel_values` are the modality of each response token and the response images whose codes an
# any-to-any model is scored on.
LABEL_KEYS = frozenset(
    {"response_mask", "targets", "segment_ids", PREDICTOR_IDS, RESPONSE_PART, RESPONSE_PIXELS}
)


def model_inputs(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The keyword arguments of the model's forward: the batch without its label keys."""
    return {key: value for key, value in batch.items() if key not in LABEL_KEYS}
