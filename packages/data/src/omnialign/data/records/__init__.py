"""Typed, validated record schemas for every source layout, and their conversion to `Sample`s.

Start at `load_samples(source, "align-anything/text-to-image", on_invalid="skip")`; `SCHEMAS` lists the
schema names (what `schema:` in a config names). A `RecordSchema` bundles a `FieldSet` (the fields a row is
validated against) with its converter, preference dimensions and checks.
"""

from omnialign.data.records.columns import ColumnMap
from omnialign.data.records.context import Context
from omnialign.data.records.fields import Field, FieldSet, Record, opt, req, validate
from omnialign.data.records.load import Converted, LoadResult, convert_row, load_samples
from omnialign.data.records.registry import SCHEMAS, get_schema
from omnialign.data.records.report import LoadReport, Skip
from omnialign.data.records.schema import Check, RecordSchema

__all__ = [
    "SCHEMAS",
    "Check",
    "ColumnMap",
    "Context",
    "Converted",
    "Field",
    "FieldSet",
    "LoadReport",
    "LoadResult",
    "Record",
    "RecordSchema",
    "Skip",
    "convert_row",
    "get_schema",
    "load_samples",
    "opt",
    "req",
    "validate",
]
