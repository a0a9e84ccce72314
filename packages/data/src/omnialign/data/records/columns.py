"""Column mapping: read a schema's fields from differently named columns, set in config, not code.

As LLaMA-Factory's `dataset_info.json` does with `columns`, a user maps each schema field to the column
that holds it in their files (`{"question": "prompt_text"}`), so a renamed or misread key is a config fix.
For align-anything, `dimension_letters` (`{"consistency": "a"}`) is expanded into such a map by the schema.
Renames apply to every row before validation; columns nobody maps pass through unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from omnialign.data.records.schema import RecordSchema


class ColumnMap:
    """`field -> column` renames, checked against the schema once, applied to every row."""

    def __init__(
        self,
        schema: RecordSchema,
        columns: Mapping[str, str] | None = None,
        dimension_letters: Mapping[str, str] | None = None,
    ) -> None:
        mapping: dict[str, str] = {}
        if dimension_letters:
            if schema.remap_letters is None:
                raise ValueError(
                    f"schema '{schema.name}' does not name its dimension fields by letter; "
                    "rename its columns with `columns` instead of `dimension_letters`"
                )
            mapping |= schema.remap_letters(dimension_letters)
        mapping |= dict(columns or {})  # an explicit column wins over one derived from a letter
        declared = schema.field_set.field_names()
        unknown = sorted(set(mapping) - set(declared))
        if unknown:
            raise ValueError(
                f"columns maps fields {unknown} that schema '{schema.name}' does not have; "
                f"its fields are {list(declared)}"
            )
        self.mapping = {name: column for name, column in mapping.items() if name != column}
        self._sources = set(self.mapping.values())

    def __bool__(self) -> bool:
        return bool(self.mapping)

    def apply(self, row: dict[str, Any]) -> dict[str, Any]:
        """The row with each mapped column moved to its field name.

        A column that keeps its own name but is also a mapping's target would be overwritten; that is a
        configuration mistake (map that column elsewhere too), so it raises instead of losing data.
        """
        out = {key: value for key, value in row.items() if key not in self._sources}
        for name, column in self.mapping.items():
            if name in out:
                raise ValueError(
                    f"column '{name}' is in the data and is also the target of columns['{name}'] = "
                    f"'{column}'; map '{name}' to another field too, or drop that mapping"
                )
            if column in row:
                out[name] = row[column]
        return out
