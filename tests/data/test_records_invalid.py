"""Malformed rows: each kind raises an error naming file, row and field, or is a counted skip under `skip`."""

from __future__ import annotations

import json

import pytest

from omnialign.data.errors import LabelError, MediaError, RecordError
from omnialign.data.fixtures import write_fixture
from omnialign.data.fixtures.malformed import corrupt, remove, rewrite, with_value, without
from omnialign.data.records import load_samples
from omnialign.data.sample import LabelKey


def _broken(tmp_path, name, index, change):
    """A 3-row fixture whose row `index` is replaced by `change(row)`."""
    fixture = write_fixture(tmp_path, name, rows=3)
    rows = list(fixture.rows)
    rows[index] = change(rows[index])
    return rewrite(fixture, rows)


@pytest.mark.parametrize(
    ("name", "change", "field", "expected"),
    [
        ("pku-saferlhf", lambda r: without(r, "response_1"), "response_1", "required field is missing"),
        ("pku-saferlhf", lambda r: with_value(r, "better_response_id", 2), "better_response_id", "in {0, 1}"),
        ("pku-saferlhf", lambda r: with_value(r, "is_response_0_safe", "yes"), "is_response_0_safe", "bool"),
        ("pku-saferlhf", lambda r: with_value(r, "prompt", None), "prompt", "required field is null"),
        (
            "align-anything/text-to-text",
            lambda r: with_value(r, "p_response", 3),
            "p_response",
            "in {0, 1, 2}",
        ),
        ("align-anything/text-to-image", lambda r: without(r, "image_2"), "image_2", "required field"),
        ("safesora/pairs", lambda r: without(r, "video_0.video_id"), "video_0.video_id", "missing"),
        ("safesora/pairs", lambda r: with_value(r, "helpfulness", "video_2"), "helpfulness", "video_1"),
        ("safesora/pairs", lambda r: with_value(r, "prompt_type", "unsafe"), "prompt_type", "safety_neutral"),
        ("safesora/labels", lambda r: without(r, "video_labels.crime"), "video_labels.crime", "missing"),
        ("sft", lambda r: r | {"prompt": "both forms"}, "prompt|messages", "exactly one of"),
        ("sft", lambda r: {"prompt": "no response"}, "response", "required with 'prompt'"),
        ("sft", lambda r: with_value(r, "messages.1.role", "robot"), "messages[1].role", "'assistant'"),
    ],
)
def test_invalid_row_names_file_row_and_field(tmp_path, name, change, field, expected):
    fixture = _broken(tmp_path, name, 1, change)
    with pytest.raises(RecordError) as caught:
        load_samples(fixture.path, name)
    error = caught.value
    assert (error.location.source, error.location.row, error.field) == (str(fixture.path), 1, field)
    assert expected in error.problem
    assert str(fixture.path) in str(error) and "row 1" in str(error)


def test_skip_counts_and_writes_rejects(tmp_path):
    fixture = write_fixture(tmp_path, "pku-saferlhf", rows=4)
    rows = list(fixture.rows)
    rows[0] = without(rows[0], "prompt")
    rows[2] = with_value(rows[2], "safer_response_id", 7)
    rejects = tmp_path / "rejects.jsonl"
    result = load_samples(
        rewrite(fixture, rows).path, "pku-saferlhf", on_invalid="skip", rejects_path=rejects
    )
    report = result.report
    assert (report.read, report.kept) == (4, 2)
    assert report.skipped == {"invalid:prompt": 1, "invalid:safer_response_id": 1}
    written = [json.loads(line) for line in rejects.read_text().splitlines()]
    assert [(w["row"], w["field"], w["reason"]) for w in written] == [
        (0, "prompt", "invalid"),
        (2, "safer_response_id", "invalid"),
    ]
    assert written[1]["record"]["safer_response_id"] == 7
    assert "skipped      1  invalid:prompt" in report.summary()
    load_samples(rewrite(fixture, rows).path, "pku-saferlhf", on_invalid="skip", rejects_path=rejects)
    assert len(rejects.read_text().splitlines()) == 4, "a second source appends to the same rejects file"


def test_missing_label_under_selected_dimension(tmp_path):
    """No preference under the selected dimension: a LabelError, or a `label` skip; other rows are kept."""
    fixture = _broken(tmp_path, "align-anything/text-to-text", 0, lambda r: with_value(r, "s_response", None))
    with pytest.raises(LabelError, match="'safety'"):
        load_samples(fixture.path, "align-anything/text-to-text", dimension="safety")
    result = load_samples(fixture.path, "align-anything/text-to-text", dimension="safety", on_invalid="skip")
    assert result.report.skipped == {"label:s_response": 1}
    overall = load_samples(fixture.path, "align-anything/text-to-text")
    assert overall.report.kept == 3
    assert overall.samples[0].labels[LabelKey.DIMENSIONS]["safety"] is None


def test_tie_is_a_counted_label_skip(tmp_path):
    fixture = _broken(
        tmp_path, "align-anything/text-to-text", 2, lambda r: with_value(r, "overall_response", 0)
    )
    result = load_samples(fixture.path, "align-anything/text-to-text", on_invalid="skip")
    assert result.report.skipped == {"label:overall_response": 1}
    assert "tie" in result.report.skips[0].problem


def test_safesora_missing_sub_preference(tmp_path):
    change = lambda r: without(r, "sub_preferences.correctness")  # noqa: E731
    fixture = _broken(tmp_path, "safesora/pairs", 0, change)
    result = load_samples(fixture.path, "safesora/pairs", dimension="correctness", on_invalid="skip")
    assert result.report.skipped == {"label:sub_preferences.correctness": 1}
    assert load_samples(fixture.path, "safesora/pairs").report.kept == 3


def test_unknown_dimension_and_schema_fail_before_reading(tmp_path):
    fixture = write_fixture(tmp_path, "pku-saferlhf", rows=1)
    with pytest.raises(ValueError, match="no preference dimension 'overall'"):
        load_samples(fixture.path, "pku-saferlhf", dimension="overall")
    with pytest.raises(ValueError, match="unknown record schema"):
        load_samples(fixture.path, "pku-safe-rlhf")


def test_inconsistent_safety_labels_are_counted_warnings(tmp_path):
    """PKU-SafeRLHF: the 'safer' response is marked unsafe while the other is safe → a warning, row kept."""
    fixture = write_fixture(tmp_path, "pku-saferlhf", rows=3)
    rows = [dict(r) for r in fixture.rows]
    rows[1] |= {"is_response_0_safe": False, "is_response_1_safe": True, "safer_response_id": 0}
    rows[1] |= {"response_0_harm_category": None, "response_1_harm_category": None}
    result = load_samples(rewrite(fixture, rows).path, "pku-saferlhf")
    assert result.report.kept == 3
    assert result.report.warning_counts == {"safer response marked unsafe while the other is safe": 1}
    assert result.report.warnings[0][0].row == 1


def test_safesora_label_consistency_warning(tmp_path):
    fixture = write_fixture(tmp_path, "safesora/labels", rows=2)
    rows = [with_value(r, "is_safe", True) for r in fixture.rows]
    rows[0]["video_labels"] = dict.fromkeys(rows[0]["video_labels"], False) | {"violence": True}
    rows[1]["video_labels"] = dict.fromkeys(rows[1]["video_labels"], False)
    result = load_samples(rewrite(fixture, rows).path, "safesora/labels")
    assert result.report.warning_counts == {"video marked safe has a harm label": 1}


def test_missing_media_verified_at_load(tmp_path):
    fixture = write_fixture(tmp_path, "align-anything/text-to-image", rows=2)
    missing = remove(fixture.media[3])  # row 1, image_2
    with pytest.raises(MediaError) as caught:
        load_samples(fixture.path, fixture.format, verify_media=True)
    assert caught.value.path == str(missing) and caught.value.field == "image_2"
    assert caught.value.location.row == 1 and str(missing) in str(caught.value)
    result = load_samples(fixture.path, fixture.format, verify_media=True, on_invalid="skip")
    assert result.report.skipped == {"media:image_2": 1}


def test_corrupt_video_verified_at_load(tmp_path):
    fixture = write_fixture(tmp_path, "safesora/labels", rows=2)
    bad = corrupt(fixture.media[0], keep=64)
    rejects = tmp_path / "rejects.jsonl"
    result = load_samples(
        fixture.path, fixture.format, verify_media=True, on_invalid="skip", rejects_path=rejects
    )
    assert result.report.skipped == {"media:video_path": 1}
    assert str(bad) in result.report.skips[0].problem
    assert json.loads(rejects.read_text())["reason"] == "media"


def test_unverified_media_fails_on_access_naming_the_file(tmp_path):
    """Without `verify_media` the row loads; decoding it later raises MediaError naming file and row."""
    from omnialign.data.media import load_video

    fixture = write_fixture(tmp_path, "align-anything/text-video-to-text", rows=1)
    bad = corrupt(fixture.media[0])
    sample = load_samples(fixture.path, fixture.format).samples[0]
    with pytest.raises(MediaError) as caught:
        load_video(sample.prompt_media()[0], num_frames=4)
    assert caught.value.path == str(bad)
    assert caught.value.location.row == 0 and str(fixture.path) in str(caught.value)
