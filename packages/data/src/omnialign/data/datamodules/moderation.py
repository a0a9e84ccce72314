"""Moderation batches: one sequence per record and a multi-label target over SafeSora's 12 harm categories
plus an overall `unsafe` flag, judging either a prompt alone or a prompt with its generated video.

- `inputs="prompt+video"` (schema `safesora/labels`): the video is shown in the user turn after the prompt
  (as score models see media responses); targets are the video's harm labels and `not is_safe`.
- `inputs="prompt"` (`safesora/labels` or `safesora/eval`): the prompt alone; targets are the prompt's harm
  labels and `unsafe` = any of them.
A label the record lacks (SafeSora's `racism` is absent from part of the release) is `UNLABELLED` (-1), so
objectives and metrics ignore it rather than read it as "not harmful".
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Literal

import torch

from omnialign.data.datamodules.base import SampleDataModule
from omnialign.data.datamodules.contract import BatchContract
from omnialign.data.datamodules.preference import UNLABELLED, media_as_input
from omnialign.data.encode import EncodedSequence
from omnialign.data.records.safesora import HARM_LABELS
from omnialign.data.sample import LabelKey, Sample

UNSAFE = "unsafe"
LABEL_NAMES = (*HARM_LABELS, UNSAFE)
"""Target columns, in order: the 12 harm categories, then the overall flag."""
ModerationInputs = Literal["prompt", "prompt+video"]
INPUT_SCHEMAS = {"prompt": ("safesora/labels", "safesora/eval"), "prompt+video": ("safesora/labels",)}


@dataclass
class ModerationItem:
    sequence: EncodedSequence
    targets: dict[str, torch.Tensor]


def _prompt_harm(sample: Sample) -> dict[str, bool | None]:
    """The prompt's harm labels: a label record keeps them in `meta`, an eval record as its labels."""
    harm = sample.meta["prompt_labels"] if sample.responses else sample.labels[LabelKey.HARM_LABELS]
    if harm is None:
        raise ValueError(f"{sample.origin()}: no prompt_labels to train a prompt moderation model on")
    return harm


def harm_targets(harm: dict[str, bool | None], unsafe: bool | None) -> torch.Tensor:
    """`[len(LABEL_NAMES)]` long: 1 harmful, 0 not, `UNLABELLED` where the record has no label."""
    values = [harm.get(name) for name in HARM_LABELS] + [unsafe]
    return torch.tensor([UNLABELLED if v is None else int(v) for v in values], dtype=torch.long)


class ModerationDataModule(SampleDataModule):
    """SafeSora moderation records (video labels or evaluation prompts) for a multi-label classifier."""

    label_names = LABEL_NAMES

    def __init__(
        self,
        *args: Any,
        schema: str = "safesora/labels",
        inputs: ModerationInputs = "prompt+video",
        **kwargs: Any,
    ) -> None:
        """
        Args:
            schema: `safesora/labels` (prompt, video and their labels) or `safesora/eval` (prompts only).
            inputs: What the classifier judges: `prompt` alone or `prompt+video` (see the module docstring).
        """
        if inputs not in INPUT_SCHEMAS:
            raise ValueError(f"inputs must be one of {sorted(INPUT_SCHEMAS)}, got '{inputs}'")
        if schema not in INPUT_SCHEMAS[inputs]:
            raise ValueError(
                f"inputs='{inputs}' needs schema {' or '.join(INPUT_SCHEMAS[inputs])}, got '{schema}'"
            )
        super().__init__(*args, **kwargs)
        self.schema = schema
        self.inputs = inputs

    def contract(self) -> BatchContract:
        return replace(super().contract(), label_names=tuple(self.label_names))

    def _labels(self, sample: Sample) -> torch.Tensor:
        if self.inputs == "prompt":
            harm = _prompt_harm(sample)
            return harm_targets(harm, any(bool(v) for v in harm.values()))
        (is_safe,) = sample.labels[LabelKey.IS_SAFE]
        return harm_targets(sample.labels[LabelKey.HARM_LABELS], None if is_safe is None else not is_safe)

    def encode(self, sample: Sample, index: int) -> ModerationItem:
        if self.inputs == "prompt":
            sequence = self.encoder.encode_prompt(sample)
        else:
            sequence = self.encoder.encode(media_as_input(sample, 0), 0)
        targets = {"index": torch.tensor(index, dtype=torch.long), "labels": self._labels(sample)}
        return ModerationItem(sequence, targets)

    def collate(self, items: list[ModerationItem]) -> dict[str, Any]:
        batch: dict[str, Any] = self.collate_sequences([i.sequence for i in items])
        batch["targets"] = {key: torch.stack([i.targets[key] for i in items]) for key in items[0].targets}
        return batch
