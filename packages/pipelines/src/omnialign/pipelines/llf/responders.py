"""Who answers and who revises, per output modality: the one seam between LLF and the kind of policy.

Pair synthesis only needs two calls: `respond` (an answer to each prompt) and `refine` (a better answer,
given the feedback on the first). For text-out policies (any input modality) both are the policy itself;
an any-to-any policy answering with text and an image (text+image → text+image) also refines in its own
conversation, where its first answer, image included, is context. For generation modalities
(text→image/video/audio) the refinement acts on the generation prompt: a text model rewrites the prompt
from the feedback on the generated media and the diffusion model renders the new prompt under the same seed,
so the pair differs by the prompt alone and feeds Diffusion-DPO as it is.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from omnialign.data.media_writing import save_image
from omnialign.data.sample import MediaRef, Part, Sample
from omnialign.models.generation.interleaved import InterleavedGenerator
from omnialign.models.generation.media import MediaGenerator
from omnialign.models.generation.text import TextGenerator
from omnialign.pipelines.llf.templates import prompt_refine_request, refine_request

Response = tuple[Part, ...]
CRITIQUE_SEED_OFFSET = 1
REFINE_SEED_OFFSET = 2
"""Each sampling step of a batch draws from its own seed (batch seed + offset): with one seed for all, a
policy would replay the same random draws when refining and copy its first answer. A `MediaGenerator`, by
contrast, renders original and refined prompts from the batch seed itself, so their media share the noise."""


@dataclass
class Refinement:
    """A refined response and what produced it (recorded in the pair's provenance)."""

    response: Response
    details: dict[str, Any] = field(default_factory=dict)


class Responder(ABC):
    """Answers prompts and revises answers from feedback."""

    @abstractmethod
    def respond(self, samples: Sequence[Sample], seed: int) -> list[Response]:
        """One answer per prompt."""

    @abstractmethod
    def refine(
        self, samples: Sequence[Sample], responses: Sequence[Response], feedback: Sequence[str], seed: int
    ) -> list[Refinement]:
        """One revised answer per (prompt, answer, feedback); `seed` is the batch seed `respond` got."""


class TextPolicy(Responder):
    """A text-writing policy answers, then continues its own conversation to revise under the feedback."""

    def __init__(self, policy: TextGenerator) -> None:
        self.policy = policy

    def respond(self, samples: Sequence[Sample], seed: int) -> list[Response]:
        return [(Part.of_text(text),) for text in self.policy.generate(samples, seed)]

    def refine(
        self, samples: Sequence[Sample], responses: Sequence[Response], feedback: Sequence[str], seed: int
    ) -> list[Refinement]:
        requests = [
            refine_request(s.prompt, r, f) for s, r, f in zip(samples, responses, feedback, strict=True)
        ]
        texts = self.policy.generate(requests, seed + REFINE_SEED_OFFSET)
        return [Refinement((Part.of_text(text),)) for text in texts]


class InterleavedPolicy(Responder):
    """An any-to-any policy (Janus, Emu3, ...) answering with text, then an image drawn with
    classifier-free guidance; images are written under `media_dir` and answers become text + image parts."""

    def __init__(self, generator: InterleavedGenerator, media_dir: str | Path) -> None:
        self.generator = generator
        self.media_dir = Path(media_dir)

    def _answer(self, samples: Sequence[Sample], seed: int) -> list[Response]:
        answers = []
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            for sample in samples:
                answer = self.generator.answer(sample)
                images = [save_image(np.asarray(image), self.media_dir) for image in answer.images]
                parts = [Part.of_media(MediaRef("image", path=str(path))) for path in images]
                answers.append((Part.of_text(answer.text), *parts))
        return answers

    def respond(self, samples: Sequence[Sample], seed: int) -> list[Response]:
        return self._answer(samples, seed)

    def refine(
        self, samples: Sequence[Sample], responses: Sequence[Response], feedback: Sequence[str], seed: int
    ) -> list[Refinement]:
        requests = [
            refine_request(s.prompt, r, f) for s, r, f in zip(samples, responses, feedback, strict=True)
        ]
        return [Refinement(answer) for answer in self._answer(requests, seed + REFINE_SEED_OFFSET)]


def generation_prompt(sample: Sample) -> str:
    """The text a diffusion model is conditioned on: the last user turn's text."""
    users = [message for message in sample.prompt if message.role == "user"]
    if not users:
        raise ValueError(f"{sample.origin()}: a generation prompt needs a user turn")
    return users[-1].text


class PromptRefiningResponder(Responder):
    """A text-to-media `MediaGenerator` whose prompt a text model rewrites from the feedback on its media."""

    def __init__(self, generator: MediaGenerator, prompt_writer: TextGenerator) -> None:
        self.generator = generator
        self.prompt_writer = prompt_writer

    def respond(self, samples: Sequence[Sample], seed: int) -> list[Response]:
        refs = self.generator.generate([generation_prompt(s) for s in samples], seed)
        return [(Part.of_media(ref),) for ref in refs]

    def refine(
        self, samples: Sequence[Sample], responses: Sequence[Response], feedback: Sequence[str], seed: int
    ) -> list[Refinement]:
        prompts = [generation_prompt(s) for s in samples]
        requests = [
            prompt_refine_request(p, self.generator.kind, f) for p, f in zip(prompts, feedback, strict=True)
        ]
        rewritten = self.prompt_writer.generate(requests, seed + REFINE_SEED_OFFSET)
        kept = [i for i, text in enumerate(rewritten) if text]
        refs = dict(zip(kept, self.generator.generate([rewritten[i] for i in kept], seed), strict=True))
        # an empty rewrite yields an empty response, which synthesis counts and skips
        return [
            Refinement((Part.of_media(refs[i]),) if i in refs else (), {"refined_prompt": text})
            for i, text in enumerate(rewritten)
        ]
