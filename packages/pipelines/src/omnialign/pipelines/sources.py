"""Where a pipeline reads its records: files (or hub ids) of one schema, with the same data options the
training datamodules take (`on_invalid`, `split`, `columns`, `dimension_letters`), so a dataset that trains
also feeds LLF and prompt refinement without reshaping."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from lightning.pytorch.utilities import rank_zero_info

from omnialign.data.records import load_samples
from omnialign.data.sample import Sample


@dataclass
class RecordSource:
    """Records to read: files of one format (any container the data package reads)."""

    files: list[str]
    schema: str
    media_root: str | None = None
    on_invalid: Literal["error", "skip"] = "error"
    limit: int | None = None
    """Use only the first `limit` samples (quick runs)."""
    split: str = "train"
    """Split read from hub ids and saved `DatasetDict` folders among `files`."""
    columns: dict[str, str] | None = None
    """Schema field -> column holding it, for files whose columns are named differently (as in training)."""
    dimension_letters: dict[str, str] | None = None
    """align-anything only: preference dimension -> the letter its columns use (`{consistency: a}`)."""

    def load(self) -> list[Sample]:
        samples: list[Sample] = []
        for source in self.files:
            result = load_samples(
                source,
                self.schema,
                on_invalid=self.on_invalid,
                media_root=self.media_root,
                split=self.split,
                columns=self.columns,
                dimension_letters=self.dimension_letters,
            )
            rank_zero_info(result.report.summary())
            samples += result.samples
        return samples[: self.limit] if self.limit is not None else samples
