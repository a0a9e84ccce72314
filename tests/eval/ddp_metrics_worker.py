"""One rank of the 2-process gloo check: `python ddp_metrics_worker.py RANK WORLD PORT OUT_JSON`."""

from __future__ import annotations

import json
import sys

import torch.distributed as dist
from metric_cases import CASES, run_case

if __name__ == "__main__":
    rank, world, port, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
    results = {name: run_case(name, rank, world) for name in CASES}
    dist.destroy_process_group()
    with open(out, "w") as handle:
        json.dump(results, handle)
