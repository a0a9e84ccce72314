"""LLF pair synthesis: sample → critique → refine → (refined ≻ original) pairs, resumable.

Prompts are cut into fixed batches of the full prompt list, and batch `b` is generated under its own seed
(`batch_seed`, plus a fixed offset per sampling step) by every model it uses, so a batch regenerates
identically on any rerun, on any rank, whatever ran before it. With several processes (`torchrun`), rank r
takes batches b ≡ r (mod world size): data-parallel synthesis, one model copy per GPU.

Each rank appends its finished batches durably to its own part files (`<pairs>.parts/rank<r>.jsonl` and
`rank<r>.skipped.jsonl`, the skipped rows with their reasons); a rerun, with any number of ranks, skips every
prompt id found in any part file and regenerates only unfinished batches, writing just the rows still
missing. When all ranks are done, `merge` writes the pairs file and `<pairs>.skipped.jsonl` in prompt order,
atomically. A killed run therefore finishes on rerun with every row exactly once, and the same rows an
uninterrupted (or single-process) run would write.

A pair is only kept when it can teach something: an empty answer, empty feedback, an empty refinement or a
refinement identical to the answer is skipped and counted by reason, never written as a pair.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch.distributed as dist
from lightning.pytorch.utilities import rank_zero_info
from tqdm.auto import tqdm

from omnialign.data.journal import RowJournal, StageReport, batch_seed, complete_rows
from omnialign.data.records.rows import MediaWriter, preference_row
from omnialign.data.sample import Sample
from omnialign.models.generation.text import TextGenerator
from omnialign.pipelines.llf.critics import Critic, ModelCritic
from omnialign.pipelines.llf.feedback_data import sample_id, write_jsonl
from omnialign.pipelines.llf.responders import CRITIQUE_SEED_OFFSET, Refinement, Responder, Response
from omnialign.pipelines.llf.templates import response_text


def _empty(response: Response) -> bool:
    return not any(part.media is not None or (part.text or "").strip() for part in response)


def _key(response: Response) -> tuple:
    return tuple((p.type, p.text, p.media.describe() if p.media else None) for p in response)


def skip_reason(original: Response, feedback: str, refined: Response) -> str | None:
    """Why a (prompt, original, feedback, refined) row cannot be a pair, or `None` when it can."""
    if _empty(original):
        return "empty response"
    if not feedback.strip():
        return "empty feedback"
    if _empty(refined):
        return "empty refinement"
    if _key(refined) == _key(original):
        return "refinement identical to the response"
    return None


def _unique_ids(samples: Sequence[Sample]) -> list[str]:
    ids = [sample_id(sample) for sample in samples]
    repeated = sorted(i for i, n in Counter(ids).items() if n > 1)
    if repeated:
        raise ValueError(f"prompt ids must be unique to resume by id; repeated: {repeated[:5]}")
    return ids


class PairSynthesizer:
    """Runs the three generation steps over prompts and writes pairs (see the module docstring)."""

    def __init__(
        self,
        responder: Responder,
        critic: Critic | TextGenerator,
        output: str | Path,
        batch_size: int = 8,
        seed: int = 0,
        provenance: dict[str, Any] | None = None,
        rank: int = 0,
        world_size: int = 1,
        lockstep: bool = False,
    ) -> None:
        """
        Args:
            responder: The policy (or `MediaGenerator` + prompt writer) that answers and refines.
            critic: The critic, or a feedback model (asked as `ModelCritic` asks it).
            output: The pairs file (JSONL, `preference` records); skips go beside it.
            batch_size: Prompts per generation batch (fixed: it decides each batch's seed).
            seed: Base seed of every batch.
            provenance: Written into every pair (model ids, generation settings).
            rank: This process's rank; it synthesises batches `b % world_size == rank`.
            world_size: Number of synthesising processes.
            lockstep: Every rank generates equally often (models sharded across the ranks with ZeRO-3 gather
                their weights collectively in every forward): a rank with fewer batches left runs filler
                batches whose output it discards.
        """
        self.responder = responder
        self.critic = critic if isinstance(critic, Critic) else ModelCritic(critic)
        self.output = Path(output)
        self.batch_size = batch_size
        self.seed = seed
        self.provenance = provenance or {}
        self.rank, self.world_size, self.lockstep = rank, world_size, lockstep

    @property
    def skipped_path(self) -> Path:
        return self.output.with_name(self.output.stem + ".skipped.jsonl")

    @property
    def parts_dir(self) -> Path:
        return self.output.with_name(self.output.stem + ".parts")

    def _parts(self, kind: str) -> list[Path]:
        """Every rank's part files of one kind (`pairs` or `skipped`), from this or any earlier run."""
        pattern = "rank*.skipped.jsonl" if kind == "skipped" else "rank*[0-9].jsonl"
        return sorted(self.parts_dir.glob(pattern))

    def _done_ids(self) -> set[str]:
        return {
            row["id"] for part in self._parts("pairs") + self._parts("skipped") for row in complete_rows(part)
        }

    def run(self, samples: Sequence[Sample]) -> StageReport:
        """Synthesise this rank's unfinished batches into its part files; `merge` publishes them."""
        ids = _unique_ids(samples)
        pairs = RowJournal(self.parts_dir / f"rank{self.rank}.jsonl")
        skipped = RowJournal(self.parts_dir / f"rank{self.rank}.skipped.jsonl")
        done = self._done_ids()
        report = StageReport("LLF pairs", len(samples), torn_lines=pairs.torn + skipped.torn)
        report.written_label = "pairs"
        report.done_before = sum(i in done for i in ids)
        media = MediaWriter(self.output.parent)
        starts = list(range(0, len(samples), self.batch_size))
        for b in tqdm(self._schedule(ids, starts, done), desc=f"LLF pairs (rank {self.rank})", unit="batch"):
            if b is None:  # lockstep filler: generate with the others, keep nothing
                self._batch(samples[: self.batch_size], ids[: self.batch_size], 0, media)
                continue
            batch = samples[starts[b] : starts[b] + self.batch_size]
            rows, skips = self._batch(batch, ids[starts[b] : starts[b] + self.batch_size], b, media)
            rows = [row for row in rows if row["id"] not in done]
            skips = [row for row in skips if row["id"] not in done]
            pairs.append(rows)
            skipped.append(skips)
            report.written += len(rows)
            report.skipped.update(row["reason"] for row in skips)
        rank_zero_info(report.summary())
        return report

    def _schedule(self, ids: list[str], starts: list[int], done: set[str]) -> list[int | None]:
        """This rank's unfinished batches (b = rank mod world size), padded with fillers (`None`) to the
        busiest rank's count in lockstep."""
        unfinished = [
            b
            for b, start in enumerate(starts)
            if not all(i in done for i in ids[start : start + self.batch_size])
        ]
        mine: list[int | None] = [b for b in unfinished if b % self.world_size == self.rank]
        if not self.lockstep or self.world_size == 1:
            return mine
        counts: list[int] = [0] * self.world_size
        dist.all_gather_object(counts, len(mine))
        return mine + [None] * (max(counts) - len(mine))

    def merge(self, samples: Sequence[Sample]) -> dict[str, int]:
        """Write the pairs file and the skipped file from every part, in prompt order (once every rank has
        finished: the merged files are what training reads); returns the number of rows of each."""
        order = {row_id: index for index, row_id in enumerate(_unique_ids(samples))}
        counts = {}
        for kind, target in (("pairs", self.output), ("skipped", self.skipped_path)):
            rows = [row for part in self._parts(kind) for row in complete_rows(part)]
            repeated = sorted(i for i, n in Counter(row["id"] for row in rows).items() if n > 1)
            if repeated:
                raise ValueError(f"{self.parts_dir}: rows {repeated[:5]} were written more than once")
            write_jsonl(sorted(rows, key=lambda row: order.get(row["id"], len(order))), target)
            counts[kind] = len(rows)
        return counts

    def _batch(
        self, samples: Sequence[Sample], ids: list[str], b: int, media: MediaWriter
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        seed = batch_seed(self.seed, b, steps=3)  # respond, critique, refine
        originals = self.responder.respond(samples, seed)
        feedback = self.critic.critique(samples, originals, seed + CRITIQUE_SEED_OFFSET)
        refined = self.responder.refine(samples, originals, feedback, seed)
        rows, skips = [], []
        for sample, row_id, original, text, refinement in zip(
            samples, ids, originals, feedback, refined, strict=True
        ):
            reason = skip_reason(original, text, refinement.response)
            if reason is not None:
                skips.append({"id": row_id, "reason": reason, "seed": seed, "feedback": text})
                continue
            provenance = self._provenance(sample, original, text, refinement, seed)
            rows.append(
                preference_row(row_id, sample.prompt, refinement.response, original, media, provenance)
            )
        return rows, skips

    def _provenance(
        self, sample: Sample, original: Response, feedback: str, refinement: Refinement, seed: int
    ) -> dict[str, Any]:
        return {
            **self.provenance,
            "method": "llf",
            "source": sample.meta.get("source"),
            "row": sample.meta.get("row"),
            "original": response_text(original),
            "feedback": feedback,
            "seed": seed,
            **refinement.details,
        }
