"""What a load did: rows read and kept, every skipped row with its reason, every consistency warning.

Nothing is dropped without a line here, so a user can tell a 200k-row run that kept 199,998 rows from one
that silently lost a tenth of its data.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Literal

from omnialign.data.errors import LabelError, MediaError, RecordError, RecordLocation

SkipReason = Literal["invalid", "label", "media"]


@dataclass(frozen=True)
class Skip:
    """One skipped row: where, why (`invalid` record, missing/tied `label`, bad `media`) and which field."""

    location: RecordLocation
    reason: SkipReason
    field: str
    problem: str

    @staticmethod
    def from_error(error: RecordError | MediaError, location: RecordLocation) -> Skip:
        if isinstance(error, MediaError):
            return Skip(location, "media", error.field or "<media>", f"{error.path}: {error.problem}")
        reason: SkipReason = "label" if isinstance(error, LabelError) else "invalid"
        return Skip(location, reason, error.field, error.problem)

    @property
    def key(self) -> str:
        return f"{self.reason}:{self.field}"


@dataclass
class LoadReport:
    """Counts and details of one `load_samples` call."""

    source: str
    schema: str
    read: int = 0
    kept: int = 0
    skips: list[Skip] = field(default_factory=list)
    warnings: list[tuple[RecordLocation, str]] = field(default_factory=list)
    unknown_columns: Counter[str] = field(default_factory=Counter)
    """Columns the schema does not declare, by the number of kept rows that had them: they are kept in
    `meta['extras']`, and listed here so a renamed column (silent drift) shows in every load."""

    @property
    def skipped(self) -> Counter[str]:
        """Skipped rows counted by `reason:field`, e.g. `invalid:better_response_id`."""
        return Counter(skip.key for skip in self.skips)

    @property
    def warning_counts(self) -> Counter[str]:
        return Counter(name for _, name in self.warnings)

    def summary(self) -> str:
        lines = [
            f"{self.source} ({self.schema}): read {self.read}, kept {self.kept}, skipped {len(self.skips)}"
        ]
        lines += [f"  skipped {count:>6}  {key}" for key, count in sorted(self.skipped.items())]
        lines += [f"  warning {count:>6}  {name}" for name, count in sorted(self.warning_counts.items())]
        lines += [
            f"  column  {count:>6}  {name} (not in the schema, kept in extras)"
            for name, count in sorted(self.unknown_columns.items())
        ]
        return "\n".join(lines)


def _json_safe(value: Any) -> Any:
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    return repr(value)


class RejectsWriter:
    """Appends each skipped row, with its reason and raw record, to a JSONL file (when given a path).

    Appending lets several sources of one run (a DataModule's file list) share a rejects file; every
    entry names its source and row, and the caller decides when to start a fresh file.
    """

    def __init__(self, path: str | Path | None) -> None:
        self.path = Path(path) if path is not None else None
        self._handle: IO[str] | None = None

    def __enter__(self) -> RejectsWriter:
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._handle = self.path.open("a", encoding="utf-8")
        return self

    def write(self, skip: Skip, row: Any) -> None:
        if self._handle is None:
            return
        entry = {
            "source": skip.location.source,
            "row": skip.location.row,
            "reason": skip.reason,
            "field": skip.field,
            "problem": skip.problem,
            "record": row,
        }
        self._handle.write(json.dumps(entry, default=_json_safe, ensure_ascii=False) + "\n")

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self._handle is not None:
            self._handle.close()
