"""Eval-task rows: a prompt of any modalities plus what the task family scores against.

One JSONL row per item: `id`, `prompt` (text), optional `image`/`audio`/`video` paths (relative to the file),
and per family `reference` (understanding), `modality` (the output modality a generation instruction asks
for), `votes` (modality selection: how many people chose each output modality or `+`-joined combination),
and an optional `category` for per-category breakdowns. Unknown keys are errors, as in the configs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from pathlib import Path

from omnialign.data.sample import MediaRef, Message, Part, Sample

MEDIA = ("image", "audio", "video")
Response = tuple[Part, ...]
"""A model's answer: content parts of any modality."""


@dataclass(frozen=True)
class EvalItem:
    id: str
    prompt: str
    image: str | None = None
    audio: str | None = None
    video: str | None = None
    reference: str | None = None
    modality: str | None = None
    votes: dict[str, float] | None = None
    category: str = "all"

    def sample(self, root: Path) -> Sample:
        """The prompt as a one-turn conversation: media parts first, then the text."""
        parts = [
            Part.of_media(MediaRef(kind, path=str(root / path)))
            for kind in MEDIA
            if (path := getattr(self, kind)) is not None
        ]
        message = Message("user", (*parts, Part.of_text(self.prompt)))
        return Sample(prompt=(message,), meta={"id": self.id})

    def inputs(self) -> dict[str, str]:
        """What the per-sample log shows of the input."""
        shown = {"prompt": self.prompt, **{k: getattr(self, k) for k in MEDIA if getattr(self, k)}}
        return shown | ({"reference": self.reference} if self.reference is not None else {})


ALLOWED = {f.name for f in fields(EvalItem)}


def load_items(path: str | Path, limit: int | None = None) -> list[EvalItem]:
    """Read a task's JSONL file; errors name the file, line and offending keys."""
    path = Path(path)
    items = []
    for line_number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        row = json.loads(line)
        unknown = row.keys() - ALLOWED
        if unknown or "id" not in row or "prompt" not in row:
            raise ValueError(
                f"{path}, line {line_number}: needs id and prompt; unknown keys {sorted(unknown)}"
            )
        items.append(EvalItem(**row))
    return items[:limit] if limit is not None else items
