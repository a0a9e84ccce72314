"""Read raw rows from every container the field ships datasets in.

Rows come out as plain dicts with their location, untouched: validation is the schema's job
(`omnialign.data.records`), so a reader never guesses or fills in a field. A row that cannot be read as an
object (a JSONL line that is not valid JSON, a list element that is not an object) comes out as a `BadRow`,
so the loader can count and skip it like any other bad record; a file that cannot be read at all raises.

Hub datasets and `save_to_disk` folders are read with their media columns undecoded (as `decode=False`
would): `datasets` would decode audio through torchcodec and images through PIL, while OmniAlign decodes
media itself, lazily and with errors that name the row; undecoded, a media cell is the `{bytes, path}` dict
the record schemas accept.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omnialign.data.errors import RecordError, RecordLocation

Row = dict[str, Any]


@dataclass(frozen=True)
class BadRow:
    """A row that could not be read as an object: the error (naming file, row and problem) and the raw
    value (a JSONL line's text), for the rejects file."""

    error: RecordError
    raw: Any


def _read_json_text(text: str, source: str) -> Iterator[Any]:
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


def _read_jsonl_lines(lines: Iterator[str], source: str) -> Iterator[Any]:
    """Every non-blank line, parsed; a line that is not valid JSON becomes a `BadRow` naming its index."""
    for index, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            yield json.loads(line)
        except json.JSONDecodeError as exc:
            yield BadRow(RecordError(RecordLocation(source, index), "<line>", f"not valid JSON: {exc}"), line)


def _read_parquet(path: Path) -> Iterator[Row]:
    import pyarrow.parquet as pq

    yield from pq.read_table(path).to_pylist()


def undecoded_rows(dataset: Any, batch_size: int = 256) -> Iterator[Row]:
    """The rows of a `datasets.Dataset` as stored: the arrow format runs no feature decoder, so media cells
    stay `{bytes, path}` dicts and torchcodec or PIL are never called; batches bound the memory."""
    for batch in dataset.with_format("arrow").iter(batch_size=batch_size):
        yield from batch.to_pylist()


def _pick_split(loaded: Any, split: str, source: str) -> Any:
    import datasets

    if not isinstance(loaded, datasets.DatasetDict):
        return loaded
    if split not in loaded:
        raise ValueError(f"{source} has no split '{split}'; it has {sorted(loaded)}")
    return loaded[split]


def hub_config(repo: str, config: str | None) -> str | None:
    """The configuration to load: the one named, or the only/default one; a dataset with several
    configurations and no default must be named with one (`owner/name:config`)."""
    if config:
        return config
    import datasets

    names = datasets.get_dataset_config_names(repo)
    if len(names) > 1 and "default" not in names:
        raise ValueError(
            f"hub dataset '{repo}' has several configurations; name one as '{repo}:<config>', "
            f"e.g. '{repo}:{names[0]}' (configurations: {', '.join(names)})"
        )
    return None


def _read_hf_dataset(path_or_id: str, split: str, is_local: bool) -> Iterator[Row]:
    import datasets

    if is_local:
        loaded = _pick_split(datasets.load_from_disk(path_or_id), split, path_or_id)
    else:
        repo, _, config = path_or_id.partition(":")  # `owner/name:config` picks a dataset configuration
        loaded = _pick_split(datasets.load_dataset(repo, hub_config(repo, config)), split, path_or_id)
    yield from undecoded_rows(loaded)


def _is_hf_saved_folder(path: Path) -> bool:
    return path.is_dir() and ((path / "dataset_info.json").exists() or (path / "dataset_dict.json").exists())


def is_hub_id(source: str | Path) -> bool:
    """`owner/name` (optionally `:config`) that is not a local path: read through `datasets.load_dataset`."""
    path = Path(source)
    text = str(source)
    return not path.exists() and not path.suffix and "/" in text and not text.startswith((".", "/"))


def _rows(source: str | Path, split: str) -> Iterator[Any]:
    path = Path(source)
    name = path.name
    if path.is_dir():
        if not _is_hf_saved_folder(path):
            raise RecordError(RecordLocation(str(path), 0), "<file>", "folder is not a saved HF dataset")
        return _read_hf_dataset(str(path), split, is_local=True)
    if not path.exists():
        if not is_hub_id(source):
            raise FileNotFoundError(f"data file not found: {source}")
        return _read_hf_dataset(str(source), split, is_local=False)
    if name.endswith((".jsonl", ".jsonl.gz")):
        opener = gzip.open if name.endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8") as handle:
            return iter(list(_read_jsonl_lines(iter(handle), str(path))))
    if name.endswith((".json", ".json.gz")):
        opener = gzip.open if name.endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8") as handle:
            return _read_json_text(handle.read(), str(path))
    if name.endswith(".parquet"):
        return _read_parquet(path)
    raise RecordError(
        RecordLocation(str(path), 0), "<file>", "unknown format (json, json.gz, jsonl, parquet, HF folder)"
    )


def iter_rows(source: str | Path, split: str = "train") -> Iterator[tuple[RecordLocation, Row | BadRow]]:
    """Yield `(location, row)` for every row of a json, json.gz, jsonl(.gz), parquet file, a folder written
    by `datasets.save_to_disk`, or a hub dataset id (loaded through `datasets.load_dataset`; write
    `owner/name:config` for a dataset with several configurations, e.g.
    `PKU-Alignment/align-anything:text-image-to-text`). `split` picks the split of a hub dataset or of a
    saved `DatasetDict`. A row that is not an object comes out as a `BadRow`."""
    for index, row in enumerate(_rows(source, split)):
        location = RecordLocation(str(source), index)
        if isinstance(row, BadRow):
            yield location, BadRow(RecordError(location, row.error.field, row.error.problem), row.raw)
        elif not isinstance(row, dict):
            yield location, BadRow(RecordError(location, "<row>", "expected an object"), row)
        else:
            yield location, row
