"""Batching: pad to the longest sequence on the side the model wants, or pack without padding.

Position ids are always passed explicitly (counting real tokens only), so a left-padded and a right-padded
batch give the same per-sequence outputs, and packed sequences restart their positions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch

from omnialign.data.encode import EncodedSequence


def pad_sequences(
    sequences: Sequence[EncodedSequence], pad_token_id: int, side: Literal["left", "right"] = "right"
) -> dict[str, torch.Tensor]:
    """Stack sequences into `input_ids`, `attention_mask`, `response_mask` and `position_ids`."""
    if side not in ("left", "right"):
        raise ValueError(f"padding side must be 'left' or 'right', got '{side}'")
    width = max(len(s) for s in sequences)
    batch = len(sequences)
    input_ids = torch.full((batch, width), pad_token_id, dtype=torch.long)
    attention_mask = torch.zeros((batch, width), dtype=torch.long)
    response_mask = torch.zeros((batch, width), dtype=torch.long)
    for row, seq in enumerate(sequences):
        span = slice(0, len(seq)) if side == "right" else slice(width - len(seq), width)
        input_ids[row, span] = seq.input_ids
        attention_mask[row, span] = 1
        response_mask[row, span] = seq.response_mask
    position_ids = (attention_mask.cumsum(-1) - 1).clamp_min(0)
    return {
        "input_ids": input_ids,
        "attention_mask": attention_mask,
        "response_mask": response_mask,
        "position_ids": position_ids,
    }


# Batch keys that are labels for the objective rather than inputs of the network. Every other key of a
# collated batch is passed to the model's forward as is (pixel_values, image_grid_thw, input_features ...).
# `targets` holds a task's label tensors (preferred index, safety flags, per-dimension labels ...).
LABEL_KEYS = frozenset({"response_mask", "targets"})


def model_inputs(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The keyword arguments of the model's forward: the batch without its label keys."""
    return {key: value for key, value in batch.items() if key not in LABEL_KEYS}
