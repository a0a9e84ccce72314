"""Moderation-model benchmark: a multi-label score model (one head per SafeSora harm category, optionally
`unsafe`) on SafeSora label records, per-category precision/recall/F1/AUROC.

Heads are matched to label columns by name, so a model trained on a subset of the categories is scored on
exactly those. Probabilities are the sigmoid of the raw head outputs (a moderation head is a logit; the
reward/cost normaliser does not apply). Precision and recall get Wilson intervals over the examples they are
proportions of (predicted positives, labelled positives); F1 and AUROC are not proportions and get none.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from tqdm.auto import tqdm

from omnialign.data.datamodules.moderation import LABEL_NAMES, ModerationDataModule, ModerationInputs
from omnialign.data.datamodules.preference import UNLABELLED
from omnialign.eval.metrics import ModerationMetrics
from omnialign.eval.results import entry, proportion
from omnialign.models.score import ScoreModel


def score_moderation(
    model: ScoreModel,
    processor: Any,
    files: list[str],
    schema: str = "safesora/labels",
    inputs: ModerationInputs = "prompt+video",
    batch_size: int = 8,
    media_root: str | None = None,
    split: str = "train",
    columns: dict[str, str] | None = None,
) -> tuple[ModerationMetrics, list[dict[str, Any]]]:
    """The filled metric and one row per record (its index, per-category probability and label). The files
    are read as the training datamodule reads them: `split` of a hub id or saved `DatasetDict`, `columns`
    renaming columns (see `SampleDataModule`)."""
    heads = model.config.heads
    unknown = [h for h in heads if h not in LABEL_NAMES]
    if unknown:
        raise ValueError(f"heads {unknown} are not moderation labels; known: {list(LABEL_NAMES)}")
    label_columns = torch.tensor([LABEL_NAMES.index(h) for h in heads])
    datamodule = ModerationDataModule(
        files,
        train_split=split,
        columns=columns,
        schema=schema,
        inputs=inputs,
        batch_size=batch_size,
        media_root=media_root,
    )
    datamodule.attach_processor(processor)
    datamodule.setup("fit")
    metric = ModerationMetrics(list(heads), ignore_index=UNLABELLED)
    rows: list[dict[str, Any]] = []
    model.eval()
    device = next(model.parameters()).device
    for batch in tqdm(datamodule.reference_dataloader("train"), desc="moderation", leave=False):
        targets = batch.pop("targets")
        batch.pop("response_mask")
        with torch.no_grad():
            probs = model(**{key: value.to(device) for key, value in batch.items()}).scores.sigmoid().cpu()
        labels = targets["labels"][:, label_columns]
        metric.update(probs, labels)
        rows += [
            {
                "index": int(i),
                "probs": dict(zip(heads, p.tolist(), strict=True)),
                "labels": dict(zip(heads, y.tolist(), strict=True)),
            }
            for i, p, y in zip(targets["index"], probs, labels, strict=True)
        ]
    return metric, rows


def summarise_moderation(
    model: str, metric: ModerationMetrics, rows: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Results entries per category and macro."""
    values = {key: float(value) for key, value in metric.compute().items()}
    out = []
    for key, value in values.items():
        name, _, category = key.partition("/")
        if category and name in ("precision", "recall"):
            out.append(
                proportion(model, "moderation", key, value, _support(rows, category, name, metric.threshold))
            )
        else:
            out.append(
                entry(
                    model, "moderation", key, value, _labelled(rows, category), (math.nan, math.nan), "none"
                )
            )
    return out


def _labelled(rows: list[dict[str, Any]], category: str) -> int:
    return sum(
        1 for r in rows for c, y in r["labels"].items() if y != UNLABELLED and (c == category or not category)
    )


def _support(rows: list[dict[str, Any]], category: str, name: str, threshold: float) -> int:
    """Precision: labelled examples predicted positive; recall: labelled positives."""
    labelled = [r for r in rows if r["labels"][category] != UNLABELLED]
    if name == "precision":
        return sum(r["probs"][category] >= threshold for r in labelled)
    return sum(r["labels"][category] == 1 for r in labelled)
