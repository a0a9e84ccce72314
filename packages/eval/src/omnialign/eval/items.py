"""Eval-task rows: a prompt of any modalities plus what the task family scores against.

One JSONL row per item: `id`, `prompt` (text), optional `system` (a system turn before the prompt: the context
a task gives the model, which the models under evaluation and every judge see), optional
`image`/`audio`/`video` paths (relative to the file), and per family `reference` (understanding), `modality`
(the output modality a generation instruction asks for), `votes` (modality selection: how many people chose
each output modality or `+`-joined combination), an optional `category` for per-category breakdowns, and
optional `labels` (per-item ground truth a rule judge checks answers against, e.g. the value an answer must
give). Unknown keys are errors, as in the configs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from omnialign.data.sample import MediaRef, Message, Part, Sample

MEDIA = ("image", "audio", "video")
Response = tuple[Part, ...]
"""A model's answer: content parts of any modality."""


@dataclass(frozen=True)
class EvalItem:
    id: str
    prompt: str
    system: str | None = None
    image: str | None = None
    audio: str | None = None
    video: str | None = None
    reference: str | None = None
    modality: str | None = None
    votes: dict[str, float] | None = None
    category: str = "all"
    labels: dict[str, str] | None = None

    def sample(self, root: Path) -> Sample:
        """The prompt as a conversation: the system turn if there is one, then one user turn with the media
        parts first and the text last."""
        parts = [
            Part.of_media(MediaRef(kind, path=str(root / path)))
            for kind in MEDIA
            if (path := getattr(self, kind)) is not None
        ]
        system = (Message("system", (Part.of_text(self.system),)),) if self.system is not None else ()
        message = Message("user", (*parts, Part.of_text(self.prompt)))
        return Sample(prompt=(*system, message), meta={"id": self.id})

    def inputs(self) -> dict[str, Any]:
        """What the per-sample log shows of the input."""
        shown = {"prompt": self.prompt, **{k: getattr(self, k) for k in MEDIA if getattr(self, k)}}
        optional = {k: getattr(self, k) for k in ("system", "reference", "labels")}
        return shown | {k: v for k, v in optional.items() if v is not None}


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
