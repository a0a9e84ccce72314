"""A preference datamodule without `dimension` takes the record format's own default (the first dimension the
format declares), so a recipe for any format works without naming one; a name the format lacks fails when
the datamodule is built, naming the format and its dimensions (issue #19: `configs/dpo/tiny-safe-rlhf.yaml`
stopped at setup because the datamodules defaulted to align-anything's `overall`)."""

from __future__ import annotations

import pytest

from omnialign.data.datamodules.media_preference import MediaPreferenceDataModule
from omnialign.data.datamodules.preference import PreferenceDataModule
from omnialign.data.fixtures import write_fixture
from omnialign.data.records import get_schema
from omnialign.data.sample import LabelKey

CASES = [
    ("pku-saferlhf", "better", "better_response_id"),
    ("safesora/pairs", "helpfulness", "helpfulness"),
]


def test_every_preference_format_declares_a_default_dimension():
    for name in ("pku-saferlhf", "safesora/pairs", "preference", "align-anything/text-to-text"):
        fmt = get_schema(name)
        assert fmt.default_dimension == fmt.dimensions[0]
    assert get_schema("align-anything/text-to-image").default_dimension == "overall"


@pytest.mark.parametrize(("schema", "default", "field"), CASES, ids=[c[0] for c in CASES])
def test_no_dimension_means_the_formats_default(tmp_path, schema, default, field):
    fixture = write_fixture(tmp_path, schema, rows=6, seed=0)
    data = PreferenceDataModule([str(fixture.path)], schema=schema)
    assert data.load_options() == {"dimension": None}
    samples = data._load("train", data.train_files)
    expected = [row[field] for row in fixture.rows]
    if schema == "safesora/pairs":
        expected = [int(value.removeprefix("video_")) for value in expected]
    assert [s.labels[LabelKey.CHOSEN] for s in samples] == expected
    explicit = PreferenceDataModule([str(fixture.path)], schema=schema, dimension=default)
    assert [s.labels[LabelKey.CHOSEN] for s in explicit._load("train", explicit.train_files)] == expected


@pytest.mark.parametrize("module", [PreferenceDataModule, MediaPreferenceDataModule])
def test_an_unknown_dimension_fails_when_the_datamodule_is_built(module):
    named = r"schema 'pku-saferlhf' has no preference dimension 'overall'.*better.*safer"
    with pytest.raises(ValueError, match=named):
        module(["unread.jsonl"], schema="pku-saferlhf", dimension="overall")
    with pytest.raises(ValueError, match="unknown record schema"):
        module(["unread.jsonl"], schema="pku-safe-rlhf")
