"""Typed, validated record schemas for every source format, and their conversion to `Sample`s.

Start at `load_samples(source, "align-anything/text-to-image", on_invalid="skip")`; `FORMATS` lists the
format names.
"""

from omnialign.data.records.context import Context
from omnialign.data.records.fields import Field, Record, Schema, opt, req, validate
from omnialign.data.records.format import Check, RecordFormat
from omnialign.data.records.load import LoadResult, convert_row, load_samples
from omnialign.data.records.registry import FORMATS, get_format
from omnialign.data.records.report import LoadReport, Skip

__all__ = [
    "FORMATS",
    "Check",
    "Context",
    "Field",
    "LoadReport",
    "LoadResult",
    "Record",
    "RecordFormat",
    "Schema",
    "Skip",
    "convert_row",
    "get_format",
    "load_samples",
    "opt",
    "req",
    "validate",
]
