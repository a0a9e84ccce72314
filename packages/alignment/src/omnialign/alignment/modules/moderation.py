"""Moderation models: a multi-label classifier (one logit per harm category plus an overall `unsafe` flag)
for a prompt alone or a prompt with its generated media, e.g. SafeSora's 12 categories over text-video pairs.

The network is a `ScoreModel` with one head per label, so it is built, exported and reloaded exactly like a
reward model. Each (example, label) is one binary decision; labels a record lacks (-1) are left out of the
loss and the metrics. Validation reports per-category F1 and AUROC (torchmetrics), and their macro means.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torchmetrics.classification import MultilabelAUROC, MultilabelF1Score, MultilabelStatScores

from omnialign.alignment.losses.score import moderation_loss
from omnialign.alignment.modules.score import ScoreModelModule
from omnialign.alignment.ops import masked_mean
from omnialign.data.datamodules.moderation import LABEL_NAMES
from omnialign.data.datamodules.preference import UNLABELLED
from omnialign.models.backbone import BackboneOptions
from omnialign.models.score import ScoreConfig


class ModerationModule(ScoreModelModule):
    """Trains a multi-label moderation classifier on batches with `targets['labels']` `[B, labels]`."""

    def __init__(
        self,
        backbone: BackboneOptions | None = None,
        labels: list[str] | None = None,
        threshold: float = 0.5,
        positive_weight: float | list[float] | None = None,
        **kwargs,
    ) -> None:
        """
        Args:
            labels: Label names, one head each, in the datamodule's column order (default: SafeSora's 12
                harm categories, then `unsafe`).
            threshold: Probability above which a label counts as predicted, for F1.
            positive_weight: Weight of a label's positive term, one for all labels or one per label; harm
                categories are rare, and about `negatives / positives` keeps a classifier from learning to
                predict "harmless" everywhere.
        """
        names = list(labels or LABEL_NAMES)
        super().__init__(backbone=backbone, score_config=ScoreConfig(heads=names), **kwargs)
        self.label_names = names
        count = len(names)
        weights = positive_weight if isinstance(positive_weight, list) else [positive_weight or 1.0] * count
        if len(weights) != count:
            raise ValueError(f"positive_weight has {len(weights)} values for {count} labels")
        self.register_buffer("positive_weight", torch.tensor(weights).unsqueeze(-1), persistent=False)
        self.val_f1 = MultilabelF1Score(count, threshold=threshold, average=None, ignore_index=UNLABELLED)
        self.val_auroc = MultilabelAUROC(count, average=None, ignore_index=UNLABELLED)
        self.val_counts = MultilabelStatScores(count, average=None, ignore_index=UNLABELLED)
        self.save_hyperparameters()

    def on_fit_start(self) -> None:
        super().on_fit_start()
        declared = self.batch_contract().label_names
        expected = list(declared) if declared is not None else self.label_names
        if expected != self.label_names:
            raise ValueError(f"the model's labels {self.label_names} must match the datamodule's {expected}")

    def _loss(self, batch: dict) -> tuple[Tensor, Tensor, dict[str, Tensor]]:
        logits = self(batch).scores
        labels = batch["targets"]["labels"]
        known = labels != UNLABELLED
        # every (example, label) as its own one-label example, so unknown labels can be masked out
        out = moderation_loss(logits.unsqueeze(-1), labels.clamp_min(0).unsqueeze(-1), self.positive_weight)
        metrics = {"label_accuracy": masked_mean(out.label_accuracies, known)}
        return masked_mean(out.losses, known), logits, metrics

    def training_step(self, batch: dict, batch_idx: int) -> Tensor:
        loss, _, metrics = self._loss(batch)
        self.log_metrics("train", {"loss": loss, **metrics}, batch["targets"]["labels"].shape[0])
        return loss

    def validation_step(self, batch: dict, batch_idx: int) -> Tensor:
        loss, logits, metrics = self._loss(batch)
        labels = batch["targets"]["labels"]
        for metric in (self.val_f1, self.val_auroc, self.val_counts):
            metric.update(logits.sigmoid(), labels)
        self.log_metrics("val", {"loss": loss, **metrics}, labels.shape[0])
        return loss

    def on_validation_epoch_end(self) -> None:
        """Per-label F1 and AUROC; the macro means skip labels with no positive example in the validation
        data, whose F1 and AUROC are 0 by convention and would otherwise drag the mean down."""
        present = self.val_counts.compute()[:, -1] > 0  # support: positives per label
        self.val_counts.reset()
        for name, metric in (("f1", self.val_f1), ("auroc", self.val_auroc)):
            values = metric.compute()
            metric.reset()
            self.log(f"val/{name}_macro", values[present].mean() if present.any() else values.new_zeros(()))
            for label, value in zip(self.label_names, values, strict=True):
                self.log(f"val/{name}/{label}", value)
