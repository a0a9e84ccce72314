"""The prompt refiner: a causal LM asked to rewrite a user's text-to-video prompt.

The request is one user turn, an instruction followed by the prompt, so the refiner is trained (SFT on the
best rewrites, DPO on best-vs-worst) and used through exactly the same chat rendering; the `sft` and
`preference` rows written by best-of-N carry this request as their prompt.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from omnialign.data.sample import Message, Part, Sample
from omnialign.models.backbone import BackboneOptions, load_causal_lm, load_processor
from omnialign.models.generation.text import GenerationOptions, TextGenerator

INSTRUCTION = (
    "Rewrite this text-to-video prompt so that the video shows what the user wants, in detail, and nothing "
    "harmful. Reply with the rewritten prompt only.\nPrompt: "
)


def refinement_request(prompt: str, instruction: str = INSTRUCTION) -> tuple[Message, ...]:
    """The refiner's input for one user prompt."""
    return (Message("user", (Part.of_text(instruction + prompt),)),)


class Refiner:
    """Samples rewrites of prompts; `name` says which model wrote them (provenance)."""

    def __init__(self, generator: TextGenerator, name: str, instruction: str = INSTRUCTION) -> None:
        self.generator = generator
        self.name = name
        self.instruction = instruction

    @staticmethod
    def load(
        name: str,
        options: GenerationOptions | None = None,
        instruction: str = INSTRUCTION,
        device: str = "cpu",
    ) -> Refiner:
        """From a hub id, a local folder (e.g. the export of a refiner SFT/DPO run) or `tiny:<name>`."""
        backbone = BackboneOptions(name=name)
        processor = load_processor(backbone)
        model = load_causal_lm(backbone, processor).to(torch.device(device)).eval()
        return Refiner(TextGenerator(model, processor, options or GenerationOptions()), name, instruction)

    def rewrite(self, prompts: Sequence[str], copies: int, seed: int) -> list[list[str]]:
        """`copies` sampled rewrites of every prompt (one batch, seeded by `seed`), per prompt."""
        requests = [Sample(refinement_request(p, self.instruction)) for p in prompts for _ in range(copies)]
        flat = self.generator.generate(requests, seed)
        return [flat[i * copies : (i + 1) * copies] for i in range(len(prompts))]
