"""The same rows read from every container (json, json.gz, jsonl, parquet, HF folder) load alike."""

from __future__ import annotations

import pytest

from omnialign.data.fixtures import write_fixture, write_rows
from omnialign.data.media import load_image
from omnialign.data.records import load_samples
from omnialign.data.sample import LabelKey

CONTAINERS = ("json", "json.gz", "jsonl", "parquet", "hf")


def _summary(sample):
    return (
        [m.text for m in sample.prompt],
        [[(p.type, p.text, p.media.path if p.media else None) for p in r] for r in sample.responses],
        sample.labels,
    )


@pytest.mark.parametrize("name", ["pku-saferlhf", "safesora/pairs", "align-anything/text-image-to-text"])
def test_every_container_gives_the_same_samples(tmp_path, name):
    fixture = write_fixture(tmp_path, name, rows=3)
    # copies live elsewhere, so media are located through media_root (SafeSora: its video directory)
    media_root = fixture.path.parent / ("videos" if name == "safesora/pairs" else "")
    expected = [_summary(s) for s in load_samples(fixture.path, name).samples]
    for container in CONTAINERS:
        path = write_rows(fixture.rows, tmp_path / "copies" / container.replace(".", "_"), container)
        result = load_samples(path, name, media_root=media_root)
        assert [_summary(s) for s in result.samples] == expected, container
        assert result.report.kept == 3


def test_hf_folder_with_splits(tmp_path):
    import datasets

    fixture = write_fixture(tmp_path, "pku-saferlhf", rows=3)
    splits = datasets.DatasetDict(
        train=datasets.Dataset.from_list(fixture.rows[:2]), test=datasets.Dataset.from_list(fixture.rows[2:])
    )
    splits.save_to_disk(str(tmp_path / "hf"))
    test = load_samples(tmp_path / "hf", "pku-saferlhf", split="test")
    assert test.report.read == 1
    assert test.samples[0].labels[LabelKey.CHOSEN] == fixture.rows[2]["better_response_id"]


def test_embedded_image_bytes_from_parquet(tmp_path):
    """HF Image features store `{bytes, path}`; embedded bytes become an in-memory MediaRef."""
    fixture = write_fixture(tmp_path, "align-anything/text-image-to-text", rows=2)
    rows = [dict(r) for r in fixture.rows]
    for row in rows:
        row["image"] = {"bytes": (fixture.path.parent / row["image"]).read_bytes(), "path": None}
    path = write_rows(rows, tmp_path / "embedded", "parquet")
    rejects = tmp_path / "rejects.jsonl"
    result = load_samples(path, fixture.format, verify_media=True, on_invalid="skip", rejects_path=rejects)
    assert result.report.kept == 2 and rejects.read_text() == ""
    ref = result.samples[0].prompt_media()[0]
    assert ref.path is None and load_image(ref).size == (32, 32)
