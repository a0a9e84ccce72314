"""An append-only JSONL dataset that a generating stage can be killed in the middle of and rerun.

Generation stages (LLF pair synthesis, best-of-N rewrites) run for hours on a cluster and get preempted.
Each finished batch of rows is appended with one write and made durable (`fsync`) before the next batch
starts, every row carries a stable `id`, and a rerun reads the ids already present and produces only the
missing rows. A kill can at worst tear the last line: it is cut off on reopen (and reported), and its row,
absent from the ids, is produced again. So a rerun neither duplicates nor loses rows.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SEED_STRIDE = 1_000_003


def batch_seed(seed: int, batch: int, steps: int = 1) -> int:
    """The seed of batch `batch` of a resumable generating stage, a function of the batch alone, so a rerun
    regenerates any batch identically without replaying the ones before it. A stage whose batches sample
    in several steps uses seeds `batch_seed(...) + 0 .. steps - 1`, which never reach the next batch's."""
    return steps * (seed * SEED_STRIDE + batch)


@dataclass
class StageReport:
    """Every input of a resumable stage accounted for: written, skipped (by reason), or done before."""

    stage: str
    inputs: int = 0
    done_before: int = 0
    written: int = 0
    skipped: Counter = field(default_factory=Counter)
    torn_lines: int = 0
    written_label: str = "rows"

    def summary(self) -> str:
        skips = ", ".join(f"{n} {reason}" for reason, n in sorted(self.skipped.items())) or "none"
        text = (
            f"{self.stage}: {self.inputs} prompts; {self.done_before} done by an earlier run; "
            f"{self.written} {self.written_label} written; skipped: {skips}"
        )
        return text + (f"; {self.torn_lines} torn line(s) cut off and redone" if self.torn_lines else "")


class RowJournal:
    """Rows keyed by `id`, appended durably; `torn` counts the torn trailing lines cut off on open."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.ids: set[str] = set()
        self.torn = 0
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.exists():
            self._recover()

    def _recover(self) -> None:
        data = self.path.read_bytes()
        complete = data[: data.rfind(b"\n") + 1]
        if len(complete) != len(data):
            self.torn = 1
            with self.path.open("r+b") as handle:
                handle.truncate(len(complete))
        for number, line in enumerate(complete.decode("utf-8").splitlines(), start=1):
            try:
                row_id = json.loads(line)["id"]
            except (json.JSONDecodeError, KeyError, TypeError) as error:
                raise ValueError(
                    f"{self.path}, line {number}: not a row this journal wrote ({error}); "
                    "move the file away to start over"
                ) from error
            self._claim(row_id, number)

    def _claim(self, row_id: str, number: int) -> None:
        if row_id in self.ids:
            raise ValueError(f"{self.path}, line {number}: duplicate row id {row_id!r}")
        self.ids.add(row_id)

    def __contains__(self, row_id: str) -> bool:
        return row_id in self.ids

    def __len__(self) -> int:
        return len(self.ids)

    def append(self, rows: Iterable[dict[str, Any]]) -> None:
        """Write `rows` as one durable append; an id already present is an error, never a second copy."""
        rows = list(rows)
        ids = [row["id"] for row in rows]
        clashes = sorted({i for i in ids if i in self.ids or ids.count(i) > 1})
        if clashes:
            raise ValueError(f"{self.path}: rows {clashes} are already written or repeated in this batch")
        text = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        self.ids.update(ids)

    def rows(self) -> list[dict[str, Any]]:
        """Every row written so far, in file order."""
        with self.path.open(encoding="utf-8") as handle:
            return [json.loads(line) for line in handle]


def complete_rows(path: str | Path) -> list[dict[str, Any]]:
    """The complete rows of a journal another process may be appending to (read-only: a torn or still
    growing last line is left alone, not cut off)."""
    data = Path(path).read_bytes()
    complete = data[: data.rfind(b"\n") + 1].decode("utf-8")
    return [json.loads(line) for line in complete.splitlines()]
