"""Per-category precision, recall, F1 and AUROC for a multi-label moderation model (SafeSora's 12 harm
categories), wrapping torchmetrics' multilabel metrics.

Scores and labels are kept as concatenated states (gathered across processes), because AUROC needs every
score, not a running count; with the thresholded metrics computed from the same states the four numbers
always describe the same examples.
"""

from __future__ import annotations

from torch import Tensor
from torchmetrics import Metric
from torchmetrics.functional.classification import (
    multilabel_auroc,
    multilabel_f1_score,
    multilabel_precision,
    multilabel_recall,
)
from torchmetrics.utilities import dim_zero_cat

FUNCTIONS = {
    "precision": multilabel_precision,
    "recall": multilabel_recall,
    "f1": multilabel_f1_score,
}


class ModerationMetrics(Metric):
    """Per-category and macro precision/recall/F1 (at `threshold`) and AUROC."""

    full_state_update = False

    def __init__(
        self, categories: list[str], threshold: float = 0.5, ignore_index: int | None = None
    ) -> None:
        """
        Args:
            categories: One name per label column, in the order of the model's heads.
            threshold: Probability at or above which a category is predicted.
            ignore_index: Label value meaning "not labelled" (SafeSora's missing categories), left out of
                every metric of its category.
        """
        super().__init__()
        self.categories = list(categories)
        self.threshold = threshold
        self.ignore_index = ignore_index
        self.add_state("probs", [], dist_reduce_fx="cat")
        self.add_state("labels", [], dist_reduce_fx="cat")

    def update(self, probs: Tensor, labels: Tensor) -> None:
        """`probs`: `[N, C]` probabilities in [0, 1]; `labels`: `[N, C]` 0/1 (1: harmful in that category)."""
        self.probs.append(probs.float())
        self.labels.append(labels.long())

    def compute(self) -> dict[str, Tensor]:
        probs, labels = dim_zero_cat(self.probs), dim_zero_cat(self.labels)
        size = len(self.categories)
        result: dict[str, Tensor] = {}
        for name, function in FUNCTIONS.items():
            values = function(
                probs,
                labels,
                num_labels=size,
                threshold=self.threshold,
                average="none",
                ignore_index=self.ignore_index,
            )
            result |= _named(name, values, self.categories)
        auroc = multilabel_auroc(
            probs, labels, num_labels=size, average="none", ignore_index=self.ignore_index
        )
        return result | _named("auroc", auroc, self.categories)


def _named(metric: str, values: Tensor, categories: list[str]) -> dict[str, Tensor]:
    per = {f"{metric}/{name}": values[index] for index, name in enumerate(categories)}
    return {metric: values.mean(), **per}
