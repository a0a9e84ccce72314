"""Where inference runs: one `device` option (`auto`, `cpu`, `cuda`, `cuda:1`, ...) shared by evaluation's
models and judges and by `apps/generate.py`, and the process-group backend that goes with it.

`auto` takes this process's GPU when CUDA is available (`cuda:$LOCAL_RANK`, so each rank a launcher starts
gets its own card) and the CPU otherwise; a config written on a laptop then uses the GPU on a cluster
without an edit. Asking for CUDA where there is none is an error, never a silent fall back to the CPU.
"""

from __future__ import annotations

import os

import torch


def resolve_device(device: str = "auto") -> torch.device:
    """The torch device `device` names; `auto`: `cuda:$LOCAL_RANK` when CUDA is available, else `cpu`."""
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        return torch.device("cpu")
    resolved = torch.device(device)
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device '{device}' asks for CUDA, but torch sees no CUDA device here")
    return resolved


def distributed_backend(cuda: bool) -> str:
    """The process-group backend for evaluation across processes.

    With CUDA: NCCL for CUDA tensors and gloo for CPU ones (`cpu:gloo,cuda:nccl`). Per-sample rows travel as
    pickled objects, which torch sends over the CPU backend when there is one, and torchmetrics states stay
    on whichever device their metric lives on; NCCL alone could not move a CPU tensor. Without CUDA: gloo.
    """
    return "cpu:gloo,cuda:nccl" if cuda else "gloo"
