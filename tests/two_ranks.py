"""Run a script on 2 CPU ranks with torchrun, for the tests of sharded strategies' exports."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from ports import free_port


def run_two_ranks(script: str, folder: Path, *args: str, timeout: int = 900) -> None:
    """Write `script` into `folder` and run it on 2 ranks with `folder` and `args` as its arguments; fails
    the test with the ranks' stderr when it does not exit cleanly."""
    path = folder / "rank.py"
    path.write_text(script)
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node=2"]
    command += [f"--master-port={free_port()}", str(path), str(folder), *args]
    env = {**os.environ, "DS_ACCELERATOR": "cpu", "OMP_NUM_THREADS": "1"}
    run = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)
    assert run.returncode == 0, run.stderr[-4000:]
