"""Prompt → refined prompt → video, judged before and after: what the refiner buys a user.

For every prompt the refiner samples one rewrite; the video of the user's own prompt and the video of the
rewrite come from the same seed (the same noise), so the two scores differ only by the prompt. Both are judged
against the user's prompt. An empty rewrite falls back to the user's prompt, as a deployed refiner would, and
is counted. Results are appended per batch to a resumable journal (`results.jsonl`, keyed by prompt id); the
summary (`summary.json`) covers every row in it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from lightning.pytorch.utilities import rank_zero_info
from tqdm.auto import tqdm

from omnialign.data.journal import RowJournal, batch_seed
from omnialign.data.records.rows import MediaWriter
from omnialign.models.generation.media import MediaGenerator
from omnialign.pipelines.prompt_refinement.candidates import Judged, check_judge, judge_rewrites
from omnialign.pipelines.prompt_refinement.judges import SCORE, RewriteJudge
from omnialign.pipelines.prompt_refinement.prompts import UserPrompt
from omnialign.pipelines.prompt_refinement.refiner import Refiner

RESULTS_FILE, SUMMARY_FILE = "results.jsonl", "summary.json"


@dataclass
class RefinementSummary:
    """Mean judged score of the user's prompts and of their refinements, over `prompts` prompts."""

    prompts: int
    mean_before: float
    mean_after: float
    improved: float
    """Share of prompts whose refinement scored strictly higher."""
    fallbacks: int
    """Empty refinements replaced by the user's prompt."""
    columns: dict[str, dict[str, float]]
    """Mean before/after of every score column (the parts of a weighted judge)."""

    @property
    def gain(self) -> float:
        return self.mean_after - self.mean_before

    def describe(self) -> str:
        return (
            f"refined {self.prompts} prompts: judged score {self.mean_before:.4f} -> {self.mean_after:.4f} "
            f"(gain {self.gain:+.4f}; improved on {self.improved:.0%}; {self.fallbacks} empty refinements "
            "fell back to the user's prompt)"
        )


def summarise(rows: Sequence[dict[str, Any]]) -> RefinementSummary:
    """Means over result rows (as `refine_prompts` writes them)."""
    if not rows:
        raise ValueError("no refinement results to summarise")
    names = rows[0]["scores_before"].keys()
    columns = {
        name: {
            "before": float(np.mean([r["scores_before"][name] for r in rows])),
            "after": float(np.mean([r["scores_after"][name] for r in rows])),
        }
        for name in names
    }
    improved = np.mean([r["scores_after"][SCORE] > r["scores_before"][SCORE] for r in rows])
    fallbacks = sum(r["fallback"] for r in rows)
    return RefinementSummary(
        len(rows), columns[SCORE]["before"], columns[SCORE]["after"], float(improved), fallbacks, columns
    )


def _column(judged: Judged, i: int) -> dict[str, float]:
    values = {name: values[i] for name, values in judged.scores.items()}
    if any(not math.isfinite(v) for v in values.values()):
        raise ValueError(f"the judge gave a non-finite score: {values}")
    return values


def _video(judged: Judged, i: int, media: MediaWriter) -> str | None:
    ref = judged.media[i]
    return media.value(ref) if ref is not None else None


class PromptRefinement:
    """The refine command's pipeline (see the module docstring)."""

    def __init__(
        self,
        refiner: Refiner,
        judge: RewriteJudge,
        output_dir: str | Path,
        generator: MediaGenerator | None = None,
        batch_size: int = 8,
        seed: int = 0,
    ) -> None:
        check_judge(judge, generator)
        self.refiner = refiner
        self.judge = judge
        self.generator = generator
        self.output_dir = Path(output_dir)
        self.batch_size = batch_size
        self.seed = seed

    def run(self, prompts: Sequence[UserPrompt]) -> RefinementSummary:
        journal = RowJournal(self.output_dir / RESULTS_FILE)
        media = MediaWriter(self.output_dir)
        starts = range(0, len(prompts), self.batch_size)
        for b, start in enumerate(tqdm(starts, desc="refine", unit="batch")):
            batch = prompts[start : start + self.batch_size]
            if any(p.id not in journal for p in batch):  # the whole batch again: its seed covers all of it
                rows = self._batch(batch, batch_seed(self.seed, b), media)
                journal.append(row for row in rows if row["id"] not in journal)
        wanted = {p.id for p in prompts}
        summary = summarise([row for row in journal.rows() if row["id"] in wanted])
        written = json.dumps(asdict(summary) | {"gain": summary.gain}, indent=2)
        (self.output_dir / SUMMARY_FILE).write_text(written)
        rank_zero_info(summary.describe())
        return summary

    def _batch(self, batch: Sequence[UserPrompt], seed: int, media: MediaWriter) -> list[dict[str, Any]]:
        texts = [p.text for p in batch]
        rewrites = [group[0] for group in self.refiner.rewrite(texts, 1, seed)]
        refined = [r if r.strip() else p for r, p in zip(rewrites, texts, strict=True)]
        before = judge_rewrites(texts, texts, self.judge, self.generator, seed)
        after = judge_rewrites(texts, refined, self.judge, self.generator, seed)
        return [
            {
                "id": prompt.id,
                "prompt": prompt.text,
                "refined": refined[i],
                "fallback": not rewrites[i].strip(),
                "seed": seed,
                "scores_before": _column(before, i),
                "scores_after": _column(after, i),
                "video_before": _video(before, i, media),
                "video_after": _video(after, i, media),
            }
            for i, prompt in enumerate(batch)
        ]
