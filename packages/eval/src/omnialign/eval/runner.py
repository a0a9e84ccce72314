"""Run tasks over models: answer, score, and gather per-sample rows and metric results with confidence
intervals. Writing files is `outputs.py`'s job, plotting `report.py`'s."""

from __future__ import annotations

import math
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
from omnialign.eval.stats import bootstrap_interval, wilson_interval
from omnialign.eval.tasks import TaskSpec


@dataclass
class ModelSpec:
    name: str
    """Name shown in results and plots."""
    adapter: ModelAdapter
    """How the model answers (`LocalGenerator`, `ResponseFile`, ...)."""


def result(
    model: str, task: str, metric: str, value: float, n: int, ci: tuple[float, float], method: str
) -> dict[str, Any]:
    """One results-JSON entry; every entry has exactly these keys."""
    return {
        "model": model,
        "task": task,
        "metric": metric,
        "value": value,
        "n": n,
        "ci_low": ci[0],
        "ci_high": ci[1],
        "ci_method": method,
    }


def run_task(
    model: ModelSpec, task: TaskSpec, items: list[EvalItem], root: Path, judge: Judge | None
) -> list[dict[str, Any]]:
    """Per-sample rows (inputs, output, score, verdict) of one model on one task."""
    prompts = [item.sample(root) for item in items]
    responses = model.adapter.respond(items, root)
    scored = score_family(task.family, items, prompts, responses, judge)
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
        }
        for item, response, s in zip(items, responses, scored, strict=True)
    ]


def summarise(rows: list[dict[str, Any]], items: list[EvalItem], resamples: int) -> list[dict[str, Any]]:
    """Mean score (bootstrap CI) overall and per category; for selection, the top-choice rate (Wilson)."""
    model, task = rows[0]["model"], rows[0]["task"]
    out = [_mean(model, task, "score", rows, resamples)]
    categories = sorted({row["category"] for row in rows})
    if len(categories) > 1:
        for category in categories:
            subset = [row for row in rows if row["category"] == category]
            out.append(_mean(model, task, f"score[{category}]", subset, resamples))
    if rows[0]["family"] == "selection":
        top = [row["choice"] == _top_choice(item) for row, item in zip(rows, items, strict=True)]
        out.append(
            result(
                model,
                task,
                "top_choice",
                sum(top) / len(top),
                len(top),
                wilson_interval(sum(top), len(top)),
                "wilson",
            )
        )
    return out


def _top_choice(item: EvalItem) -> str:
    key = max(item.votes, key=item.votes.__getitem__)
    return "+".join(sorted(key.split("+")))


def _mean(model: str, task: str, metric: str, rows: list[dict[str, Any]], resamples: int) -> dict[str, Any]:
    values = [row["score"] for row in rows if row["score"] is not None]
    value = sum(values) / len(values) if values else math.nan
    return result(model, task, metric, value, len(values), bootstrap_interval(values, resamples), "bootstrap")


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
        result(
            a,
            task,
            f"win_rate_vs[{b}]",
            float(rates[i, j]),
            len(ids),
            wilson_interval(float(rates[i, j]) * len(ids), len(ids)),
            "wilson",
        )
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
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every model on every task; returns (results, per-sample rows)."""
    results: list[dict[str, Any]] = []
    rows: list[dict[str, Any]] = []
    for task in tqdm(tasks, desc="tasks"):
        path = data_root / task.data
        items = load_items(path, task.limit)
        judge = judges[task.judge] if task.judge is not None else None
        task_rows = []
        for model in tqdm(models, desc=task.name, leave=False):
            model_rows = run_task(model, task, items, path.parent, judge)
            results += summarise(model_rows, items, resamples)
            task_rows += model_rows
        results += win_rates(task.name, task_rows, [m.name for m in models])
        rows += task_rows
    return results, rows
