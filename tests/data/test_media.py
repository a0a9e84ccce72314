"""Media decoding from real files: exact frame counts and sizes, audio at the target rate, RGB images."""

from __future__ import annotations

import av
import numpy as np
import pytest
from PIL import Image

from omnialign.data.errors import MediaError, RecordLocation
from omnialign.data.fixtures.malformed import corrupt
from omnialign.data.fixtures.media_files import sine, write_image, write_mp4, write_wav
from omnialign.data.media import frame_indices, load_audio, load_image, load_video, resample, verify
from omnialign.data.sample import MediaRef


def _bar_rows(video: np.ndarray) -> list[int]:
    """The brightest row of each frame: the fixture draws frame i's bar at row i * height / frames."""
    return [int(frame.mean(axis=(1, 2)).argmax()) for frame in video]


def _peak_hz(wave: np.ndarray, rate: int) -> float:
    return float(np.argmax(np.abs(np.fft.rfft(wave)))) * rate / len(wave)


@pytest.fixture
def mp4(tmp_path):
    """8 frames, 32x32, frame i has a bright bar at row 4 * i."""
    return write_mp4(tmp_path / "clip.mp4", 0.4, np.random.default_rng(0), frames=8, size=32)


def test_frame_indices_are_uniform_and_exactly_n():
    """Centres of N equal segments: 8 frames, N=4 → 1, 3, 5, 7; 3 frames, N=5 → 0, 0, 1, 2, 2."""
    assert frame_indices(8, 4).tolist() == [1, 3, 5, 7]
    assert frame_indices(3, 5).tolist() == [0, 0, 1, 2, 2]
    assert frame_indices(100, 1).tolist() == [50]


def test_video_samples_exactly_n_frames_of_requested_size(mp4):
    video = load_video(MediaRef("video", path=str(mp4)), num_frames=4, size=(16, 24))
    assert video.shape == (4, 16, 24, 3) and video.dtype == np.uint8
    assert _bar_rows(video) == [2, 6, 10, 14]  # frames 1, 3, 5, 7 at half height


def test_video_more_frames_than_stream_repeats_in_order(mp4):
    video = load_video(MediaRef("video", path=str(mp4)), num_frames=12)
    assert video.shape == (12, 32, 32, 3)
    rows = _bar_rows(video)
    assert rows == sorted(rows) and len(set(rows)) == 8


def test_video_from_embedded_bytes(mp4):
    video = load_video(MediaRef("video", data=mp4.read_bytes()), num_frames=2)
    assert _bar_rows(video) == [8, 24]


def test_video_without_declared_frame_count(tmp_path):
    """A raw MPEG-4 stream declares no frame count; frames are counted so sampling stays uniform."""
    path = tmp_path / "raw.m4v"
    with av.open(str(path), "w", format="m4v") as container:
        stream = container.add_stream("mpeg4", rate=8)
        stream.width = stream.height = 32
        stream.pix_fmt = "yuv420p"
        for index in range(8):
            pixels = np.full((32, 32, 3), 100, np.uint8)
            pixels[4 * index] = 255
            container.mux(stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")))
        container.mux(stream.encode(None))
    assert _bar_rows(load_video(MediaRef("video", path=str(path)), num_frames=4)) == [4, 12, 20, 28]


def test_corrupt_and_missing_video_name_the_file(mp4, tmp_path):
    location = RecordLocation("data.json", 7)
    bad = corrupt(mp4, keep=200)
    for ref in (
        MediaRef("video", path=str(bad), location=location),
        MediaRef("video", path=str(tmp_path / "no.mp4")),
    ):
        with pytest.raises(MediaError) as caught:
            load_video(ref, num_frames=4)
        assert caught.value.path == ref.path and ref.path in str(caught.value)
    with pytest.raises(MediaError, match=r"data\.json, row 7"):
        verify(MediaRef("video", path=str(bad), location=location))


@pytest.mark.parametrize("target", [8_000, 16_000, 22_050, 44_100])
def test_audio_arrives_at_target_rate(tmp_path, target):
    """0.25 s of 440 Hz written at 16 kHz: length is 0.25 * target and the tone stays at 440 Hz."""
    path = write_wav(tmp_path / "tone.wav", 440.0, rate=16_000, seconds=0.25)
    wave = load_audio(MediaRef("audio", path=str(path)), sample_rate=target)
    assert wave.dtype == np.float32 and wave.ndim == 1
    assert abs(len(wave) - target // 4) <= 2
    assert abs(_peak_hz(wave, target) - 440.0) < 8.0
    assert 0.4 < np.abs(wave).max() < 0.6


def test_downsampling_removes_tones_above_the_new_nyquist():
    """A 6 kHz tone resampled to 8 kHz (Nyquist 4 kHz) must be filtered out, not aliased to 2 kHz."""
    wave = resample(sine(6_000.0, rate=16_000, seconds=0.5), 16_000, 8_000)
    assert np.abs(wave[200:-200]).max() < 0.05


def test_audio_keeps_channels_when_not_mono(tmp_path):
    import soundfile

    path = tmp_path / "stereo.wav"
    soundfile.write(path, np.stack([sine(440.0), sine(880.0)], axis=1), 16_000)
    wave = load_audio(MediaRef("audio", path=str(path)), sample_rate=8_000, mono=False)
    assert wave.shape == (2, 2_000)
    assert [round(_peak_hz(channel, 8_000)) for channel in wave] == [440, 880]


def test_audio_falls_back_to_pyav_for_containers_libsndfile_cannot_read(tmp_path):
    path = tmp_path / "tone.m4a"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("aac", rate=16_000)
        stream.layout = "mono"
        frame = av.AudioFrame.from_ndarray(sine(440.0, seconds=0.5)[None, :], format="fltp", layout="mono")
        frame.sample_rate, frame.pts = 16_000, 0
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            container.mux(packet)
    wave = load_audio(MediaRef("audio", path=str(path)), sample_rate=8_000)
    assert 4_000 <= len(wave) <= 4_000 + 1_024  # AAC adds encoder padding, at most one frame
    assert abs(_peak_hz(wave, 8_000) - 440.0) < 8.0


def test_corrupt_audio_names_the_file(tmp_path):
    path = corrupt(write_wav(tmp_path / "tone.wav", 440.0))
    with pytest.raises(MediaError, match=r"tone\.wav"):
        load_audio(MediaRef("audio", path=str(path)), sample_rate=16_000)


@pytest.mark.parametrize("suffix", [".png", ".jpg"])
def test_image_is_rgb_and_resized(tmp_path, suffix):
    path = write_image(tmp_path / f"img{suffix}", 0.8, np.random.default_rng(0), size=32)
    image = load_image(MediaRef("image", path=str(path)), size=(16, 8))
    assert image.mode == "RGB" and image.size == (8, 16)
    assert abs(np.asarray(image).mean() - 0.8 * 255) < 10


def test_grayscale_and_embedded_images_become_rgb(tmp_path):
    path = tmp_path / "gray.png"
    Image.fromarray(np.full((4, 6), 50, np.uint8), mode="L").save(path)
    for ref in (MediaRef("image", path=str(path)), MediaRef("image", data=path.read_bytes())):
        pixels = np.asarray(load_image(ref))
        assert pixels.shape == (4, 6, 3) and (pixels == 50).all()


def test_missing_and_corrupt_images_name_the_file(tmp_path):
    missing = tmp_path / "none.png"
    with pytest.raises(MediaError, match="file not found") as caught:
        load_image(MediaRef("image", path=str(missing)))
    assert caught.value.path == str(missing)
    bad = corrupt(write_image(tmp_path / "bad.png", 0.5, np.random.default_rng(0)))
    with pytest.raises(MediaError, match=r"bad\.png"):
        load_image(MediaRef("image", path=str(bad)))
