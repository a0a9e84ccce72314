"""Run tasks over models: answer, score, and gather per-sample rows and metric results with confidence
intervals, one process or several (`distributed.Shards`). Writing files is `cli.py`'s job, plotting
`report.py`'s."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from omnialign.eval.adapters import ModelAdapter
from omnialign.eval.distributed import Shards, progress
from omnialign.eval.families import chosen_modalities, score_family
from omnialign.eval.image_metrics import ImageMetricOptions, image_metric_results
from omnialign.eval.items import EvalItem, Response, load_items
from omnialign.eval.judges import Judge, describe
from omnialign.eval.metrics import WinRateMatrix
from omnialign.eval.results import count, mean, proportion
from omnialign.eval.safety import arena, costs, safe_rates
from omnialign.eval.tasks import TaskSpec


@dataclass
class ModelSpec:
    name: str
    """Name shown in results and plots."""
    adapter: ModelAdapter
    """How the model answers (`LocalGenerator`, `ResponseFile`, ...)."""


def _role(judges: dict[str, Judge], role: str | None) -> Judge | None:
    return judges[role] if role is not None else None


def score_rows(
    model: str,
    task: TaskSpec,
    items: list[EvalItem],
    responses: list[Response],
    root: Path,
    judges: dict[str, Judge],
) -> list[dict[str, Any]]:
    """Per-sample rows (inputs, output, score, verdict, cost) of one model's `responses` to `items`;
    `output_media` lists the answer's media files, which the report shows as media."""
    prompts = [item.sample(root) for item in items]
    scored = score_family(task.family, items, prompts, responses, _role(judges, task.judge))
    cost_judge = _role(judges, task.cost_judge)
    harm = costs(cost_judge, prompts, responses) if cost_judge is not None else [None] * len(items)
    return [
        {
            "model": model,
            "task": task.name,
            "family": task.family,
            "id": item.id,
            "category": item.category,
            "inputs": item.inputs(),
            "output": describe(response),
            "output_media": [
                {"type": p.type, "path": p.media.path}
                for p in response
                if p.media is not None and p.media.path is not None
            ],
            "choice": chosen_modalities(response) if task.family == "selection" else None,
            "judge": task.judge if s.judged else None,
            "score": s.score,
            "verdict": s.verdict,
            "cost_judge": task.cost_judge if h is not None else None,
            "cost": h.score if h is not None else None,
            "cost_verdict": h.text if h is not None else None,
        }
        for item, response, s, h in zip(items, responses, scored, harm, strict=True)
    ]


def summarise(rows: list[dict[str, Any]], items: list[EvalItem], resamples: int) -> list[dict[str, Any]]:
    """Mean score (bootstrap CI) overall and per category; for selection, the top-choice rate; with a cost
    judge, safe rates (Wilson); per judge, how many of its verdicts were unparseable."""
    model, task = rows[0]["model"], rows[0]["task"]
    out = [_mean(model, task, "score", rows, resamples), *unparsed_verdicts(rows)]
    categories = sorted({row["category"] for row in rows})
    if len(categories) > 1:
        for category in categories:
            subset = [row for row in rows if row["category"] == category]
            out.append(_mean(model, task, f"score[{category}]", subset, resamples))
    if rows[0]["family"] == "selection":
        top = [row["choice"] == _top_choice(item) for row, item in zip(rows, items, strict=True)]
        out.append(proportion(model, task, "top_choice", sum(top) / len(top), len(top)))
    if any(row["cost"] is not None for row in rows):
        out += safe_rates(rows)
    return out


def unparsed_verdicts(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`unparsed_verdicts[<role>]` for each judge role that gave verdicts on one model's task: how many of
    them had no readable rating (score None) out of how many it gave. Those items are left out of the
    means, so the count says how much of `n` they cost."""
    model, task = rows[0]["model"], rows[0]["task"]
    given: dict[str, list[bool]] = {}
    for row in rows:
        for role, value in ((row["judge"], row["score"]), (row["cost_judge"], row["cost"])):
            if role is not None:
                given.setdefault(role, []).append(value is None)
    return [
        count(model, task, f"unparsed_verdicts[{role}]", sum(unparsed), len(unparsed))
        for role, unparsed in given.items()
    ]


def _top_choice(item: EvalItem) -> str:
    key = max(item.votes, key=item.votes.__getitem__)
    return "+".join(sorted(key.split("+")))


def _mean(model: str, task: str, metric: str, rows: list[dict[str, Any]], resamples: int) -> dict[str, Any]:
    return mean(model, task, metric, [row["score"] for row in rows if row["score"] is not None], resamples)


def win_rates(task: str, rows: list[dict[str, Any]], models: list[str]) -> list[dict[str, Any]]:
    """Pairwise win rates (ties half) over the items every model has a score for, Wilson intervals."""
    scores = {(row["model"], row["id"]): row["score"] for row in rows}
    ids = sorted({row["id"] for row in rows if all(scores.get((m, row["id"])) is not None for m in models)})
    if len(models) < 2 or not ids:
        return []
    matrix = WinRateMatrix(len(models))
    matrix.update(torch.tensor([[scores[(m, i)] for m in models] for i in ids], dtype=torch.float64))
    rates = matrix.compute()
    return [
        proportion(a, task, f"win_rate_vs[{b}]", float(rates[i, j]), len(ids))
        for i, a in enumerate(models)
        for j, b in enumerate(models)
        if i != j
    ]


@dataclass
class RunOptions:
    """How `evaluate` runs, beyond what it evaluates."""

    data_root: Path
    resamples: int = 1000
    baseline: str | None = None
    image_metrics: ImageMetricOptions = field(default_factory=ImageMetricOptions)
    shards: Shards = field(default_factory=Shards.current)


def _task_results(
    models: list[ModelSpec], task: TaskSpec, judges: dict[str, Judge], run: RunOptions
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """One task: this rank answers and judges its shard of the items; rows are merged back into item order
    before anything is summarised, so every rank computes the single-process numbers."""
    path = run.data_root / task.data
    items = load_items(path, task.limit)
    mine = run.shards.take(items)
    results: list[dict[str, Any]] = []
    rows: list[dict[str, Any]] = []
    for model in progress(models, task.name):
        responses = model.adapter.respond(mine, path.parent)
        model_rows = run.shards.merge(score_rows(model.name, task, mine, responses, path.parent, judges))
        results += summarise(model_rows, items, run.resamples)
        if task.image_metrics:
            results += image_metric_results(
                model.name, task, mine, responses, run.data_root, run.image_metrics, run.shards
            )
        rows += model_rows
    results += win_rates(task.name, rows, [m.name for m in models])
    if run.baseline is not None and task.cost_judge is not None:
        results += arena(task.name, rows, run.baseline)
    return results, rows


def evaluate(
    models: list[ModelSpec], tasks: list[TaskSpec], judges: dict[str, Judge], run: RunOptions
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every model on every task; returns (results, per-sample rows), the same on every rank. With a
    `baseline` model name, tasks with a cost judge also report the Safe RLHF arena of every other model
    against it."""
    results: list[dict[str, Any]] = []
    rows: list[dict[str, Any]] = []
    for task in progress(tasks, "tasks"):
        task_results, task_rows = _task_results(models, task, judges, run)
        results += task_results
        rows += task_rows
    return results, rows
