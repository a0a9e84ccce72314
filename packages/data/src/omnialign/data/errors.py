"""Errors for bad input: every one names the file, the row and the field, and says what was expected.

A user with a 200k-row dataset needs to find the one bad row without a debugger, so the location is part of
the error type rather than of a free-form message.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RecordLocation:
    """Where a record came from: a file (or hub id) and a zero-based row index within it."""

    source: str
    row: int

    def __str__(self) -> str:
        return f"{self.source}, row {self.row}"


class RecordError(ValueError):
    """A record failed validation; carries file, row and field so callers can report or skip it."""

    def __init__(self, location: RecordLocation, field: str, problem: str) -> None:
        self.location = location
        self.field = field
        self.problem = problem
        super().__init__(f"{location}, field '{field}': {problem}")


class LabelError(RecordError):
    """The label a task asked for is missing or a tie in an otherwise valid record.

    Kept apart from a malformed record so a load report can count "no preference under the selected
    dimension" separately from "this row is broken".
    """


class MediaError(OSError):
    """A media file is missing or cannot be decoded; names the file and, when known, the record and field."""

    def __init__(
        self,
        path: str,
        problem: str,
        location: RecordLocation | None = None,
        field: str | None = None,
    ) -> None:
        self.path = path
        self.problem = problem
        self.location = location
        self.field = field
        refs = [f"referenced by {location}"] if location is not None else []
        refs += [f"field '{field}'"] if field is not None else []
        where = f" ({', '.join(refs)})" if refs else ""
        super().__init__(f"media file '{path}'{where}: {problem}")
