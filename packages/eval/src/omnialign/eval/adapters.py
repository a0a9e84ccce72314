"""Model adapters: how a model under evaluation answers eval prompts.

`LocalGenerator` runs any backbone `omnialign.models` builds (hub id, local folder, `tiny:<name>`), media
prompts included when the backbone is multimodal. `ResponseFile` reads answers produced elsewhere, the usual
route for text-to-image, audio and video models whose outputs are files.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from dataclasses import asdict
from pathlib import Path

from omnialign.data.sample import MediaRef, Part
from omnialign.eval.distributed import progress
from omnialign.eval.items import MEDIA, EvalItem, Response
from omnialign.models.backbone import BackboneOptions, load_causal_lm, load_processor
from omnialign.models.device import resolve_device
from omnialign.models.generation.text import GenerationOptions, TextGenerator


class ModelAdapter(ABC):
    """Answers eval items; one response (a tuple of content parts) per item, in order."""

    @abstractmethod
    def respond(self, items: list[EvalItem], root: Path) -> list[Response]:
        """`root`: the folder the items' media paths are relative to."""


class LocalGenerator(ModelAdapter):
    """Greedy generation with a local causal LM (text output), through the shared inference code
    (`omnialign.models.generation.text.TextGenerator`).

    Answers are kept per item (its whole row and media root): a second task over the same items, e.g. the same
    prompts judged once by a reward model and once by a rule, reuses them instead of generating again. Greedy
    answers do not depend on the batch they were generated in (tested), so reuse changes no answer."""

    def __init__(
        self,
        backbone: BackboneOptions,
        max_new_tokens: int = 32,
        batch_size: int = 4,
        max_length: int = 1024,
        device: str = "auto",
    ) -> None:
        """
        Args:
            backbone: The network to load (`tiny:<name>` builds offline).
            max_new_tokens: Tokens generated per answer.
            batch_size: Prompts per `generate` call.
            max_length: Longest prompt accepted, in tokens.
            device: `auto` (this process's GPU when CUDA is available, else the CPU), `cpu`, `cuda:1`, ...
        """
        processor = load_processor(backbone)
        model = load_causal_lm(backbone, processor).eval().to(resolve_device(device))
        options = GenerationOptions(max_new_tokens=max_new_tokens, do_sample=False)
        self.generator = TextGenerator(model, processor, options, max_length=max_length)
        self.batch_size = batch_size
        self.answered: dict[str, Response] = {}

    def respond(self, items: list[EvalItem], root: Path) -> list[Response]:
        keys = [json.dumps([str(root), asdict(item)], sort_keys=True) for item in items]
        new = [(k, item) for k, item in dict(zip(keys, items, strict=True)).items() if k not in self.answered]
        for start in progress(range(0, len(new), self.batch_size), "generate"):
            chunk = new[start : start + self.batch_size]
            texts = self.generator.generate([item.sample(root) for _, item in chunk], seed=0)
            self.answered |= {key: (Part.of_text(text),) for (key, _), text in zip(chunk, texts, strict=True)}
        return [self.answered[key] for key in keys]


class ResponseFile(ModelAdapter):
    """Answers read from a JSONL file: one row per item id with `text` and/or `image`/`audio`/`video` paths
    (relative to the file)."""

    def __init__(self, path: str) -> None:
        """
        Args:
            path: JSONL file of `{"id": ..., "text": ..., "image": ...}` rows.
        """
        self.path = Path(path)

    def respond(self, items: list[EvalItem], root: Path) -> list[Response]:
        rows = {row["id"]: row for row in map(json.loads, self.path.read_text().splitlines()) if row}
        missing = [item.id for item in items if item.id not in rows]
        if missing:
            raise ValueError(f"{self.path}: no response for item ids {missing[:5]}")
        return [self._parts(rows[item.id]) for item in items]

    def _parts(self, row: dict[str, str]) -> Response:
        media = [
            Part.of_media(MediaRef(kind, path=str(self.path.parent / row[kind])))
            for kind in MEDIA
            if kind in row
        ]
        text = [Part.of_text(row["text"])] if "text" in row else []
        return (*media, *text)
