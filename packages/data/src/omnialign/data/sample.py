"""The one modality-agnostic sample every task and every model family consumes.

A record of any schema becomes a `Sample`: a conversation of chat messages whose content parts are typed
(text, image, audio, video), zero, one or two candidate responses (prompt-only, SFT, preference pair), and
labels. Media stay references until a processor asks for pixels or waveforms, so building a dataset of
200k video pairs reads no video.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from omnialign.data.errors import RecordLocation

Modality = Literal["text", "image", "audio", "video"]
Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True)
class MediaRef:
    """A lazily decoded media item: a path on disk or embedded bytes (HF `Image` features carry bytes)."""

    modality: Literal["image", "audio", "video"]
    path: str | None = None
    data: bytes | None = None
    location: RecordLocation | None = None

    def __post_init__(self) -> None:
        if (self.path is None) == (self.data is None):
            raise ValueError("MediaRef needs exactly one of path or data")

    def describe(self) -> str:
        return self.path if self.path is not None else f"<{len(self.data or b'')} embedded bytes>"


@dataclass(frozen=True)
class Part:
    """One content part of a message: text, or a media reference."""

    type: Modality
    text: str | None = None
    media: MediaRef | None = None

    @staticmethod
    def of_text(text: str) -> Part:
        return Part("text", text=text)

    @staticmethod
    def of_media(ref: MediaRef) -> Part:
        return Part(ref.modality, media=ref)


@dataclass(frozen=True)
class Message:
    role: Role
    parts: tuple[Part, ...]

    @property
    def text(self) -> str:
        """The text parts joined, for text-only models and logging."""
        return "".join(p.text or "" for p in self.parts if p.type == "text")

    def media(self) -> tuple[MediaRef, ...]:
        return tuple(p.media for p in self.parts if p.media is not None)


@dataclass
class Sample:
    """A prompt (conversation so far), candidate responses, and labels.

    `responses` holds 0 parts-lists for prompt-only tasks (RL rollouts, eval), 1 for SFT, 2 for a pair.
    `labels` holds task labels under documented keys (see `LabelKey`); `meta` keeps provenance so any
    output row can be traced back to its source row.
    """

    prompt: tuple[Message, ...]
    responses: tuple[tuple[Part, ...], ...] = ()
    labels: dict[str, Any] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    def origin(self) -> str:
        """`file, row N` when the sample came from a record, for error messages."""
        if "source" in self.meta and "row" in self.meta:
            return str(RecordLocation(self.meta["source"], self.meta["row"]))
        return "in-memory sample"

    def prompt_media(self) -> tuple[MediaRef, ...]:
        return tuple(ref for message in self.prompt for ref in message.media())


class LabelKey:
    """Canonical label names, so every schema and every objective agree on spelling."""

    CHOSEN = "chosen"  # int: index of the preferred response under the selected dimension
    SAFER = "safer"  # int: index of the safer response (Safe RLHF, SafeSora harmlessness)
    IS_SAFE = "is_safe"  # tuple[bool, ...]: per-response safety
    DIMENSIONS = "dimensions"  # dict[str, int]: per-dimension preferred index (align-anything, SafeSora)
    HARM_LABELS = "harm_labels"  # dict[str, bool]: SafeSora's 12 categories
