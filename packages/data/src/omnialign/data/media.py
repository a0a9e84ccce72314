"""Decode a `MediaRef` only when a processor asks for pixels or samples.

Images come back as RGB PIL images, audio as float32 samples at the requested rate (soundfile first, PyAV
for containers libsndfile cannot read; resampling through libswresample via PyAV), video as exactly N
uniformly spaced frames, uint8 `[N, H, W, 3]`. Any missing or undecodable file raises `MediaError` naming
the file and, when known, the record that referenced it. Sizes are `(height, width)` throughout.
"""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import av
import numpy as np
import soundfile

from omnialign.data.errors import MediaError
from omnialign.data.sample import MediaRef

if TYPE_CHECKING:
    from PIL import Image

_DECODE_ERRORS = (av.FFmpegError, OSError, ValueError, IndexError)


def _source(ref: MediaRef) -> str | BinaryIO:
    """A fresh readable source: the path (checked to exist, for a clear error) or a new bytes buffer."""
    if ref.data is not None:
        return io.BytesIO(ref.data)
    if not Path(str(ref.path)).is_file():
        raise MediaError(ref.describe(), "file not found", ref.location)
    return str(ref.path)


@contextmanager
def _decoding(ref: MediaRef) -> Iterator[None]:
    """Turn any decoder failure into a `MediaError` naming the file (our own `MediaError`s pass through)."""
    try:
        yield
    except MediaError:
        raise
    except _DECODE_ERRORS as error:
        raise MediaError(ref.describe(), f"cannot decode {ref.modality}: {error}", ref.location) from error


def load_image(ref: MediaRef, size: tuple[int, int] | None = None) -> Image.Image:
    """The image as RGB, resized to `size` (height, width) when given."""
    from PIL import Image

    with _decoding(ref), Image.open(_source(ref)) as opened:  # UnidentifiedImageError is an OSError
        image = opened.convert("RGB")
    if size is not None:
        image = image.resize((size[1], size[0]), Image.Resampling.BICUBIC)
    return image


def resample(wave: np.ndarray, source_rate: int, target_rate: int) -> np.ndarray:
    """Resample a mono float32 signal with libswresample (band-limited, so no aliasing on downsampling)."""
    if source_rate == target_rate:
        return wave.astype(np.float32, copy=False)
    resampler = av.AudioResampler(format="fltp", layout="mono", rate=target_rate)
    frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(wave[None, :], dtype=np.float32), "fltp", "mono")
    frame.sample_rate = source_rate
    frames = resampler.resample(frame) + resampler.resample(None)
    return np.concatenate([f.to_ndarray()[0] for f in frames]).astype(np.float32, copy=False)


def _read_soundfile(ref: MediaRef) -> tuple[np.ndarray, int] | None:
    """`(channels x samples, rate)`, or None when libsndfile does not know the container."""
    try:
        samples, rate = soundfile.read(_source(ref), dtype="float32", always_2d=True)
    except soundfile.LibsndfileError:
        return None
    return samples.T, rate


def _read_av(ref: MediaRef) -> tuple[np.ndarray, int]:
    with _decoding(ref), av.open(_source(ref)) as container:
        stream = container.streams.audio[0]
        rate = stream.rate
        resampler = av.AudioResampler(format="fltp", rate=rate)
        planes = [f.to_ndarray() for frame in container.decode(stream) for f in resampler.resample(frame)]
        planes += [f.to_ndarray() for f in resampler.resample(None)]
    if not planes:
        raise MediaError(ref.describe(), "no audio samples", ref.location)
    return np.concatenate(planes, axis=1), rate


def load_audio(ref: MediaRef, sample_rate: int, mono: bool = True) -> np.ndarray:
    """Float32 samples at `sample_rate`: shape `[T]` when `mono` (channels averaged), else `[C, T]`."""
    decoded = _read_soundfile(ref)
    channels, rate = decoded if decoded is not None else _read_av(ref)
    if mono:
        return resample(channels.mean(axis=0), rate, sample_rate)
    return np.stack([resample(channel, rate, sample_rate) for channel in channels])


def frame_indices(total: int, num_frames: int) -> np.ndarray:
    """`num_frames` indices spread uniformly over `total` frames: the centre of each of N equal segments.

    With fewer frames than asked for, indices repeat, so the count is always exactly `num_frames`.
    """
    return np.minimum(((np.arange(num_frames) + 0.5) * total / num_frames).astype(int), total - 1)


def _rgb(frame: av.VideoFrame, size: tuple[int, int] | None) -> np.ndarray:
    if size is None:
        return frame.to_ndarray(format="rgb24")
    return frame.to_ndarray(format="rgb24", height=size[0], width=size[1])


def _frame_count(ref: MediaRef) -> int:
    """The container's declared frame count; raw streams declare none, so count them by decoding."""
    with av.open(_source(ref)) as container:
        declared = container.streams.video[0].frames
        return declared if declared > 0 else sum(1 for _ in container.decode(video=0))


def _decode_selected(ref: MediaRef, indices: np.ndarray, size: tuple[int, int] | None) -> tuple[list, int]:
    """Decode in order, keeping the frames at `indices`; also returns how many frames were decoded."""
    wanted = Counter(indices.tolist())
    frames: list[np.ndarray] = []
    decoded = 0
    with av.open(_source(ref)) as container:
        for decoded, frame in enumerate(container.decode(video=0), start=1):
            frames += [_rgb(frame, size)] * wanted[decoded - 1]
            if len(frames) == len(indices):
                break
    return frames, decoded


def load_video(ref: MediaRef, num_frames: int, size: tuple[int, int] | None = None) -> np.ndarray:
    """Exactly `num_frames` uniformly spaced RGB frames, uint8 `[N, H, W, 3]`, resized to `size` if given.

    The frame count picks the indices for one decoding pass; if the stream holds fewer frames than its
    container declares, a second pass uses the count actually decoded.
    """
    if num_frames < 1:
        raise ValueError(f"num_frames must be at least 1, got {num_frames}")
    with _decoding(ref):
        total = _frame_count(ref)
        if total == 0:
            raise MediaError(ref.describe(), "no decodable video frames", ref.location)
        frames, decoded = _decode_selected(ref, frame_indices(total, num_frames), size)
        if len(frames) < num_frames:  # fewer frames than declared
            if decoded == 0:
                raise MediaError(ref.describe(), "no decodable video frames", ref.location)
            frames, _ = _decode_selected(ref, frame_indices(decoded, num_frames), size)
    return np.stack(frames)


def _decode_all_video(ref: MediaRef) -> None:
    with _decoding(ref), av.open(_source(ref)) as container:
        count = sum(1 for _ in container.decode(video=0))
    if count == 0:
        raise MediaError(ref.describe(), "no decodable video frames", ref.location)


def verify(ref: MediaRef) -> None:
    """Decode the whole item once (and discard it), so a load can reject unreadable media up front."""
    if ref.modality == "image":
        load_image(ref)
    elif ref.modality == "audio":
        decoded = _read_soundfile(ref)
        if decoded is None:
            _read_av(ref)
    else:
        _decode_all_video(ref)
