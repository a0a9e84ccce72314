"""What a converter needs besides the record: where media live, which label to pick, whether to decode now.

Converters share this so every schema resolves media paths and selects preference dimensions the same way.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from omnialign.data.errors import LabelError, MediaError, RecordLocation
from omnialign.data.records.fields import Record
from omnialign.data.sample import MediaRef, Part

MediaModality = Literal["image", "audio", "video"]


def _pil_to_png(image: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


@dataclass(frozen=True)
class Context:
    """Per-record conversion settings.

    `media_root` is the directory relative media paths are resolved against: the caller's `media_root`,
    or else the directory of the data file (datasets ship paths relative to their own folder).
    `explicit_root` says the caller named `media_root`, so layouts keyed by ids (SafeSora's
    `<prompt_id>/<video_id>.mp4`) apply. `dimension` names the preference dimension that
    `LabelKey.CHOSEN` is taken from.
    """

    location: RecordLocation
    media_root: Path
    dimension: str
    verify_media: bool = False
    explicit_root: bool = False

    def resolve(self, path: str) -> str:
        candidate = Path(path)
        return str(candidate if candidate.is_absolute() else self.media_root / candidate)

    def media(self, value: Any, modality: MediaModality, field: str) -> MediaRef:
        """Turn a validated media value into a `MediaRef`; with `verify_media`, decode it now."""
        ref = self._ref(value, modality)
        if self.verify_media:
            from omnialign.data.media import verify

            try:
                verify(ref)
            except MediaError as exc:
                raise MediaError(exc.path, exc.problem, self.location, field) from exc
        return ref

    def media_part(self, value: Any, modality: MediaModality, field: str) -> Part:
        return Part.of_media(self.media(value, modality, field))

    def _ref(self, value: Any, modality: MediaModality) -> MediaRef:
        if isinstance(value, str):
            return MediaRef(modality, path=self.resolve(value), location=self.location)
        if isinstance(value, bytes):
            return MediaRef(modality, data=value, location=self.location)
        if isinstance(value, Mapping):  # HF Image/Audio feature storage: embedded bytes win over a path
            if value.get("bytes") is not None:
                return MediaRef(modality, data=value["bytes"], location=self.location)
            return MediaRef(modality, path=self.resolve(value["path"]), location=self.location)
        return MediaRef(modality, data=_pil_to_png(value), location=self.location)  # a decoded PIL image


def pick_dimension(
    preferences: Mapping[str, int | None], dimension: str, field: str, location: RecordLocation
) -> int:
    """The preferred index under `dimension`, or `LabelError` when that label is missing or a tie (-1)."""
    chosen = preferences[dimension]
    if chosen is None:
        raise LabelError(location, field, f"no preference under dimension '{dimension}' (label missing)")
    if chosen < 0:
        raise LabelError(location, field, f"no preference under dimension '{dimension}' (tie)")
    return chosen


def base_meta(record: Record, schema_name: str) -> dict[str, Any]:
    """Provenance every sample carries: where it came from and the full validated record."""
    return {
        "schema": schema_name,
        "source": record.location.source,
        "row": record.location.row,
        "fields": record.fields,
        "extras": record.extras,
    }
