"""Samples back to records: the inverse of the converters, for stages that write datasets.

Generated datasets (LLF feedback data and preference pairs, best-of-N rewrites) are written in OmniAlign's
own formats (`sft`, `preference`), so the training stages read them with the same loaders, validation and
error reports as any published dataset, without glue. Media stay files: a path is written relative to the
output folder when it lies inside it (the dataset can move with its media) and absolute otherwise; embedded
bytes (HF `Image` features) are written once under `<output folder>/media/`, named by content hash.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from omnialign.data.sample import MediaRef, Message, Part

SUFFIXES = {"image": ".png", "audio": ".wav", "video": ".mp4"}
"""File suffix for embedded media written out; the decoders read the container from the content."""


class MediaWriter:
    """Turns media references into values a record written under `root` can hold."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).resolve()

    def value(self, ref: MediaRef) -> str:
        if ref.path is not None:
            path = Path(ref.path).resolve()
            return str(path.relative_to(self.root)) if path.is_relative_to(self.root) else str(path)
        data = ref.data or b""
        relative = Path("media") / f"{hashlib.sha256(data).hexdigest()}{SUFFIXES[ref.modality]}"
        target = self.root / relative
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_suffix(target.suffix + ".partial")
            partial.write_bytes(data)
            os.replace(partial, target)
        return str(relative)


def part_row(part: Part, media: MediaWriter) -> dict[str, Any]:
    if part.type == "text":
        return {"type": "text", "text": part.text or ""}
    if part.media is None:
        raise ValueError(f"a {part.type} part without media cannot be written")
    return {"type": part.type, part.type: media.value(part.media)}


def content_row(parts: tuple[Part, ...], media: MediaWriter) -> str | list[dict[str, Any]]:
    """Plain text stays a string (the common case reads naturally); anything with media is a part list."""
    if all(part.type == "text" for part in parts):
        return "".join(part.text or "" for part in parts)
    return [part_row(part, media) for part in parts]


def messages_row(messages: tuple[Message, ...], media: MediaWriter) -> list[dict[str, Any]]:
    return [{"role": m.role, "content": content_row(m.parts, media)} for m in messages]


def sft_row(
    row_id: str, prompt: tuple[Message, ...], response: tuple[Part, ...], media: MediaWriter
) -> dict[str, Any]:
    """An `sft` record in chat form: the prompt's turns, then the response as the assistant's turn."""
    assistant = Message("assistant", response)
    return {"id": row_id, "messages": messages_row((*prompt, assistant), media)}


def preference_row(
    row_id: str,
    prompt: tuple[Message, ...],
    chosen: tuple[Part, ...],
    rejected: tuple[Part, ...],
    media: MediaWriter,
    provenance: dict[str, Any],
) -> dict[str, Any]:
    """A `preference` record: the prompt in chat form, both responses, and where they came from."""
    return {
        "id": row_id,
        "messages": messages_row(prompt, media),
        "chosen": content_row(chosen, media),
        "rejected": content_row(rejected, media),
        "provenance": provenance,
    }
