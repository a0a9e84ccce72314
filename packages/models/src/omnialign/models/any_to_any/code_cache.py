"""VQ codes of response images cached on disk, so every epoch (and the reference pass) skips the VQ encoder.

An entry is keyed twice: by a fingerprint of the VQ weights (a folder), since other weights give other codes,
and by the hash of the image's pixel tensor exactly as the processor prepared it (a file), so a changed
image or image processor never hits a stale entry. The VQ of these families is frozen, so its fingerprint
is computed once per network.
"""

from __future__ import annotations

import functools
import hashlib
import uuid
import weakref
from collections.abc import Callable
from pathlib import Path

import torch
from torch import Tensor, nn


def _digest(tensor: Tensor) -> str:
    data = tensor.detach().cpu().contiguous()
    header = f"{tuple(data.shape)}{data.dtype}".encode()
    return hashlib.sha256(header + data.view(torch.uint8).numpy().tobytes()).hexdigest()[:32]


def weights_fingerprint(module: nn.Module) -> str:
    """A hash of a module's parameters and buffers, in state-dict order."""
    digest = hashlib.sha256()
    for name, tensor in module.state_dict().items():
        digest.update(name.encode() + _digest(tensor).encode())
    return digest.hexdigest()[:16]


class CodeCache:
    """Codes of images under `directory/<VQ fingerprint>/<pixel hash>.pt`."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self._fingerprints: weakref.WeakKeyDictionary[nn.Module, str] = weakref.WeakKeyDictionary()

    @staticmethod
    @functools.cache
    def at(directory: str) -> CodeCache:
        """The process's one cache object for a folder, so each VQ is fingerprinted once per process."""
        return CodeCache(directory)

    def codes(self, vq: nn.Module, pixel_values: Tensor, encode: Callable[[Tensor], Tensor]) -> Tensor:
        """`[N, L]` codes of `[N, C, H, W]` pixels: cached ones read, the others encoded in one batch and
        written."""
        if vq not in self._fingerprints:
            self._fingerprints[vq] = weights_fingerprint(vq)
        folder = self.directory / self._fingerprints[vq]
        paths = [folder / f"{_digest(image)}.pt" for image in pixel_values]
        missing = [i for i, path in enumerate(paths) if not path.exists()]
        fresh = encode(pixel_values[missing]) if missing else None
        if missing:
            folder.mkdir(parents=True, exist_ok=True)
            for row, i in enumerate(missing):
                temporary = paths[i].with_suffix(f".{uuid.uuid4().hex}.tmp")  # leaves torch's RNG alone
                torch.save(fresh[row].cpu().clone(), temporary)
                temporary.replace(paths[i])  # atomic: concurrent ranks never read a partial file
        fresh_rows = dict(zip(missing, fresh if fresh is not None else [], strict=True))
        rows = [fresh_rows[i] if i in fresh_rows else torch.load(path) for i, path in enumerate(paths)]
        return torch.stack(rows).to(pixel_values.device)
