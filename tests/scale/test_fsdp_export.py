"""The end-of-fit export under FSDP writes full weights: 2 CPU ranks (gloo) shard the policy with FSDP, take
two steps, and rank 0 exports inside `full_weights` (what `ExportPretrained` does under Lightning's
FSDPStrategy: `summon_full_params` on every rank). The folder must equal FSDP's own full state dict (a
separate gather, `StateDictType.FULL_STATE_DICT`), tensor for tensor; an export written without
`full_weights` is also checked, to show the comparison catches the shards rank 0 would otherwise save."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file
from two_ranks import run_two_ranks

_RANK = """
import sys
from pathlib import Path
import torch, torch.distributed as dist
from torch.distributed.fsdp import FullStateDictConfig, FullyShardedDataParallel as FSDP, StateDictType
from omnialign.alignment.callbacks import full_weights
from omnialign.alignment.modules.sft import SFTModule
from omnialign.models.backbone import BackboneOptions

out = Path(sys.argv[1])
dist.init_process_group("gloo")
rank = dist.get_rank()
module = SFTModule(backbone=BackboneOptions(name="tiny:llama"))
module.configure_model()
wrapped = FSDP(module.policy, device_id=torch.device("cpu"), use_orig_params=True)


class FSDPStrategy:  # what `full_weights` reads of Lightning's strategy: its class name and wrapped model
    model = wrapped


optimizer = torch.optim.AdamW(wrapped.parameters(), lr=1e-2)
for ids in torch.randint(5, 100, (2, 2, 16), generator=torch.Generator().manual_seed(rank)):
    wrapped(input_ids=ids, labels=ids).loss.backward()
    optimizer.step()
    optimizer.zero_grad()
policy = FullStateDictConfig(offload_to_cpu=True, rank0_only=True)
with FSDP.state_dict_type(wrapped, StateDictType.FULL_STATE_DICT, policy):
    full = wrapped.state_dict()  # collective: every rank calls it
if rank == 0:
    module.export_pretrained(out / "ungathered")
with full_weights(FSDPStrategy(), module.policy):
    if rank == 0:
        module.export_pretrained(out / "export")
if rank == 0:
    torch.save({k: v.clone() for k, v in full.items()}, out / "full.pt")
dist.barrier()
"""


@pytest.mark.slow
def test_fsdp_export_gathers_full_weights_on_two_cpu_ranks(tmp_path):
    run_two_ranks(_RANK, tmp_path)
    full = torch.load(tmp_path / "full.pt")
    exported = load_file(tmp_path / "export" / "model.safetensors")
    assert set(exported) == set(full)
    for name, tensor in full.items():
        assert torch.equal(exported[name], tensor), name
    ungathered = load_file(tmp_path / "ungathered" / "model.safetensors")
    assert any(
        name not in ungathered
        or ungathered[name].shape != tensor.shape
        or not torch.equal(ungathered[name], tensor)
        for name, tensor in full.items()
    )
