"""Score-model benchmarks, RewardBench-style: a trained reward or cost model (`ScoreModel`) on preference
pairs, one subset per group of files, reported per subset and overall.

Reward models get preference accuracy and margin (`PreferenceAccuracy`, macro over subsets as RewardBench
does); cost models ranking and sign accuracy (`CostAccuracy`, cost > 0 means unsafe). Pairs whose safety
labels are missing (`UNLABELLED`) are left out of the cost metrics, never read as safe.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import Tensor
from tqdm.auto import tqdm

from omnialign.data.datamodules.preference import UNLABELLED, PreferenceDataModule
from omnialign.eval.metrics import CostAccuracy, PreferenceAccuracy
from omnialign.eval.results import mean, proportion
from omnialign.models.score import ScoreModel

ScoreKind = Literal["reward", "cost"]


@dataclass
class ScoreSubset:
    name: str
    """Subset name in the report (RewardBench: chat, chat-hard, safety, reasoning ...)."""
    files: list[str]
    """Preference files of this subset."""


def _pick(index: Tensor, first: Tensor, second: Tensor) -> tuple[Tensor, Tensor]:
    """(score of response `index`, score of the other one) per pair."""
    return torch.where(index == 0, first, second), torch.where(index == 0, second, first)


def _pair_scores(model: ScoreModel, datamodule: PreferenceDataModule, head: int) -> Any:
    """(first, second, targets) per batch, in file order; scores computed where the model is, returned on
    the CPU beside the targets."""
    device = next(model.parameters()).device
    for batch in tqdm(datamodule.reference_dataloader("train"), desc="score", leave=False):
        targets = batch.pop("targets")
        batch.pop("response_mask")
        scores = model.score(**{key: value.to(device) for key, value in batch.items()})[:, head].cpu()
        first, second = scores.chunk(2)
        yield first, second, targets


def score_pairs(
    model: ScoreModel,
    processor: Any,
    subsets: list[ScoreSubset],
    kind: ScoreKind,
    head: str,
    schema: str = "pku-saferlhf",
    dimension: str | None = None,
    batch_size: int = 8,
    media_root: str | None = None,
    split: str = "train",
    columns: dict[str, str] | None = None,
    dimension_letters: dict[str, str] | None = None,
) -> tuple[PreferenceAccuracy | CostAccuracy, list[dict[str, Any]]]:
    """The filled metric and one row per pair (subset, row, both scores, labels); `dimension` is the
    preference that decides `chosen` (None: the schema's default). The files are read as the training
    datamodules read them: `split` of a hub id or saved `DatasetDict`, `columns` and `dimension_letters`
    renaming columns (see `SampleDataModule`)."""
    metric = PreferenceAccuracy([s.name for s in subsets]) if kind == "reward" else CostAccuracy()
    rows: list[dict[str, Any]] = []
    model.eval()
    for number, subset in enumerate(subsets):
        datamodule = PreferenceDataModule(
            subset.files,
            train_split=split,
            columns=columns,
            dimension_letters=dimension_letters,
            schema=schema,
            dimension=dimension,
            batch_size=batch_size,
            media_root=media_root,
        )
        datamodule.attach_processor(processor)
        datamodule.setup("fit")
        for first, second, targets in _pair_scores(model, datamodule, model.head_index(head)):
            rows += _rows(subset.name, first, second, targets)
            if kind == "reward":
                metric.update(
                    *_pick(targets["chosen"], first, second), torch.full_like(targets["chosen"], number)
                )
            else:
                _update_cost(metric, first, second, targets)
    return metric, rows


def _update_cost(metric: CostAccuracy, first: Tensor, second: Tensor, targets: dict[str, Tensor]) -> None:
    safer, is_safe = targets["safer"], targets["is_safe"]
    known = (safer != UNLABELLED) & (is_safe != UNLABELLED).all(-1)
    safer, is_safe, first, second = safer[known], is_safe[known].bool(), first[known], second[known]
    safer_cost, other_cost = _pick(safer, first, second)
    safer_flag, other_flag = _pick(safer, is_safe[:, 0], is_safe[:, 1])
    metric.update(safer_cost, other_cost, safer_flag, other_flag)


def _rows(subset: str, first: Tensor, second: Tensor, targets: dict[str, Tensor]) -> list[dict[str, Any]]:
    labels = {k: v.tolist() for k, v in targets.items() if k in ("chosen", "safer", "is_safe")}
    return [
        {"subset": subset, "index": int(targets["index"][i]), "scores": [float(first[i]), float(second[i])]}
        | {k: v[i] for k, v in labels.items()}
        for i in range(len(first))
    ]


def summarise_scores(
    model: str, kind: ScoreKind, metric: PreferenceAccuracy | CostAccuracy, rows: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Results entries: proportions with Wilson intervals, margins with bootstrap intervals."""
    values = {k: float(v) for k, v in metric.compute().items()}
    if kind == "cost":
        pairs, responses = int(metric.pairs), int(metric.responses)
        return [
            proportion(model, "pairs", "ranking_accuracy", values["ranking_accuracy"], pairs),
            proportion(model, "pairs", "sign_accuracy", values["sign_accuracy"], responses),
        ]
    out = [proportion(model, "pairs", "accuracy", values["accuracy"], len(rows))]
    out.append(mean(model, "pairs", "margin", [_margin(r) for r in rows], 1000))
    subsets = list(dict.fromkeys(r["subset"] for r in rows))
    for subset in subsets if len(subsets) > 1 else []:
        chosen = [r for r in rows if r["subset"] == subset]
        out.append(proportion(model, subset, "accuracy", values[f"accuracy/{subset}"], len(chosen)))
        out.append(mean(model, subset, "margin", [_margin(r) for r in chosen], 1000))
    if "accuracy/macro" in values:
        out.append(proportion(model, "pairs", "accuracy/macro", values["accuracy/macro"], len(rows)))
    return out


def _margin(row: dict[str, Any]) -> float:
    chosen = row["chosen"]
    return row["scores"][chosen] - row["scores"][1 - chosen]
