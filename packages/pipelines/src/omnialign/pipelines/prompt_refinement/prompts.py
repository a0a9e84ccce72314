"""User prompts for the prompt refiner: text-to-video prompts read from any prompt-only record format.

A text-to-video prompt is plain text, so a prompt carrying media, or spread over several turns, is an error
naming its row rather than being flattened into something the user never wrote. Every prompt gets a stable
id (the record's `id` or SafeSora `prompt_id`, else `file#row`), which keys the resumable journals.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from omnialign.data.sample import Sample
from omnialign.pipelines.sources import RecordSource


@dataclass(frozen=True)
class UserPrompt:
    """One prompt to refine, with where it came from."""

    id: str
    text: str
    source: str | None = None
    row: int | None = None


def prompt_id(sample: Sample) -> str:
    """The record's own id when it has one, else `file#row`."""
    ids = sample.meta.get("ids", {})
    own = ids.get("id") or ids.get("prompt_id")
    return str(own) if own else f"{sample.meta.get('source', 'memory')}#{sample.meta.get('row', 0)}"


def user_prompt(sample: Sample) -> UserPrompt:
    """The sample's single user turn as text; media or several turns are an error naming the row."""
    turns = [m for m in sample.prompt if m.role != "system"]
    if len(turns) != 1 or turns[0].role != "user":
        raise ValueError(f"{sample.origin()}: a text-to-video prompt must be one user turn, got {len(turns)}")
    parts = turns[0].parts
    if any(part.type != "text" for part in parts):
        raise ValueError(f"{sample.origin()}: a text-to-video prompt must be text only, this one has media")
    text = "".join(part.text or "" for part in parts).strip()
    if not text:
        raise ValueError(f"{sample.origin()}: empty prompt")
    return UserPrompt(prompt_id(sample), text, sample.meta.get("source"), sample.meta.get("row"))


def inline_prompts(texts: Sequence[str]) -> list[UserPrompt]:
    """Prompts given on the command line, each keyed by a hash of its text (stable across reruns)."""
    stripped = [text.strip() for text in texts]
    prompts = [UserPrompt(hashlib.sha256(t.encode()).hexdigest()[:16], t) for t in stripped]
    if any(not p.text for p in prompts):
        raise ValueError("empty prompt on the command line")
    return unique(prompts)


def unique(prompts: list[UserPrompt]) -> list[UserPrompt]:
    """`prompts` itself, after checking that ids are unique (the stages resume by id)."""
    repeated = sorted(i for i, n in Counter(p.id for p in prompts).items() if n > 1)
    if repeated:
        raise ValueError(f"prompt ids must be unique (the stages resume by id); repeated: {repeated[:5]}")
    return prompts


def load_prompts(source: RecordSource) -> list[UserPrompt]:
    """The user prompts of `source`'s records (`prompts`, `safesora/eval`, or the prompts of any schema);
    ids must be unique because the stages resume by id."""
    prompts = [user_prompt(sample) for sample in source.load()]
    if not prompts:
        raise ValueError(f"no prompts in {source.files}")
    return unique(prompts)
