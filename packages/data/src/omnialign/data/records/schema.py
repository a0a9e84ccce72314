"""A record schema: what `schema: <name>` in a config names.

It bundles the field set a row is validated against, the converter to `Sample`, the selectable preference
dimensions and the consistency checks. One word for one concept: configs, the registry (`SCHEMAS`,
`get_schema`) and this class all say *schema*; the bare list of fields is a `FieldSet`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from omnialign.data.records.context import Context
from omnialign.data.records.fields import FieldSet, Record
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
class RecordSchema:
    """Everything needed to turn rows of one source layout into samples.

    `dimensions` are the preference dimensions `LabelKey.CHOSEN` can be taken from; the first is the
    default. A schema without preference labels has none. `remap_letters` turns `{dimension: letter}` into
    a column map, for schemas whose dimension fields are named by letter (align-anything).
    `external_media` says media are paths to files shipped beside the table rather than bytes in it, so a
    hub dataset of this schema cannot be read without `media_root`.
    """

    name: str
    field_set: FieldSet
    to_sample: Callable[[Record, Context], Sample]
    dimensions: tuple[str, ...] = ()
    checks: tuple[Check, ...] = ()
    remap_letters: Callable[[Mapping[str, str]], dict[str, str]] | None = None
    external_media: bool = False

    @property
    def default_dimension(self) -> str | None:
        return self.dimensions[0] if self.dimensions else None

    def check_dimension(self, dimension: str | None) -> str:
        """The dimension to use; an unknown name is a configuration error raised before any row is read."""
        if dimension is None:
            return self.default_dimension or ""
        if dimension not in self.dimensions:
            raise ValueError(
                f"schema '{self.name}' has no preference dimension '{dimension}'; "
                f"choose from {self.dimensions}"
            )
        return dimension
