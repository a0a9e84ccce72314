"""What rollout engines must know about sharded policies (DeepSpeed ZeRO-3, FSDP).

A sharded policy holds only a slice of each weight per rank; a forward gathers the full weights layer by
layer with collective calls that every rank must join. Two consequences for generation:
- HF `generate` must keep every rank stepping until all ranks are done (`synced_gpus=True`), or a rank whose
  responses all ended early stops joining the gathers and the others hang. transformers switches this on
  by itself only when it knows of ZeRO-3 (a live `HfDeepSpeedConfig`) and the model *itself* is the FSDP
  wrapper; we look at the parameters and every submodule instead, so no caller depends on that global.
- A weight copied to another engine (vLLM) must be gathered first (`gathered`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import torch.distributed as dist
from torch import nn


def zero3_partitioned(param: nn.Parameter) -> bool:
    """Whether DeepSpeed ZeRO-3 has partitioned this parameter (it then carries a `ds_id`)."""
    return hasattr(param, "ds_id")


def fsdp_sharded(model: nn.Module) -> bool:
    """Whether FSDP (v1 wrapper or v2 `fully_shard`) manages the model or any of its submodules."""
    from torch.distributed.fsdp import FSDPModule, FullyShardedDataParallel

    return any(isinstance(m, (FullyShardedDataParallel, FSDPModule)) for m in model.modules())


def shards_parameters(model: nn.Module) -> bool:
    """Whether the model's weights are split across ranks (ZeRO-3 or FSDP)."""
    return any(zero3_partitioned(p) for p in model.parameters()) or fsdp_sharded(model)


def world_size() -> int:
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def needs_synced_generation(model: nn.Module) -> bool:
    """`synced_gpus` for HF `generate`: sharded weights and more than one rank."""
    return world_size() > 1 and shards_parameters(model)


@contextmanager
def gathered(params: Sequence[nn.Parameter]) -> Iterator[None]:
    """Full (read-only) values of ZeRO-3-partitioned `params` inside the block, on every rank; changes made
    inside are discarded on exit. Unpartitioned parameters are already whole: nothing to do."""
    partitioned = [p for p in params if zero3_partitioned(p)]
    if not partitioned:
        yield
        return
    import deepspeed

    with deepspeed.zero.GatheredParameters(partitioned, modifier_rank=None):
        yield
