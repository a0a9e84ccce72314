"""The reference policy, one component for every objective that measures the trained model against where it
started (DPO family, online RL's KL term, Diffusion-DPO).

A reference is either a frozen copy of the starting network (`frozen`: built once in `configure_model`,
held in `reference_dtype` if given, e.g. bf16 at half the memory, since it only runs forwards; never
checkpointed, rebuilt on resume) or the trained network itself with its LoRA adapters switched off
(`adapters`: no copy at all, the base weights *are* the starting point). Objectives own the network and hand
it here; this module decides which one runs and keeps the two sources' rules in one place.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from omnialign.models.backbone import DTYPES

ReferenceSource = Literal["frozen", "adapters"]
REFERENCE_PREFIX = "reference."
"""State-dict prefix of a frozen copy held as the objective's `reference` attribute (dropped on save)."""


@dataclass(frozen=True)
class ReferencePolicy:
    """Which network is the reference, and in what dtype a frozen copy is held."""

    source: ReferenceSource = "frozen"
    dtype: str | None = None
    """Parameter dtype of a frozen copy (float32, bfloat16, float16); None: the trained network's."""

    def check(self, has_lora: bool) -> None:
        """Settings that cannot work, as errors at construction rather than at the first step."""
        if self.source not in ("frozen", "adapters"):
            raise ValueError(f"reference must be 'frozen' or 'adapters', got '{self.source}'")
        if self.source == "adapters" and not has_lora:
            raise ValueError("reference='adapters' needs LoRA on the trained network, or use 'frozen'")
        if self.dtype is not None and (self.source != "frozen" or self.dtype not in DTYPES):
            raise ValueError(
                f"reference_dtype must be one of {sorted(DTYPES)} and needs reference='frozen' (the "
                f"'adapters' reference is the trained network itself); got '{self.dtype}' with "
                f"reference='{self.source}'"
            )

    def frozen_copy(self, build: Callable[[], nn.Module]) -> nn.Module | None:
        """`build()` frozen (eval mode, no gradients) in `dtype`, or None for an `adapters` reference."""
        if self.source != "frozen":
            return None
        copy = build().eval().requires_grad_(False)
        return copy.to(DTYPES[self.dtype]) if self.dtype is not None else copy

    @contextmanager
    def network(self, frozen: nn.Module | None, trained: nn.Module) -> Iterator[nn.Module]:
        """The network to run as the reference, without gradients: the frozen copy, or `trained` with its
        adapters disabled for the duration of the block (peft models and diffusers models alike)."""
        with torch.no_grad():
            if self.source == "frozen":
                if frozen is None:
                    raise RuntimeError("the frozen reference was not built (configure_model not run?)")
                yield frozen
            elif hasattr(trained, "disable_adapter"):  # peft's PeftModel: a context manager
                with trained.disable_adapter():
                    yield trained
            else:  # diffusers' PeftAdapterMixin
                trained.disable_adapters()
                try:
                    yield trained
                finally:
                    trained.enable_adapters()


def drop_rebuilt(state_dict: dict, prefixes: tuple[str, ...] = (REFERENCE_PREFIX,)) -> None:
    """Remove weights that are rebuilt rather than checkpointed (a frozen reference, frozen encoders)."""
    for key in [k for k in state_dict if k.startswith(prefixes)]:
        del state_dict[key]
