"""Run tasks over models: answer, score, and gather per-sample rows and metric results with confidence
intervals. Writing files is `outputs.py`'s job, plotting `report.py`'s."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from omnialign.eval.adapters import ModelAdapter
from omnialign.eval.families import chosen_modalities, score_family
from omnialign.eval.items import EvalItem, load_items
from omnialign.eval.judges import Judge, describe
from omnialign.eval.metrics import WinRateMatrix
from omnialign.eval.results import mean, proportion
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


def run_task(
    model: ModelSpec, task: TaskSpec, items: list[EvalItem], root: Path, judges: dict[str, Judge]
) -> list[dict[str, Any]]:
    """Per-sample rows (inputs, output, score, verdict, cost) of one model on one task."""
    prompts = [item.sample(root) for item in items]
    responses = model.adapter.respond(items, root)
    scored = score_family(task.family, items, prompts, responses, _role(judges, task.judge))
    cost_judge = _role(judges, task.cost_judge)
    harm = costs(cost_judge, prompts, responses) if cost_judge is not None else [None] * len(items)
    return [
        {
            "model": model.name,
            "task": task.name,
            "family": task.family,
            "id": item.id,
            "category": item.category,
            "inputs": item.inputs(),
            "output": describe(response),
            "choice": chosen_modalities(response) if task.family == "selection" else None,
            "score": s.score,
            "verdict": s.verdict,
            "cost": h.score if h is not None else None,
            "cost_verdict": h.text if h is not None else None,
        }
        for item, response, s, h in zip(items, responses, scored, harm, strict=True)
    ]


def summarise(rows: list[dict[str, Any]], items: list[EvalItem], resamples: int) -> list[dict[str, Any]]:
    """Mean score (bootstrap CI) overall and per category; for selection, the top-choice rate; with a cost
    judge, safe rates (Wilson)."""
    model, task = rows[0]["model"], rows[0]["task"]
    out = [_mean(model, task, "score", rows, resamples)]
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


def evaluate(
    models: list[ModelSpec],
    tasks: list[TaskSpec],
    judges: dict[str, Judge],
    data_root: Path,
    resamples: int = 1000,
    baseline: str | None = None,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every model on every task; returns (results, per-sample rows). With a `baseline` model name, tasks
    with a cost judge also report the Safe RLHF arena of every other model against it."""
    results: list[dict[str, Any]] = []
    rows: list[dict[str, Any]] = []
    for task in tqdm(tasks, desc="tasks"):
        path = data_root / task.data
        items = load_items(path, task.limit)
        task_rows = []
        for model in tqdm(models, desc=task.name, leave=False):
            model_rows = run_task(model, task, items, path.parent, judges)
            results += summarise(model_rows, items, resamples)
            task_rows += model_rows
        results += win_rates(task.name, task_rows, [m.name for m in models])
        if baseline is not None and task.cost_judge is not None:
            results += arena(task.name, task_rows, baseline)
        rows += task_rows
    return results, rows
