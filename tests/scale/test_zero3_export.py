"""The end-of-fit export under DeepSpeed ZeRO-3 writes full weights: 2 CPU ranks (gloo) build the policy
partitioned (`zero.Init`, persistence threshold 0 so every tensor is sliced), take two engine steps, and
rank 0 exports inside `full_weights` (what `ExportPretrained` does). The folder must equal DeepSpeed's own
consolidation of the trained weights (`_zero3_consolidated_16bit_state_dict`, a separate gather), tensor for
tensor; an export without `full_weights` is also written, to show the check catches the empty tensors that
rank 0 would otherwise save. Lightning's DeepSpeed strategy refuses the CPU, so this drives the engine
directly, like test_deepspeed_cpu.py."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from two_ranks import run_two_ranks

REPO = Path(__file__).resolve().parents[2]

_RANK = """
import json, os, sys
from types import SimpleNamespace
from pathlib import Path
import deepspeed, torch
from omnialign.alignment.callbacks import full_weights
from omnialign.alignment.modules.sft import SFTModule
from omnialign.models.backbone import BackboneOptions

out = Path(sys.argv[1])
config = json.loads(Path(sys.argv[2]).read_text())
config["zero_optimization"]["stage3_param_persistence_threshold"] = 0
config |= {"train_micro_batch_size_per_gpu": 2, "gradient_accumulation_steps": 1}
deepspeed.init_distributed(dist_backend="gloo")
strategy = SimpleNamespace(zero_stage_3=True, config=config)
module = SFTModule(backbone=BackboneOptions(name="tiny:llama"))
module._trainer = SimpleNamespace(strategy=strategy)
with deepspeed.zero.Init(config_dict_or_path=config):
    module.configure_model()  # announces ZeRO-3 to transformers, then builds partitioned
engine, *_ = deepspeed.initialize(
    model=module.policy, optimizer=torch.optim.AdamW(module.policy.parameters(), lr=1e-2), config=config
)
rank = torch.distributed.get_rank()
batches = torch.randint(5, 100, (2, 2, 16), generator=torch.Generator().manual_seed(rank))
for ids in batches:
    engine.backward(engine(input_ids=ids, labels=ids).loss)
    engine.step()
consolidated = engine._zero3_consolidated_16bit_state_dict()  # collective: every rank calls it
if rank == 0:
    module.export_pretrained(out / "ungathered")
with full_weights(strategy, module.policy):
    if rank == 0:
        module.export_pretrained(out / "export")
if rank == 0:
    torch.save({k: v.clone() for k, v in consolidated.items()}, out / "consolidated.pt")
torch.distributed.barrier()
"""


@pytest.mark.slow
def test_zero3_export_gathers_full_weights_on_two_cpu_ranks(tmp_path):
    pytest.importorskip("deepspeed", reason="deepspeed not installed (uv sync installs its default group)")
    run_two_ranks(_RANK, tmp_path, str(REPO / "configs/deepspeed/zero3.json"))
    reference = torch.load(tmp_path / "consolidated.pt")
    exported = load_file(tmp_path / "export" / "model.safetensors")
    assert set(exported) <= set(reference) and "model.embed_tokens.weight" in exported  # tied lm_head may go
    for name, tensor in exported.items():
        assert tensor.shape == reference[name].shape and tensor.numel() > 0, name
        torch.testing.assert_close(tensor, reference[name], rtol=0, atol=0, msg=name)
    ungathered = load_file(tmp_path / "ungathered" / "model.safetensors")
    assert any(ungathered[name].shape != tensor.shape for name, tensor in exported.items()), (
        "without gathering, rank 0 should have saved placeholders: the check above would then prove nothing"
    )
