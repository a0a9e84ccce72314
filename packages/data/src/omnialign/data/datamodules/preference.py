"""Preference-pair batches for reward/cost models and the DPO family, for any input modality and schema.

A batch of B pairs holds 2B sequences: the first response of every pair, then the second, so one forward
scores both and `view(2, B)` splits them. Responses keep their record order; which one is preferred travels
as a label under `targets`, so the same batch serves every objective (reward: `chosen`; cost: `safer` and
`is_safe`; multi-head score models: one preferred index per dimension, -1 where unlabelled), with the
pair's `index` in its split for per-pair caches such as precomputed reference log-probs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from omnialign.data.datamodules.base import SampleDataModule
from omnialign.data.encode import EncodedSequence
from omnialign.data.sample import LabelKey, Sample

UNLABELLED = -1


@dataclass
class PairItem:
    first: EncodedSequence
    second: EncodedSequence
    targets: dict[str, torch.Tensor]


class PreferenceDataModule(SampleDataModule):
    """Pairs from align-anything (any subset), PKU-SafeRLHF or SafeSora records."""

    def __init__(
        self,
        *args: Any,
        schema: str = "pku-saferlhf",
        dimension: str = "overall",
        head_dimensions: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        """
        Args:
            schema: Record schema of the files (e.g. `pku-saferlhf`, `align-anything/text-image-to-text`,
                `safesora/pairs`).
            dimension: Preference dimension that decides the `chosen` label (align-anything: `overall`,
                `instruction_following`, ...; SafeSora: `helpfulness`, `harmlessness`, a sub-preference).
            head_dimensions: For multi-head score models: the dimensions whose labels are batched under
                `targets['dimensions']`, one column each, in this order.
        """
        super().__init__(*args, **kwargs)
        self.schema = schema
        self.dimension = dimension
        self.head_dimensions = head_dimensions

    def load_options(self) -> dict[str, Any]:
        return {"dimension": self.dimension}

    def _targets(self, sample: Sample, index: int) -> dict[str, torch.Tensor]:
        labels = sample.labels
        targets = {
            "index": torch.tensor(index, dtype=torch.long),
            "chosen": torch.tensor(labels[LabelKey.CHOSEN], dtype=torch.long),
        }
        if LabelKey.SAFER in labels:
            targets["safer"] = torch.tensor(labels[LabelKey.SAFER], dtype=torch.long)
        if LabelKey.IS_SAFE in labels:
            targets["is_safe"] = torch.tensor(labels[LabelKey.IS_SAFE], dtype=torch.bool)
        if self.head_dimensions:
            per_dimension = labels[LabelKey.DIMENSIONS]
            unknown = set(self.head_dimensions) - set(per_dimension)
            if unknown:
                raise KeyError(
                    f"{sample.origin()}: no labels for dimensions {sorted(unknown)}; "
                    f"this schema has {sorted(per_dimension)}"
                )
            values = [per_dimension[d] for d in self.head_dimensions]
            targets["dimensions"] = torch.tensor(
                [UNLABELLED if v is None or v < 0 else v for v in values], dtype=torch.long
            )
        return targets

    def encode(self, sample: Sample, index: int) -> PairItem:
        if len(sample.responses) != 2:
            raise ValueError(
                f"{sample.origin()}: a preference sample needs 2 responses, has {len(sample.responses)}"
            )
        return PairItem(
            self.encoder.encode(sample, 0), self.encoder.encode(sample, 1), self._targets(sample, index)
        )

    def collate(self, items: list[PairItem]) -> dict[str, Any]:
        batch: dict[str, Any] = self.collate_sequences([i.first for i in items] + [i.second for i in items])
        batch["targets"] = {key: torch.stack([i.targets[key] for i in items]) for key in items[0].targets}
        return batch
