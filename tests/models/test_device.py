"""The `device` option and the distributed backend it implies, decided on a CPU machine by pretending CUDA
is (or is not) there: no test needs a GPU."""

from __future__ import annotations

import pytest
import torch
from torch.distributed.distributed_c10d import Backend, BackendConfig

from omnialign.models.device import distributed_backend, resolve_device


def test_auto_takes_this_ranks_gpu_when_cuda_is_there(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setenv("LOCAL_RANK", "3")
    assert resolve_device("auto") == torch.device("cuda", 3)
    monkeypatch.delenv("LOCAL_RANK")
    assert resolve_device("auto") == torch.device("cuda", 0)
    assert resolve_device("cpu") == torch.device("cpu")  # an explicit choice wins


def test_auto_is_the_cpu_without_cuda_and_asking_for_cuda_is_an_error(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")
    with pytest.raises(ValueError, match="cuda:1"):
        resolve_device("cuda:1")


def test_backend_is_nccl_for_cuda_tensors_beside_gloo_for_cpu_ones():
    """As torch reads the backend string: on a CUDA machine, CUDA tensors go over NCCL and CPU ones (the
    pickled rows, CPU metric states) over gloo; on a CPU machine everything goes over gloo."""
    device_map = BackendConfig(Backend(distributed_backend(cuda=True))).get_device_backend_map()
    assert device_map == {"cpu": "gloo", "cuda": "nccl"}
    assert BackendConfig(Backend(distributed_backend(cuda=False))).get_device_backend_map()["cpu"] == "gloo"
