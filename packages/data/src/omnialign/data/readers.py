"""Read raw rows from every container the field ships datasets in.

Rows come out as plain dicts with their location, untouched: validation is the schema's job
(`omnialign.data.records`), so a reader never guesses or fills in a field.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from omnialign.data.errors import RecordError, RecordLocation

Row = dict[str, Any]


def _read_json_text(text: str, source: str) -> Iterator[Row]:
    try:
        payload = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RecordError(RecordLocation(source, 0), "<file>", f"not valid JSON: {exc}") from exc
    if isinstance(payload, dict):  # some releases wrap the list: {"data": [...]}
        lists = [v for v in payload.values() if isinstance(v, list)]
        if len(lists) != 1:
            raise RecordError(RecordLocation(source, 0), "<file>", "expected a JSON list of records")
        payload = lists[0]
    if not isinstance(payload, list):
        raise RecordError(RecordLocation(source, 0), "<file>", "expected a JSON list of records")
    yield from payload


def _read_jsonl_lines(lines: Iterator[str], source: str) -> Iterator[Row]:
    for index, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            yield json.loads(line)
        except json.JSONDecodeError as exc:
            raise RecordError(RecordLocation(source, index), "<line>", f"not valid JSON: {exc}") from exc


def _read_parquet(path: Path) -> Iterator[Row]:
    import pyarrow.parquet as pq

    yield from pq.read_table(path).to_pylist()


def _read_hf_dataset(path_or_id: str, split: str, is_local: bool) -> Iterator[Row]:
    import datasets

    if is_local:
        loaded = datasets.load_from_disk(path_or_id)
        if isinstance(loaded, datasets.DatasetDict):
            loaded = loaded[split]
    else:
        repo, _, subset = path_or_id.partition(":")  # `owner/name:subset` picks a dataset configuration
        loaded = datasets.load_dataset(repo, subset or None, split=split)
    yield from loaded


def _is_hf_saved_folder(path: Path) -> bool:
    return path.is_dir() and ((path / "dataset_info.json").exists() or (path / "dataset_dict.json").exists())


def iter_rows(source: str | Path, split: str = "train") -> Iterator[tuple[RecordLocation, Row]]:
    """Yield `(location, row)` for every row of a json, json.gz, jsonl(.gz), parquet file, a folder written
    by `datasets.save_to_disk`, or a hub dataset id (loaded through `datasets.load_dataset`; write
    `owner/name:subset` for a dataset with several configurations, e.g.
    `PKU-Alignment/align-anything:text-image-to-text`)."""
    path = Path(source)
    name = path.name
    if path.is_dir():
        if not _is_hf_saved_folder(path):
            raise RecordError(RecordLocation(str(path), 0), "<file>", "folder is not a saved HF dataset")
        rows: Iterator[Row] = _read_hf_dataset(str(path), split, is_local=True)
    elif not path.exists():
        if path.suffix or "/" not in str(source) or str(source).startswith((".", "/")):
            raise FileNotFoundError(f"data file not found: {source}")
        rows = _read_hf_dataset(str(source), split, is_local=False)  # owner/name on the hub
    elif name.endswith((".jsonl", ".jsonl.gz")):
        opener = gzip.open if name.endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8") as handle:
            rows = iter(list(_read_jsonl_lines(iter(handle), str(path))))
    elif name.endswith((".json", ".json.gz")):
        opener = gzip.open if name.endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8") as handle:
            rows = _read_json_text(handle.read(), str(path))
    elif name.endswith(".parquet"):
        rows = _read_parquet(path)
    else:
        raise RecordError(
            RecordLocation(str(path), 0),
            "<file>",
            "unknown format (json, json.gz, jsonl, parquet, HF folder)",
        )
    for index, row in enumerate(rows):
        if not isinstance(row, dict):
            raise RecordError(RecordLocation(str(source), index), "<row>", "expected an object")
        yield RecordLocation(str(source), index), row
