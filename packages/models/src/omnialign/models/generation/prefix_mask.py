"""The explicit attention mask of a shared-prefix row (`omnialign.data.collate.pack_shared_prefix`).

In such a row a token may attend to itself and the chain of positions that predict it (`predictor_ids`):
the previous position, except where a branch starts (a pair's second response continues its prompt, not its
first response) or a new pair starts (-1). The allowed keys of a query are therefore a few contiguous runs:
its own run back to where the chain last jumped, then the run ending at the jump's target, and so on. That
shape cannot be told to transformers through position ids (its padding-free path assumes one block per
sequence), so the mask goes in as a prepared 4D tensor, which transformers 5.x passes to the attention
layers as is: boolean (True: attend) for `sdpa`, additive (0 / dtype minimum) for `eager`. Other attention
implementations take no such mask (flash attention) or another kind (flex), and sliding-window layers would
need their window applied as well: those are refused rather than silently run with the wrong mask.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

_TAKES_4D_MASK = ("sdpa", "eager")


def ancestor_mask(predictor_ids: Tensor) -> Tensor:
    """`[R, N]` predictor indices (-1: none) -> `[R, N, N]` boolean, `[r, t, s]` true iff token s is t or on
    the chain of t's predictors. Each step moves a query to the start of its current run and jumps to that
    start's predictor, so a row with k branch points takes k + 1 vectorised steps."""
    rows, width = predictor_ids.shape
    index = torch.arange(width, device=predictor_ids.device)
    if (predictor_ids >= index).any():
        raise ValueError("predictor_ids must point to earlier positions (or be -1)")
    opens_run = (predictor_ids != index - 1) | (predictor_ids < 0)
    run_start = torch.where(opens_run, index, 0).cummax(dim=-1).values
    tip = index.expand(rows, width)
    active = torch.ones(rows, width, dtype=torch.bool, device=predictor_ids.device)
    allowed = torch.zeros(rows, width, width, dtype=torch.bool, device=predictor_ids.device)
    while active.any():
        start = run_start.gather(-1, tip)
        allowed |= active[..., None] & (index >= start[..., None]) & (index <= tip[..., None])
        jump = predictor_ids.gather(-1, start)
        active = active & (jump >= 0)
        tip = torch.where(active, jump, tip)
    return allowed


def prefix_attention_mask(model: nn.Module, ancestors: Tensor) -> Tensor:
    """The `[R, 1, N, N]` attention mask `model` takes for a shared-prefix batch whose `ancestor_mask` is
    `ancestors` (callers that also need the chains, as score models do, build it once), in the form its
    attention implementation expects (see the module docstring)."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model  # peft wraps the model
    config = getattr(base, "config", None)
    implementation = getattr(config, "_attn_implementation", None)
    if implementation not in _TAKES_4D_MASK:
        raise ValueError(
            f"shared_prefix needs a model that takes an explicit 4D attention mask (attn_implementation "
            f"{' or '.join(_TAKES_4D_MASK)}); this one uses {implementation!r}: set shared_prefix: false"
        )
    text = config.get_text_config()
    if "sliding_attention" in (getattr(text, "layer_types", None) or ()):
        raise ValueError(
            "shared_prefix builds a full causal mask, which would drop this model's sliding-window "
            "attention: set shared_prefix: false"
        )
    allowed = ancestors.unsqueeze(1)
    if implementation == "sdpa":
        return allowed
    dtype = base.dtype
    return torch.zeros(allowed.shape, dtype=dtype, device=allowed.device).masked_fill(
        ~allowed, torch.finfo(dtype).min
    )
