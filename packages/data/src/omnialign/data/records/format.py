"""A record format: a schema, its converter to `Sample`, its selectable label dimensions and its checks."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from omnialign.data.records.context import Context
from omnialign.data.records.fields import Record, Schema
from omnialign.data.sample import Sample


@dataclass(frozen=True)
class Check:
    """A consistency rule over a valid record; a hit is counted as a warning, never a crash.

    Released datasets contain rows whose labels disagree with each other (a "safer" response that is
    itself marked unsafe while the other is safe); dropping them would bias the data and crashing on them
    would make the set unusable, so they are counted and reported.
    """

    name: str
    fails: Callable[[Record], bool]


@dataclass(frozen=True)
class RecordFormat:
    """Everything needed to turn rows of one source format into samples.

    `dimensions` are the preference dimensions `LabelKey.CHOSEN` can be taken from; the first is the
    default. A format without preference labels has none.
    """

    name: str
    schema: Schema
    to_sample: Callable[[Record, Context], Sample]
    dimensions: tuple[str, ...] = ()
    checks: tuple[Check, ...] = ()

    @property
    def default_dimension(self) -> str | None:
        return self.dimensions[0] if self.dimensions else None

    def check_dimension(self, dimension: str | None) -> str:
        """The dimension to use; an unknown name is a configuration error raised before any row is read."""
        if dimension is None:
            return self.default_dimension or ""
        if dimension not in self.dimensions:
            raise ValueError(
                f"format '{self.name}' has no preference dimension '{dimension}'; "
                f"choose from {self.dimensions}"
            )
        return dimension
