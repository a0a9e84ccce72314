"""What a datamodule promises about its batches, as one typed object the objectives read
(`SampleDataModule.contract()`), instead of probing datamodule attributes by name.

An objective checks the contract in `on_fit_start`, so a mismatch (packed batches for a score model, heads
in another order than the label columns) stops the run before the first step with both sides named.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BatchContract:
    """The layout of a datamodule's batches; None: the datamodule makes no promise about that part."""

    packed: bool = False
    """Sequences are concatenated into one row without padding (`packing: true`)."""
    shared_prefix: bool = False
    """Preference pairs in one row, each prompt once before its two responses (`shared_prefix: true`)."""
    head_dimensions: tuple[str, ...] | None = None
    """Preference dimensions batched as the columns of `targets['dimensions']`, in order (multi-head
    reward models train head i on column i)."""
    label_names: tuple[str, ...] | None = None
    """Label names of the columns of `targets['labels']`, in order (moderation classifiers)."""
