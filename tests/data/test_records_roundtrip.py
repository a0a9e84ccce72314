"""Every record format: the fixture loads, row counts match, every field survives, labels are right."""

from __future__ import annotations

from pathlib import Path

import pytest

from omnialign.data.errors import RecordError
from omnialign.data.fixtures import MARKER, SPECS, write_fixture, write_fixtures
from omnialign.data.fixtures.malformed import rewrite
from omnialign.data.records import SCHEMAS, get_schema, load_samples
from omnialign.data.records.align_anything import SUBSETS
from omnialign.data.records.safesora import HARM_LABELS
from omnialign.data.sample import LabelKey

ROWS = 4


def _present(value):
    """Drop the `None`s validation records for absent optional nested fields, to compare with the source."""
    if isinstance(value, dict):
        return {k: _present(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_present(v) for v in value]
    return value


@pytest.fixture(scope="module")
def fixtures(tmp_path_factory):
    return write_fixtures(tmp_path_factory.mktemp("fixtures"), rows=ROWS, seed=3)


def test_every_format_has_a_fixture():
    assert set(SPECS) == set(SCHEMAS)


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_fixture_round_trips(fixtures, name):
    """Counts match and each declared field of each row comes back unchanged in `meta['fields']`."""
    fixture = fixtures[name]
    result = load_samples(fixture.path, name, verify_media=True)
    assert (result.report.read, result.report.kept, len(result.report.skips)) == (ROWS, ROWS, 0)
    declared = get_schema(name).field_set.field_names()
    for row, sample in zip(fixture.rows, result.samples, strict=True):
        assert set(row) <= set(declared), "fixtures use only declared field names"
        for key, value in row.items():
            assert _present(sample.meta["fields"][key]) == value, key
        assert all(sample.meta["fields"][key] is None for key in set(declared) - set(row))
        assert sample.meta["extras"] == {}
        assert sample.meta["source"] == str(fixture.path)


@pytest.mark.parametrize("subset", sorted(SUBSETS))
def test_align_anything_labels_and_parts(fixtures, subset):
    name = f"align-anything/{subset}"
    spec = SUBSETS[subset]
    samples = load_samples(fixtures[name].path, name).samples
    for row, sample in zip(fixtures[name].rows, samples, strict=True):
        chosen = row[spec.overall_field] - 1
        assert sample.labels[LabelKey.CHOSEN] == chosen
        for dim in spec.dimensions:
            assert (
                sample.labels[LabelKey.DIMENSIONS][dim.name] == row[f"{dim.letter}_{spec.label_suffix}"] - 1
            )
        assert [p.type for p in sample.prompt[0].parts] == [m for _, m in spec.inputs] + ["text"]
        assert [[p.type for p in r] for r in sample.responses] == [
            [m or "text" for _, m in spec.responses]
        ] * 2
        for ref in (*sample.prompt_media(), *(p.media for r in sample.responses for p in r if p.media)):
            assert Path(ref.path).is_file()
        text = [p.text for p in sample.responses[chosen] if p.type == "text"]
        assert all(MARKER in t for t in text)


def test_align_anything_selected_dimension(fixtures):
    name = "align-anything/text-to-text"
    result = load_samples(fixtures[name].path, name, dimension="safety")
    assert [s.labels[LabelKey.CHOSEN] for s in result.samples] == [
        r["s_response"] - 1 for r in fixtures[name].rows
    ]


def test_align_anything_text_to_audio_feedback(fixtures):
    name = "align-anything/text-to-audio"
    row, sample = fixtures[name].rows[0], load_samples(fixtures[name].path, name).samples[0]
    assert sample.meta["response_feedback"]["text_{k}_feedback"] == (
        row["text_1_feedback"],
        row["text_2_feedback"],
    )
    assert sample.meta["feedback"]["refine_prompt"] == row["refine_prompt"]
    assert sample.meta["ratings"]["audio_quality"] == (
        row["audio_quality_rate_1"],
        row["audio_quality_rate_2"],
    )


def test_safe_rlhf_labels(fixtures):
    fixture = fixtures["pku-saferlhf"]
    for row, sample in zip(fixture.rows, load_samples(fixture.path, "pku-saferlhf").samples, strict=True):
        assert sample.labels[LabelKey.CHOSEN] == row["better_response_id"]
        assert sample.labels[LabelKey.SAFER] == row["safer_response_id"]
        assert sample.labels[LabelKey.IS_SAFE] == (row["is_response_0_safe"], row["is_response_1_safe"])
        assert sample.meta["provenance"] == (row["response_0_source"], row["response_1_source"])
    safer = load_samples(fixture.path, "pku-saferlhf", dimension="safer").samples
    assert [s.labels[LabelKey.CHOSEN] for s in safer] == [r["safer_response_id"] for r in fixture.rows]


def test_safesora_pairs_labels_and_video_paths(fixtures):
    fixture = fixtures["safesora/pairs"]
    by_config = load_samples(fixture.path, "safesora/pairs").samples
    by_root = load_samples(fixture.path, "safesora/pairs", media_root=fixture.path.parent / "videos").samples
    for row, sample, rooted in zip(fixture.rows, by_config, by_root, strict=True):
        assert sample.labels[LabelKey.CHOSEN] == int(row["helpfulness"][-1])
        assert sample.labels[LabelKey.SAFER] == int(row["harmlessness"][-1])
        assert sample.labels[LabelKey.DIMENSIONS]["information"] == int(
            row["sub_preferences"]["information"][-1]
        )
        assert sample.meta["ids"]["pair_id"] == row["pair_id"]
        paths = [r[0].media.path for r in sample.responses]
        assert paths == [r[0].media.path for r in rooted.responses]
        assert paths[1].endswith(f"{row['prompt_id']}/{row['video_1']['video_id']}.mp4")


def test_safesora_labels_and_eval(fixtures):
    labels = fixtures["safesora/labels"]
    for row, sample in zip(labels.rows, load_samples(labels.path, "safesora/labels").samples, strict=True):
        assert sample.labels[LabelKey.IS_SAFE] == (row["is_safe"],)
        assert sample.labels[LabelKey.HARM_LABELS] == row["video_labels"]
        assert set(sample.labels[LabelKey.HARM_LABELS]) == set(HARM_LABELS)
        assert sample.responses[0][0].type == "video"
    evals = fixtures["safesora/eval"]
    for sample in load_samples(evals.path, "safesora/eval").samples:
        assert sample.responses == ()
        assert set(sample.labels[LabelKey.HARM_LABELS]) == set(HARM_LABELS)


def test_sft_flat_and_chat(fixtures):
    fixture = fixtures["sft"]
    flat, chat = load_samples(fixture.path, "sft").samples[:2]
    assert flat.prompt[-1].role == "user" and flat.responses[0][0].text == fixture.rows[0]["response"]
    assert [m.role for m in chat.prompt] == ["system", "user"]
    assert [p.type for p in chat.prompt[1].parts] == ["image", "text"]
    assert chat.responses[0][0].text == fixture.rows[1]["messages"][-1]["content"]


def test_prompts_cover_every_input_modality(fixtures):
    samples = load_samples(fixtures["prompts"].path, "prompts").samples
    kinds = {p.type for s in samples for p in s.prompt[0].parts}
    assert kinds == {"text", "image", "audio", "video"}
    assert all(s.responses == () for s in samples)


def test_aliases_are_normalised(tmp_path):
    """Older spellings load under the canonical name: SafeSora `informativeness`, `question` for `prompt`."""
    fixture = write_fixture(tmp_path, "safesora/pairs", rows=1)
    row = fixture.rows[0]
    row["sub_preferences"]["informativeness"] = row["sub_preferences"].pop("information")

    sample = load_samples(rewrite(fixture, [row]).path, "safesora/pairs").samples[0]
    assert (
        sample.meta["fields"]["sub_preferences"]["information"] == row["sub_preferences"]["informativeness"]
    )


def test_safesora_bare_video_ids_need_the_video_directory(tmp_path):
    """A pair may name its videos by id only; they are found at `<media_root>/<prompt_id>/<video_id>.mp4`."""
    fixture = write_fixture(tmp_path, "safesora/pairs", rows=2)
    rows = [
        r | {"video_0": r["video_0"]["video_id"], "video_1": r["video_1"]["video_id"]} for r in fixture.rows
    ]
    bare = rewrite(fixture, rows)
    result = load_samples(bare.path, bare.format, media_root=bare.path.parent / "videos", verify_media=True)
    assert result.report.kept == 2
    assert result.samples[0].meta["ids"]["video_ids"] == (rows[0]["video_0"], rows[0]["video_1"])
    assert result.samples[0].labels[LabelKey.IS_SAFE] is None  # safety labels live in the video records
    with pytest.raises(RecordError, match="pass media_root"):
        load_samples(bare.path, bare.format)
