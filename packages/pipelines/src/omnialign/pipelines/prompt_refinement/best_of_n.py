"""Best-of-N refinement data: N rewrites per prompt, the video of each, judged; the best rewrite becomes an
`sft` record and best-vs-worst a `preference` record, for SFT and DPO of the refiner through the train app.

Prompts are cut into fixed batches of the full prompt list, and batch `b` runs under its own seed
(`seed · 1_000_003 + b`: the refiner samples all N rewrites of the batch from it, and every video of the
batch is generated from it), so a batch regenerates identically on any rerun whatever ran before it. Each
finished batch is appended durably to `sft.jsonl`, `preference.jsonl` and, for prompts that teach nothing,
`skipped.jsonl` (with the reason); a rerun skips every prompt already finished and writes only the rows still
missing, so a killed run completes on rerun with every row exactly once.

Provenance on every row records the N rewrites, every score column, the chosen and rejected indices, the
videos (paths relative to the output folder), the seed, N, and which refiner, diffusion model and judge were
used.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lightning.pytorch.utilities import rank_zero_info
from tqdm.auto import tqdm

from omnialign.data.journal import RowJournal, StageReport, batch_seed
from omnialign.data.records.rows import MediaWriter, preference_row, sft_row
from omnialign.data.sample import Part
from omnialign.models.generation.media import MediaGenerator
from omnialign.pipelines.prompt_refinement.candidates import Judged, check_judge, judge_rewrites
from omnialign.pipelines.prompt_refinement.judges import RewriteJudge
from omnialign.pipelines.prompt_refinement.prompts import UserPrompt
from omnialign.pipelines.prompt_refinement.refiner import Refiner, refinement_request
from omnialign.pipelines.prompt_refinement.selection import Selection, select_best_worst

SFT_FILE, PREFERENCE_FILE, SKIPPED_FILE = "sft.jsonl", "preference.jsonl", "skipped.jsonl"
JOURNALS = (SFT_FILE, PREFERENCE_FILE, SKIPPED_FILE)


def _finite_or_none(values: Sequence[float]) -> list[float | None]:
    return [v if math.isfinite(v) else None for v in values]


class BestOfNWriter:
    """Runs best-of-N over prompts and writes the three journals under `output_dir`."""

    def __init__(
        self,
        refiner: Refiner,
        judge: RewriteJudge,
        output_dir: str | Path,
        generator: MediaGenerator | None = None,
        num_candidates: int = 4,
        batch_size: int = 8,
        seed: int = 0,
        min_margin: float = 0.0,
        provenance: dict[str, Any] | None = None,
    ) -> None:
        """
        Args:
            refiner: Samples the rewrites.
            judge: Scores each candidate (its video, or the rewrite itself).
            output_dir: Folder of `sft.jsonl`, `preference.jsonl` and `skipped.jsonl`.
            generator: Makes the video of each rewrite (None: judge the rewrites alone).
            num_candidates: N, rewrites per prompt (at least 2).
            batch_size: Prompts per batch (fixed: it decides each batch's seed).
            seed: Base seed of every batch.
            min_margin: The best rewrite must beat the worst by more than this, else the prompt is skipped.
            provenance: Extra fields written into every row's provenance.
        """
        if num_candidates < 2:
            raise ValueError(f"best-of-N needs at least 2 candidates, got {num_candidates}")
        check_judge(judge, generator)
        self.refiner = refiner
        self.judge = judge
        self.generator = generator
        self.output_dir = Path(output_dir)
        self.num_candidates = num_candidates
        self.batch_size = batch_size
        self.seed = seed
        self.min_margin = min_margin
        self.provenance = provenance or {}

    def run(self, prompts: Sequence[UserPrompt]) -> StageReport:
        journals = {name: RowJournal(self.output_dir / name) for name in JOURNALS}
        torn = sum(j.torn for j in journals.values())
        report = StageReport(
            "best-of-N", len(prompts), torn_lines=torn, written_label="rows (sft + preference)"
        )
        report.done_before = sum(self._done(p.id, journals) for p in prompts)
        media = MediaWriter(self.output_dir)
        starts = range(0, len(prompts), self.batch_size)
        for b, start in enumerate(tqdm(starts, desc="best-of-N", unit="batch")):
            batch = prompts[start : start + self.batch_size]
            if all(self._done(p.id, journals) for p in batch):
                continue
            rows = self._batch(batch, batch_seed(self.seed, b), media)
            new = {name: [r for r in rows[name] if r["id"] not in j] for name, j in journals.items()}
            for name, journal in journals.items():
                journal.append(new[name])
            report.written += len(new[PREFERENCE_FILE])
            report.skipped.update(row["reason"] for row in new[SKIPPED_FILE])
        rank_zero_info(report.summary())
        return report

    @staticmethod
    def _done(prompt_id: str, journals: dict[str, RowJournal]) -> bool:
        written = prompt_id in journals[SFT_FILE] and prompt_id in journals[PREFERENCE_FILE]
        return written or prompt_id in journals[SKIPPED_FILE]

    def _batch(self, batch: Sequence[UserPrompt], seed: int, media: MediaWriter) -> dict[str, list[dict]]:
        n = self.num_candidates
        rewrites = self.refiner.rewrite([p.text for p in batch], n, seed)
        flat = [text for group in rewrites for text in group]
        users = [p.text for p in batch for _ in range(n)]
        judged = judge_rewrites(users, flat, self.judge, self.generator, seed)
        rows: dict[str, list[dict]] = {name: [] for name in JOURNALS}
        for i, prompt in enumerate(batch):
            own = slice(i * n, (i + 1) * n)
            choice = select_best_worst(rewrites[i], judged.total[own], self.min_margin)
            provenance = self._provenance(prompt, rewrites[i], judged, own, seed, media)
            if isinstance(choice, str):
                rows[SKIPPED_FILE].append({"id": prompt.id, "reason": choice, "provenance": provenance})
                continue
            self._rows(prompt, rewrites[i], choice, provenance, media, rows)
        return rows

    def _rows(
        self,
        prompt: UserPrompt,
        rewrites: list[str],
        choice: Selection,
        provenance: dict[str, Any],
        media: MediaWriter,
        rows: dict[str, list[dict]],
    ) -> None:
        request = refinement_request(prompt.text, self.refiner.instruction)
        best, worst = (Part.of_text(rewrites[choice.best]),), (Part.of_text(rewrites[choice.worst]),)
        provenance = {**provenance, "chosen_index": choice.best, "rejected_index": choice.worst}
        rows[SFT_FILE].append(sft_row(prompt.id, request, best, media))
        rows[PREFERENCE_FILE].append(preference_row(prompt.id, request, best, worst, media, provenance))

    def _provenance(
        self,
        prompt: UserPrompt,
        rewrites: list[str],
        judged: Judged,
        own: slice,
        seed: int,
        media: MediaWriter,
    ) -> dict[str, Any]:
        videos = [media.value(ref) if ref is not None else None for ref in judged.media[own]]
        return {
            **self.provenance,
            "method": "best-of-n",
            "prompt": prompt.text,
            "source": prompt.source,
            "row": prompt.row,
            "num_candidates": self.num_candidates,
            "seed": seed,
            "refiner": self.refiner.name,
            "judge": self.judge.describe(),
            "rewrites": rewrites,
            "scores": {name: _finite_or_none(values[own]) for name, values in judged.scores.items()},
            "videos": videos,
        }
