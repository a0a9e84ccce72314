"""The fixture writer: deterministic, fast, and its planted signals are really in the data."""

from __future__ import annotations

import time

import numpy as np

from omnialign.data.fixtures import HARM_TRIGGERS, MARKER, UNSAFE_WORD, write_fixture, write_fixtures
from omnialign.data.media import load_image, load_video
from omnialign.data.records import load_samples
from omnialign.data.sample import LabelKey


def test_same_seed_same_data_other_seed_other_data(tmp_path):
    first = write_fixture(tmp_path / "a", "align-anything/text-to-image", rows=3, seed=5)
    again = write_fixture(tmp_path / "b", "align-anything/text-to-image", rows=3, seed=5)
    other = write_fixture(tmp_path / "c", "align-anything/text-to-image", rows=3, seed=6)
    assert first.rows == again.rows and first.rows != other.rows
    assert [p.read_bytes() for p in first.media] == [p.read_bytes() for p in again.media]


def test_everything_generates_in_a_few_seconds(tmp_path):
    start = time.perf_counter()
    fixtures = write_fixtures(tmp_path, rows=4)
    assert time.perf_counter() - start < 20  # a shared 2-core CI box; locally about 1.5 s
    assert {p.suffix for f in fixtures.values() for p in f.media} == {".png", ".jpg", ".wav", ".mp4"}


def test_text_marker_only_in_chosen_responses(tmp_path):
    fixture = write_fixture(tmp_path, "align-anything/text-to-text", rows=8)
    for sample in load_samples(fixture.path, fixture.format).samples:
        chosen = sample.labels[LabelKey.CHOSEN]
        assert MARKER in sample.responses[chosen][0].text
        assert MARKER not in sample.responses[1 - chosen][0].text


def test_preferred_images_and_videos_are_brighter(tmp_path):
    for name, decode in (
        ("align-anything/text-to-image", load_image),
        ("align-anything/text-to-video", lambda ref: load_video(ref, num_frames=2)),
    ):
        fixture = write_fixture(tmp_path, name, rows=4)
        for sample in load_samples(fixture.path, name).samples:
            means = [np.asarray(decode(r[0].media)).mean() for r in sample.responses]
            assert int(np.argmax(means)) == sample.labels[LabelKey.CHOSEN]


def test_unsafe_word_marks_unsafe_responses(tmp_path):
    fixture = write_fixture(tmp_path, "pku-saferlhf", rows=8)
    for sample in load_samples(fixture.path, fixture.format).samples:
        for response, safe in zip(sample.responses, sample.labels[LabelKey.IS_SAFE], strict=True):
            assert (UNSAFE_WORD in response[0].text) == (not safe)


def test_harm_labels_follow_prompt_words(tmp_path):
    fixture = write_fixture(tmp_path, "safesora/labels", rows=12)
    samples = load_samples(fixture.path, fixture.format).samples
    for sample in samples:
        text = sample.prompt[0].text
        assert {k for k, hit in sample.labels[LabelKey.HARM_LABELS].items() if hit} == {
            k for k, word in HARM_TRIGGERS.items() if word in text
        }
    assert {s.labels[LabelKey.IS_SAFE] for s in samples} == {(True,), (False,)}


def test_without_signal_labels_are_not_planted(tmp_path):
    fixture = write_fixture(tmp_path, "align-anything/text-to-text", rows=24, signal=False)
    samples = load_samples(fixture.path, fixture.format).samples
    agree = [MARKER in s.responses[s.labels[LabelKey.CHOSEN]][0].text for s in samples]
    assert 0 < sum(agree) < len(agree)
