"""Attention of a packed or shared-prefix row run block by block, not over the whole row.

A packed row (sequences end to end, `collate.pack_sequences`) or a shared-prefix row (each pair's prompt,
then both responses, `collate.pack_shared_prefix`) is one long row in which a token only ever attends inside
its own block: its sequence, or its pair. Given to SDPA as one row with a block-diagonal mask, attention
costs N² for a row of N tokens, nearly all of it masked away: eight pairs of ~130 tokens make a 1,040-token
row whose blocks need 8 x 130², an eighth of it. Every other layer is per token, so the row's saving of
padding stays; only attention has to see blocks.

`block_attention(model, blocks)` switches an `sdpa` model to `block_sdpa_forward` for the calls made inside
it, which gathers each block's queries, keys and values into a padded `[blocks, heads, L, D]` batch, runs
one SDPA call over it (each block's own slice of the row's mask, or `is_causal` for plain packed sequences),
and puts the outputs back in row order: attention then costs the sum of the blocks' L² (at most blocks x
longest²). The result is the one the row's full mask gives (tests compare both with the padded batch). The
switch is scoped to the call: generation, padded batches and other attention implementations never see it,
and a model with gradient checkpointing keeps its own attention (its recompute runs in backward, after the
call).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from transformers.integrations.sdpa_attention import sdpa_attention_forward
from transformers.masking_utils import AttentionMaskInterface, sdpa_mask
from transformers.modeling_utils import AttentionInterface

BLOCK_SDPA = "omnialign_block_sdpa"
BLOCKS_KEYWORD = "row_blocks"  # the forward keyword transformers hands down to the attention function


@dataclass(frozen=True)
class RowBlocks:
    """Where each block of a one-row batch lies, as a padded `[B, L]` gather of row positions."""

    index: Tensor  # [B, L] row position of each slot (0 in padding slots)
    valid: Tensor  # [B, L] True for real slots: a block's positions, in row order
    mask: Tensor | None  # [B, 1, L, L] boolean, True: attend; None: causal inside each block


def row_blocks(starts: Tensor, allowed: Tensor | None = None) -> RowBlocks:
    """The blocks of a row from `starts` (`[N]` boolean, True where a block begins; position 0 must) and,
    for rows whose blocks are not plainly causal, `allowed` (`[N, N]`, the row's own attention mask, e.g. a
    shared-prefix row's ancestor mask), which must not cross blocks."""
    if not bool(starts[0]):
        raise ValueError("a row's first position must start a block")
    width = starts.shape[0]
    first = starts.nonzero().flatten()
    lengths = torch.diff(first, append=first.new_tensor([width]))
    slot = torch.arange(int(lengths.max()), device=starts.device)
    valid = slot < lengths.unsqueeze(-1)
    index = torch.where(valid, first.unsqueeze(-1) + slot, 0)
    if allowed is None:
        return RowBlocks(index, valid, None)
    mask = allowed[index.unsqueeze(-1), index.unsqueeze(-2)] & valid.unsqueeze(-2)
    # a padding slot's query attends to itself only (its output is dropped): no row of SDPA is all masked
    mask |= torch.eye(slot.shape[0], dtype=torch.bool, device=starts.device) & ~valid.unsqueeze(-1)
    return RowBlocks(index, valid, mask.unsqueeze(1))


def block_starts(segment_ids: Tensor, predictor_ids: Tensor | None) -> Tensor:
    """`[N]` block starts of a one-row batch: each pair (predictor -1) of a shared-prefix row, each sequence
    (a new segment id) of a packed one."""
    if predictor_ids is not None:
        return predictor_ids[0] < 0
    segments = segment_ids[0]
    return torch.cat([segments.new_ones(1, dtype=torch.bool), segments[1:] != segments[:-1]])


def block_sdpa_forward(
    module: nn.Module,
    query: Tensor,
    key: Tensor,
    value: Tensor,
    attention_mask: Tensor | None,
    dropout: float = 0.0,
    scaling: float | None = None,
    row_blocks: RowBlocks | None = None,
    **kwargs,
) -> tuple[Tensor, None]:
    """transformers' attention-function signature (`[1, H, N, D]` in, `[1, N, H, D]` out): the row's
    attention block by block when `row_blocks` is given (the row's mask is then already in it), plain
    `sdpa` otherwise."""
    if row_blocks is None:
        return sdpa_attention_forward(module, query, key, value, attention_mask, dropout, scaling, **kwargs)

    def gather(states: Tensor) -> Tensor:  # [1, H, N, D] -> [B, H, L, D]
        return states[0][:, row_blocks.index].transpose(0, 1)

    output, _ = sdpa_attention_forward(
        module,
        gather(query),
        gather(key),
        gather(value),
        row_blocks.mask,
        dropout,
        scaling,
        is_causal=row_blocks.mask is None,
        **kwargs,
    )
    return output[row_blocks.valid].unsqueeze(0), None  # [B, L, H, D] -> [1, N, H, D], row order


AttentionInterface.register(BLOCK_SDPA, block_sdpa_forward)
AttentionMaskInterface.register(BLOCK_SDPA, sdpa_mask)  # the row mask, for a fallback call without blocks


def _text_config(model: nn.Module):
    base = model.get_base_model() if hasattr(model, "get_base_model") else model  # peft wraps the model
    config = getattr(base, "config", None)
    return config.get_text_config() if config is not None else None


def _has_sliding_window(config) -> bool:
    layer_types = getattr(config, "layer_types", None)
    if layer_types is not None:
        return "sliding_attention" in layer_types
    return getattr(config, "sliding_window", None) is not None and getattr(config, "use_sliding_window", True)


@contextmanager
def block_attention(model: nn.Module, blocks: RowBlocks) -> Iterator[dict[str, RowBlocks]]:
    """While active, `model` (if it runs `sdpa`, without sliding windows or gradient checkpointing) attends
    block by block; yields the keyword arguments to add to its forward call (none where the model keeps its
    own attention, which the row's mask already makes correct, only slower)."""
    config = _text_config(model)
    keeps_own = (
        config is None
        or config._attn_implementation != "sdpa"
        or _has_sliding_window(config)
        # a checkpointing recompute runs in backward, after this call: another path than the forward's
        # would save other tensors, which checkpointing refuses
        or any(getattr(module, "gradient_checkpointing", False) for module in model.modules())
    )
    if keeps_own:
        yield {}
        return
    config._attn_implementation = BLOCK_SDPA
    try:
        yield {BLOCKS_KEYWORD: blocks}
    finally:
        config._attn_implementation = "sdpa"


@contextmanager
def row_attention(
    model: nn.Module,
    segment_ids: Tensor | None,
    predictor_ids: Tensor | None = None,
    ancestors: Tensor | None = None,
) -> Iterator[dict[str, RowBlocks]]:
    """`block_attention` for a one-row packed batch (`segment_ids`) or shared-prefix batch (also
    `predictor_ids` and the `[1, N, N]` `ancestors` its mask is made from); nothing for a padded batch
    (`segment_ids` None)."""
    if segment_ids is None or segment_ids.shape[0] != 1:
        yield {}
        return
    allowed = None if ancestors is None else ancestors[0]
    with block_attention(model, row_blocks(block_starts(segment_ids, predictor_ids), allowed)) as keywords:
        yield keywords
