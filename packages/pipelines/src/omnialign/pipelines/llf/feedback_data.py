"""Training data for the feedback model, from the language feedback align-anything ships with every pair.

Each align-anything row holds two responses, a critique of each (`text_critique_k`; text-to-audio:
`text_k_feedback`), per-dimension rationales and pair-level feedback (`overall_textfeedback`, and for
text-to-audio `refine_prompt`). Every response with a critique becomes one `sft` record: the user turn is
`critique_request(prompt, response)` (prompt and response media included, so a multimodal feedback model
learns to look at them), the assistant turn is the critique, optionally its rationales, and a suggestion
taken from the pair-level fields. SFT on these records trains only the feedback tokens: the request is the
prompt, which the SFT objective masks out.

A response without a critique is skipped and counted by reason; nothing is filled in.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omnialign.data.records.rows import MediaWriter, sft_row
from omnialign.data.sample import Part, Sample
from omnialign.pipelines.llf.templates import critique_request, feedback_text


@dataclass
class FeedbackDataReport:
    """How many samples were read and records written, and every skip by reason."""

    samples: int = 0
    written: int = 0
    skipped: Counter = field(default_factory=Counter)

    def summary(self) -> str:
        skips = ", ".join(f"{n} {reason}" for reason, n in sorted(self.skipped.items())) or "none"
        return f"feedback data: {self.samples} pairs read, {self.written} records written; skipped: {skips}"


def sample_id(sample: Sample) -> str:
    """A stable id for a sample's source row: its record id, else `source#row`."""
    record_id = sample.meta.get("ids", {}).get("id")
    return (
        str(record_id) if record_id else f"{sample.meta.get('source', 'memory')}#{sample.meta.get('row', 0)}"
    )


def _critiques(sample: Sample) -> tuple[str, tuple[Any, ...]]:
    per_response = sample.meta.get("response_feedback")
    if not per_response:
        raise ValueError(
            f"{sample.origin()}: schema '{sample.meta.get('schema')}' has no per-response language feedback; "
            "feedback data needs an align-anything subset"
        )
    pattern, critiques = next(iter(per_response.items()))
    return pattern, critiques


def _with_rationales(critique: str, sample: Sample, k: int) -> str:
    lines = [
        f"- {dimension}: {pair[k]}"
        for dimension, pair in sample.meta.get("rationales", {}).items()
        if pair[k]
    ]
    return critique + ("\nBy dimension:\n" + "\n".join(lines) if lines else "")


def feedback_records(
    samples: Iterable[Sample],
    media: MediaWriter,
    suggestion_fields: tuple[str, ...] = ("overall_textfeedback",),
    rationales: bool = False,
) -> tuple[list[dict[str, Any]], FeedbackDataReport]:
    """One `sft` record per critiqued response, and the report."""
    report = FeedbackDataReport()
    records = []
    for sample in samples:
        report.samples += 1
        pattern, critiques = _critiques(sample)
        row_feedback = sample.meta.get("feedback", {})
        suggestion = "\n".join(str(row_feedback[f]) for f in suggestion_fields if row_feedback.get(f))
        for k, response in enumerate(sample.responses):
            field_name = pattern.format(k=k + 1)
            if not critiques[k]:
                report.skipped[f"no critique ({field_name})"] += 1
                continue
            critique = _with_rationales(critiques[k], sample, k) if rationales else critiques[k]
            request = critique_request(sample.prompt, response)
            answer = (Part.of_text(feedback_text(critique, suggestion or None)),)
            records.append(sft_row(f"{sample_id(sample)}/response_{k + 1}", request.prompt, answer, media))
            report.written += 1
    return records, report


def write_jsonl(records: list[dict[str, Any]], path: str | Path) -> None:
    """Write all records at once through a temporary file, so a kill never leaves half a dataset."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(path.suffix + ".partial")
    with partial.open("w", encoding="utf-8") as handle:
        handle.writelines(json.dumps(record, ensure_ascii=False) + "\n" for record in records)
    os.replace(partial, path)
