"""Load a source into samples with a report: validate, check, convert, and account for every row."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from omnialign.data.errors import MediaError, RecordError
from omnialign.data.readers import BadRow, is_hub_id, iter_rows
from omnialign.data.records.columns import ColumnMap
from omnialign.data.records.context import Context
from omnialign.data.records.fields import validate
from omnialign.data.records.registry import get_schema
from omnialign.data.records.report import LoadReport, RejectsWriter, Skip
from omnialign.data.records.schema import RecordSchema
from omnialign.data.sample import Sample

OnInvalid = Literal["error", "skip"]


@dataclass
class LoadResult:
    """The samples kept, in source order, and the report accounting for every row read."""

    samples: list[Sample]
    report: LoadReport


@dataclass(frozen=True)
class Converted:
    """One converted row: the sample, the consistency checks it failed, and the columns the schema does not
    declare (kept in `sample.meta['extras']`)."""

    sample: Sample
    warnings: list[str]
    unknown_columns: tuple[str, ...]


def convert_row(row: dict[str, Any], schema: RecordSchema, ctx: Context) -> Converted:
    """Validate one row, run the schema's consistency checks, convert."""
    record = validate(row, schema.field_set, ctx.location)
    warnings = [check.name for check in schema.checks if check.fails(record)]
    return Converted(schema.to_sample(record, ctx), warnings, tuple(record.extras))


def _source_dir(source: str | Path) -> Path:
    """The folder relative media paths are read from when no `media_root` is given."""
    path = Path(source)
    if path.is_dir():
        return path
    return path.parent if path.exists() else Path.cwd()


def _check_media_root(source: str | Path, schema: RecordSchema, media_root: str | Path | None) -> None:
    if media_root is None and schema.external_media and is_hub_id(source):
        raise ValueError(
            f"{source}: schema '{schema.name}' reads media files that the hub table only names by path; "
            "download them and pass media_root (the folder they were unpacked to)"
        )


def load_samples(
    source: str | Path,
    schema: str | RecordSchema,
    *,
    split: str = "train",
    on_invalid: OnInvalid = "error",
    rejects_path: str | Path | None = None,
    verify_media: bool = False,
    media_root: str | Path | None = None,
    dimension: str | None = None,
    columns: Mapping[str, str] | None = None,
    dimension_letters: Mapping[str, str] | None = None,
) -> LoadResult:
    """Read `source` (any container `iter_rows` knows) with `schema` and convert every row to a `Sample`.

    `on_invalid="error"` raises the first bad row (`RecordError`/`MediaError`, naming file, row and field);
    `"skip"` counts each bad row in the report by reason and field (a JSONL line that is not valid JSON
    too) and, with `rejects_path`, writes it to a JSONL file. `dimension` selects the preference dimension
    `LabelKey.CHOSEN` comes from (the schema's default when `None`); a row without a preference under it is
    a `label` skip, never a guess. `columns` (field → column) and `dimension_letters` (dimension → letter)
    rename columns before validation (see `ColumnMap`). `split` picks the split of a hub dataset or saved
    `DatasetDict`. `verify_media` decodes every media file now; otherwise a bad file surfaces when it is
    first decoded. Problems with the source as a whole (unreadable file, bad configuration) always raise.
    """
    if on_invalid not in ("error", "skip"):
        raise ValueError(f"on_invalid must be 'error' or 'skip', got {on_invalid!r}")
    resolved = get_schema(schema)
    selected = resolved.check_dimension(dimension)
    renames = ColumnMap(resolved, columns, dimension_letters)
    _check_media_root(source, resolved, media_root)
    root = Path(media_root) if media_root is not None else _source_dir(source)
    report = LoadReport(str(source), resolved.name)
    samples: list[Sample] = []
    with RejectsWriter(rejects_path) as rejects:
        for location, row in iter_rows(source, split):
            report.read += 1
            ctx = Context(location, root, selected, verify_media, explicit_root=media_root is not None)
            try:
                if isinstance(row, BadRow):
                    raise row.error
                converted = convert_row(renames.apply(row) if renames else row, resolved, ctx)
            except (RecordError, MediaError) as error:
                if on_invalid == "error":
                    raise
                skip = Skip.from_error(error, location)
                report.skips.append(skip)
                rejects.write(skip, row.raw if isinstance(row, BadRow) else row)
                continue
            report.warnings += [(location, name) for name in converted.warnings]
            report.unknown_columns.update(converted.unknown_columns)
            samples.append(converted.sample)
            report.kept += 1
    return LoadResult(samples, report)
