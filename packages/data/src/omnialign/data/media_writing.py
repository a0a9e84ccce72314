"""Generated media to files that the data package's own decoders read back: PNG, MP4 (MPEG-4), WAV.

Stages that generate media (LLF for text-to-image/video/audio, prompt refinement) write their outputs here,
so the pairs they produce are ordinary datasets of media paths. Names are content hashes: the same media is
one file, and a rerun of a stage rewrites nothing.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import av
import numpy as np
import soundfile
from PIL import Image


def _target(directory: Path, payload: bytes, suffix: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    return directory / f"{hashlib.sha256(payload).hexdigest()[:32]}{suffix}"


def _publish(partial: Path, target: Path) -> Path:
    os.replace(partial, target)  # atomic: a reader never sees half a file
    return target


def _as_uint8(values: np.ndarray) -> np.ndarray:
    """Floats in [0, 1] (diffusers' `output_type="np"`) or uint8 → uint8."""
    if values.dtype == np.uint8:
        return values
    return (np.clip(values, 0.0, 1.0) * 255.0).round().astype(np.uint8)


def save_image(pixels: np.ndarray, directory: str | Path) -> Path:
    """`[H, W, 3]` pixels → `<directory>/<hash>.png`."""
    pixels = _as_uint8(pixels)
    target = _target(Path(directory), pixels.tobytes() + str(pixels.shape).encode(), ".png")
    if not target.exists():
        partial = target.with_suffix(".partial.png")
        Image.fromarray(pixels).save(partial)
        _publish(partial, target)
    return target


def save_video(frames: np.ndarray, directory: str | Path, fps: int = 8) -> Path:
    """`[F, H, W, 3]` frames → `<directory>/<hash>.mp4` (MPEG-4; even sizes as yuv420p requires)."""
    frames = _as_uint8(frames)
    target = _target(Path(directory), frames.tobytes() + str(frames.shape).encode(), ".mp4")
    if target.exists():
        return target
    height, width = frames.shape[1] // 2 * 2, frames.shape[2] // 2 * 2
    partial = target.with_suffix(".partial.mp4")
    with av.open(str(partial), mode="w") as container:
        stream = container.add_stream("mpeg4", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for frame in frames:
            image = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame[:height, :width]), format="rgb24")
            container.mux(stream.encode(image))
        container.mux(stream.encode(None))
    return _publish(partial, target)


def save_audio(waveform: np.ndarray, sampling_rate: int, directory: str | Path) -> Path:
    """A mono float waveform → `<directory>/<hash>.wav` (16-bit PCM)."""
    waveform = np.asarray(waveform, dtype=np.float32).reshape(-1)
    target = _target(Path(directory), waveform.tobytes() + str(sampling_rate).encode(), ".wav")
    if not target.exists():
        partial = target.with_suffix(".partial.wav")
        soundfile.write(partial, np.clip(waveform, -1.0, 1.0), sampling_rate, subtype="PCM_16", format="WAV")
        _publish(partial, target)
    return target
