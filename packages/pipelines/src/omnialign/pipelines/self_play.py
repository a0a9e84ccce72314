"""Self-play preference data: the model answers each training prompt N times, a transparent rule judges every
answer, and best-vs-worst becomes a `preference` record, so DPO learns what the rule rewards from the model's
own samples (no hub data, nothing copied).

Batch `b` of prompts samples all N answers of its prompts under its own seed (`batch_seed(seed, b)`), so the
data are reproducible batch by batch. A prompt whose answers all score the same teaches nothing and is
written to `skipped.jsonl` with the reason instead. The held-out prompts (disjoint tasks and phrasings, see
`everyday_prompts`) are written as `prompts` records for the before/after report and never sampled here.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lightning.pytorch.utilities import rank_zero_info

from omnialign.data.journal import batch_seed
from omnialign.data.records.rows import MediaWriter, preference_row
from omnialign.data.sample import Message, Part, Sample
from omnialign.models.backbone import BackboneOptions, load_causal_lm, load_processor
from omnialign.models.generation.text import GenerationOptions, TextGenerator
from omnialign.models.rules import PlainProse
from omnialign.pipelines.everyday_prompts import EverydayPrompt, everyday_prompts
from omnialign.pipelines.prompt_refinement.selection import select_best_worst

PREFERENCE_FILE, HELDOUT_FILE, SKIPPED_FILE = (
    "preference_train.jsonl",
    "heldout_prompts.jsonl",
    "skipped.jsonl",
)


def user_turn(text: str) -> tuple[Message, ...]:
    return (Message("user", (Part.of_text(text),)),)


@dataclass(frozen=True)
class SelfPlayResult:
    output_dir: Path
    pairs: int
    skipped: Counter


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as stream:
        for row in rows:
            stream.write(json.dumps(row, ensure_ascii=False) + "\n")


class SelfPlay:
    """Samples, judges and pairs answers of one model."""

    def __init__(
        self,
        generator: TextGenerator,
        judge: PlainProse,
        model_name: str,
        num_samples: int = 4,
        batch_size: int = 8,
        seed: int = 0,
    ) -> None:
        if num_samples < 2:
            raise ValueError(f"self-play needs at least 2 samples per prompt, got {num_samples}")
        self.generator = generator
        self.judge = judge
        self.model_name = model_name
        self.num_samples = num_samples
        self.batch_size = batch_size
        self.seed = seed

    def pairs(self, prompts: list[EverydayPrompt]) -> tuple[list[dict], list[dict]]:
        """(preference rows, skipped rows) for `prompts`, in prompt order."""
        preferences, skipped = [], []
        for b, start in enumerate(range(0, len(prompts), self.batch_size)):
            batch = prompts[start : start + self.batch_size]
            seed = batch_seed(self.seed, b)
            samples = [Sample(prompt=user_turn(p.text)) for p in batch for _ in range(self.num_samples)]
            answers = self.generator.generate(samples, seed)
            rank_zero_info(f"self-play: batch {b + 1}, {len(answers)} answers")
            for i, prompt in enumerate(batch):
                own = answers[i * self.num_samples : (i + 1) * self.num_samples]
                row, is_pair = self.judge_answers(prompt, own, seed)
                (preferences if is_pair else skipped).append(row)
        return preferences, skipped

    def judge_answers(self, prompt: EverydayPrompt, answers: list[str], seed: int) -> tuple[dict, bool]:
        """A `preference` row (best vs worst answer) and True, or a skipped row with its reason and False."""
        scores = [self.judge.score(text) for text in answers]
        provenance = self._provenance(prompt, answers, scores, seed)
        choice = select_best_worst(answers, scores)
        if isinstance(choice, str):
            return {"id": prompt.id, "reason": choice, "provenance": provenance}, False
        provenance |= {"chosen_index": choice.best, "rejected_index": choice.worst}
        best, worst = (Part.of_text(answers[choice.best]),), (Part.of_text(answers[choice.worst]),)
        media = MediaWriter(Path.cwd())  # text only: nothing is written
        return preference_row(prompt.id, user_turn(prompt.text), best, worst, media, provenance), True

    def _provenance(self, prompt: EverydayPrompt, answers: list[str], scores: list[float], seed: int) -> dict:
        options = self.generator.options
        return {
            "method": "self-play",
            "model": self.model_name,
            "task": prompt.task,
            "template": prompt.template,
            "seed": seed,
            "num_samples": self.num_samples,
            "temperature": options.temperature,
            "max_new_tokens": options.max_new_tokens,
            "judge": self.judge.describe(),
            "answers": answers,
            "scores": scores,
        }


def run_self_play(
    output_dir: str = "data/smollm2",
    model: str = "smollm2-135m-instruct",
    num_train: int = 40,
    num_heldout: int = 24,
    num_samples: int = 4,
    max_new_tokens: int = 64,
    temperature: float = 0.7,
    batch_size: int = 10,
    seed: int = 0,
    judge: PlainProse | None = None,
) -> SelfPlayResult:
    """Write `preference_train.jsonl` (self-play pairs), `skipped.jsonl` and `heldout_prompts.jsonl`.

    Args:
        output_dir: Folder of the three files (overwritten).
        model: Backbone name (the embedded model's short name, a GGUF file, a folder or a hub id).
        num_train: Training prompts to sample (at most the number of written training tasks).
        num_heldout: Held-out prompts to write (never sampled).
        num_samples: Answers per training prompt (N).
        max_new_tokens: Longest answer in tokens.
        temperature: Sampling temperature of the answers.
        batch_size: Prompts per `generate` call (each with N answers); fixed, it decides each batch's seed.
        seed: Base seed of every batch.
        judge: The rule that scores every answer (default `PlainProse()`).
    """
    judge = judge or PlainProse()
    train, heldout = everyday_prompts(num_train, num_heldout)
    options = BackboneOptions(name=model)
    processor = load_processor(options)
    policy = load_causal_lm(options, processor).eval()
    generation = GenerationOptions(max_new_tokens=max_new_tokens, temperature=temperature)
    play = SelfPlay(TextGenerator(policy, processor, generation), judge, model, num_samples, batch_size, seed)
    preferences, skipped = play.pairs(train)
    output = Path(output_dir)
    _write_jsonl(output / PREFERENCE_FILE, preferences)
    _write_jsonl(output / SKIPPED_FILE, skipped)
    _write_jsonl(output / HELDOUT_FILE, [{"id": p.id, "prompt": p.text} for p in heldout])
    reasons = Counter(row["reason"] for row in skipped)
    rank_zero_info(f"self-play: {len(preferences)} pairs from {len(train)} prompts, skipped {dict(reasons)}")
    return SelfPlayResult(output, len(preferences), reasons)
