"""Load a source into samples with a report: validate, check, convert, and account for every row."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from omnialign.data.errors import MediaError, RecordError
from omnialign.data.readers import iter_rows
from omnialign.data.records.context import Context
from omnialign.data.records.fields import validate
from omnialign.data.records.format import RecordFormat
from omnialign.data.records.registry import get_format
from omnialign.data.records.report import LoadReport, RejectsWriter, Skip
from omnialign.data.sample import Sample

OnInvalid = Literal["error", "skip"]


@dataclass
class LoadResult:
    """The samples kept, in source order, and the report accounting for every row read."""

    samples: list[Sample]
    report: LoadReport


def convert_row(row: dict[str, Any], fmt: RecordFormat, ctx: Context) -> tuple[Sample, list[str]]:
    """Validate one row, run the format's consistency checks, convert; returns the sample and warnings."""
    record = validate(row, fmt.schema, ctx.location)
    warnings = [check.name for check in fmt.checks if check.fails(record)]
    return fmt.to_sample(record, ctx), warnings


def _source_dir(source: str | Path) -> Path:
    """The folder relative media paths are read from when no `media_root` is given."""
    path = Path(source)
    if path.is_dir():
        return path
    return path.parent if path.exists() else Path.cwd()  # a hub id: paths are relative to the caller


def load_samples(
    source: str | Path,
    format: str | RecordFormat,
    *,
    split: str = "train",
    on_invalid: OnInvalid = "error",
    rejects_path: str | Path | None = None,
    verify_media: bool = False,
    media_root: str | Path | None = None,
    dimension: str | None = None,
) -> LoadResult:
    """Read `source` (any container `iter_rows` knows) as `format` and convert every row to a `Sample`.

    `on_invalid="error"` raises the first `RecordError`/`MediaError` (naming file, row and field);
    `"skip"` counts each bad row in the report by reason and field and, with `rejects_path`, writes it to
    a JSONL file. `dimension` selects the preference dimension `LabelKey.CHOSEN` comes from (the format's
    default when `None`); a row without a preference under it is a `label` skip, never a guess.
    `verify_media` decodes every media file now; otherwise a bad file surfaces when it is first decoded.
    File-level problems (unreadable container, a row that is not an object) always raise.
    """
    if on_invalid not in ("error", "skip"):
        raise ValueError(f"on_invalid must be 'error' or 'skip', got {on_invalid!r}")
    fmt = get_format(format)
    selected = fmt.check_dimension(dimension)
    root = Path(media_root) if media_root is not None else _source_dir(source)
    report = LoadReport(str(source), fmt.name)
    samples: list[Sample] = []
    with RejectsWriter(rejects_path) as rejects:
        for location, row in iter_rows(source, split):
            report.read += 1
            ctx = Context(location, root, selected, verify_media, explicit_root=media_root is not None)
            try:
                sample, warnings = convert_row(row, fmt, ctx)
            except (RecordError, MediaError) as error:
                if on_invalid == "error":
                    raise
                skip = Skip.from_error(error, location)
                report.skips.append(skip)
                rejects.write(skip, row)
                continue
            report.warnings += [(location, name) for name in warnings]
            samples.append(sample)
            report.kept += 1
    return LoadResult(samples, report)
