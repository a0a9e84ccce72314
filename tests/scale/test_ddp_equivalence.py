"""Data-parallel shards ≡ global batch: 2 `ddp` processes (gloo, CPU) with 4 examples each end with the
same weights as 1 process with 8, because the sampler gives the two ranks interleaved halves of the one
permutation and sequence-averaged losses average to the global mean."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from scale_helpers import write_sft_rows

HERE = Path(__file__).resolve().parent

# Lightning's ddp launcher starts rank 1 by running this same file again, so it must be a file.
_TRAIN = """
import sys
from pathlib import Path
import torch
from scale_helpers import fit_tiny, tiny_module
from omnialign.alignment.modules.sft import SFTModule

out, train, devices, batch = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
module = tiny_module(SFTModule, loss_averaging="sequence")
strategy = "ddp" if devices > 1 else "auto"
fit_tiny(out.parent, train, batch, [], module=module, devices=devices, strategy=strategy)
if module.global_rank == 0:
    torch.save(torch.cat([p.detach().flatten() for p in module.parameters()]), out)
"""


def _train(script: Path, out: Path, train: Path, devices: int, batch: int) -> torch.Tensor:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])}
    run = subprocess.run(
        [sys.executable, str(script), str(out), str(train), str(devices), str(batch)],
        env=env,
        capture_output=True,
        text=True,
        timeout=400,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    return torch.load(out)


@pytest.mark.slow
def test_two_ddp_processes_match_one_process_with_the_global_batch(tmp_path):
    script = tmp_path / "train_tiny.py"
    script.write_text(_TRAIN)
    train = write_sft_rows(tmp_path / "train.jsonl", 22)  # per epoch: global batches of 8, 8 and 6
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    single = _train(script, tmp_path / "one" / "weights.pt", train, devices=1, batch=8)
    sharded = _train(script, tmp_path / "two" / "weights.pt", train, devices=2, batch=4)
    initial = _initial_weights()
    assert (single - initial).abs().max() > 1e-3, "training must move the weights for this to mean anything"
    torch.testing.assert_close(sharded, single, rtol=0, atol=2e-5)


def _initial_weights() -> torch.Tensor:
    from scale_helpers import tiny_module

    module = tiny_module()
    module.configure_model()
    return torch.cat([p.detach().flatten() for p in module.parameters()])
