"""HF `generate` under DeepSpeed ZeRO-3 with 2 ranks (gloo, CPU): the backend sees the partitioned weights and
keeps both ranks stepping (`synced_gpus`). Rank 0 asks for 3 new tokens and rank 1 for 8, so rank 0 is done
first; without `synced_gpus` it would stop joining the weight gathers and rank 1 would hang (the run would
time out) or fail. Nothing here registers ZeRO-3 with transformers, so its own detection stays off and the
backend's is what is tested. The same run checks that the weight stream for a vLLM engine
(`rollout.weights.policy_weights`) gathers each partitioned weight whole.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch
from ports import free_port
from torch import nn

from omnialign.models.generation import sharding

_RANK = """
import json, os, sys
import deepspeed, torch
from omnialign.models.generation.text import GenerationOptions, HFGenerateBackend
from omnialign.models.generation.text import SpecialIds
from omnialign.models.generation.sharding import needs_synced_generation, shards_parameters
from omnialign.models.generation.weights import policy_weights
from omnialign.models.backbone import BackboneOptions, load_causal_lm, load_processor

torch.set_num_threads(1)
rank = int(os.environ["RANK"])
deepspeed.init_distributed(dist_backend="gloo")
options = BackboneOptions(name="tiny:llama")
processor = load_processor(options)
model = load_causal_lm(options, processor)
config = {
    "train_micro_batch_size_per_gpu": 1,
    "zero_optimization": {"stage": 3, "stage3_param_persistence_threshold": 0},
}
engine, *_ = deepspeed.initialize(model=model, config=config)  # no optimizer: ZeRO-3 partitioning alone
policy = engine.module
processor.padding_side = "left"  # as PromptDataModule pads prompts
prompts = processor(["hello there", "a longer prompt than the first"], padding=True, return_tensors="pt")
torch.manual_seed(rank)
tokens = SpecialIds(eos=-1, pad=processor.pad_token_id, suppressed=[])  # -1: no row ends early
sampling = GenerationOptions(max_new_tokens=3 if rank == 0 else 8)
generated = HFGenerateBackend().generate(policy, dict(prompts), sampling, tokens)
whole = {name: tensor.clone() for name, tensor in policy_weights(policy)}  # what the vLLM sync pushes
fresh = load_causal_lm(options, processor)  # the same seeded weights, never partitioned
result = {
    "weights_whole": whole.keys() == dict(fresh.named_parameters()).keys()
    and all(torch.equal(whole[name], param) for name, param in fresh.named_parameters()),
    "sharded": shards_parameters(policy),
    "synced": needs_synced_generation(policy),
    "local_numel": sum(p.numel() for p in policy.parameters()),
    "shape": list(generated.shape),
}
open(os.path.join(sys.argv[1], f"rank{rank}.json"), "w").write(json.dumps(result))
"""


@pytest.mark.slow
def test_generate_keeps_zero3_ranks_in_step(tmp_path):
    pytest.importorskip("deepspeed", reason="deepspeed not installed (uv sync installs its default group)")
    port = str(free_port())
    procs = []
    for rank in (0, 1):
        env = {
            **os.environ,
            "DS_ACCELERATOR": "cpu",
            "MASTER_ADDR": "127.0.0.1",
            "MASTER_PORT": port,
            "RANK": str(rank),
            "LOCAL_RANK": str(rank),
            "WORLD_SIZE": "2",
        }
        procs.append(
            subprocess.Popen(
                [sys.executable, "-c", _RANK, str(tmp_path)],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    try:
        outputs = [proc.communicate(timeout=300) for proc in procs]
    finally:
        for proc in procs:
            proc.kill()
    for proc, (_, stderr) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, stderr[-3000:]
    rank0, rank1 = (json.loads((tmp_path / f"rank{rank}.json").read_text()) for rank in (0, 1))
    assert rank0["sharded"] and rank0["synced"] and rank1["synced"]
    assert rank0["local_numel"] == 0, "ZeRO-3 must have partitioned every weight away from the module"
    assert rank0["shape"] == [2, 3] and rank1["shape"] == [2, 8]
    assert rank0["weights_whole"] and rank1["weights_whole"], "the weight stream must gather every weight"


class _Spy(nn.Module):
    """A model whose `generate` records its keyword arguments."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1))
        self.calls: list[dict] = []

    def generate(self, input_ids, **kwargs):
        self.calls.append(kwargs)
        return torch.cat([input_ids, torch.ones(input_ids.shape[0], 2, dtype=torch.long)], dim=1)


def test_single_process_and_unsharded_models_generate_unsynced(monkeypatch):
    """One process, or several with whole weights (DDP): no sync, so ranks never wait for each other."""
    from omnialign.models.generation.text import GenerationOptions, HFGenerateBackend, SpecialIds

    spy, tokens = _Spy(), SpecialIds(eos=2, pad=0, suppressed=[])
    prompts = {"input_ids": torch.tensor([[5, 6]]), "attention_mask": torch.ones(1, 2, dtype=torch.long)}
    out = HFGenerateBackend().generate(spy, prompts, GenerationOptions(max_new_tokens=2), tokens)
    assert out.tolist() == [[1, 1]] and spy.calls[-1]["synced_gpus"] is False
    monkeypatch.setattr(sharding, "world_size", lambda: 2)
    HFGenerateBackend().generate(spy, prompts, GenerationOptions(max_new_tokens=2), tokens)
    assert spy.calls[-1]["synced_gpus"] is False
    spy.weight.ds_id = 0  # what ZeRO-3 attaches to a partitioned parameter
    HFGenerateBackend().generate(spy, prompts, GenerationOptions(max_new_tokens=2), tokens)
    assert spy.calls[-1]["synced_gpus"] is True
