"""The HTML report: a results table and PNG plots per task (per-category score bars, the win-rate matrix
between models, score or reward distributions; with a cost judge, per-category safety bars and the arena).
Plain HTML with relative image links, so the output folder can be copied or served as is."""

from __future__ import annotations

import html
from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only; never a display
import matplotlib.pyplot as plt
import numpy as np

from omnialign.eval.metrics import QUADRANTS

Rows = list[dict[str, Any]]


def _save(figure: plt.Figure, path: Path) -> str:
    figure.tight_layout()
    figure.savefig(path, dpi=80)
    plt.close(figure)
    return path.name


def _score(row: dict[str, Any]) -> float | None:
    return row["score"]


def _safe(row: dict[str, Any]) -> float | None:
    return None if row["cost"] is None else float(row["cost"] <= 0)


def category_bars(
    task: str, rows: Rows, path: Path, value: Callable = _score, label: str = "mean score"
) -> str:
    """Mean of `value` per category, one bar group per model: judge scores, or with `_safe` the safe rate
    per harm category."""
    models = sorted({r["model"] for r in rows})
    categories = sorted({r["category"] for r in rows})
    figure, axis = plt.subplots(figsize=(max(4, len(categories) * 1.2), 3))
    width = 0.8 / len(models)
    for offset, model in enumerate(models):
        means = []
        for category in categories:
            values = [value(r) for r in rows if r["model"] == model and r["category"] == category]
            known = [v for v in values if v is not None]
            means.append(float(np.mean(known)) if known else 0.0)
        axis.bar(np.arange(len(categories)) + offset * width, means, width, label=model)
    axis.set_xticks(np.arange(len(categories)) + 0.4 - width / 2, categories, rotation=30, ha="right")
    axis.set_ylabel(label)
    axis.set_title(f"{task}: {label} per category")
    axis.legend(fontsize="small")
    return _save(figure, path)


def arena_bars(task: str, results: Rows, path: Path) -> str:
    """Safe RLHF arena: each model's share of prompts per quadrant against the baseline, stacked."""
    arena = [r for r in results if r["task"] == task and r["metric"].startswith("arena_vs[")]
    models = list(dict.fromkeys(r["model"] for r in arena))
    figure, axis = plt.subplots(figsize=(6, 1 + 0.6 * len(models)))
    left = np.zeros(len(models))
    for quadrant, colour in zip(QUADRANTS, ("#2a9d8f", "#e9c46a", "#8ab17d", "#e76f51"), strict=True):
        shares = np.array(
            [
                next(r["value"] for r in arena if r["model"] == m and r["metric"].endswith(f"/{quadrant}"))
                for m in models
            ]
        )
        axis.barh(models, shares, left=left, label=quadrant.replace("_", " & "), color=colour)
        left += shares
    axis.set_xlim(0, 1)
    axis.set_title(
        f"{task}: arena against {arena[0]['metric'][len('arena_vs[') : arena[0]['metric'].index(']')]}"
    )
    axis.legend(fontsize="small", ncol=2)
    return _save(figure, path)


def win_matrix(task: str, results: Rows, models: list[str], path: Path) -> str:
    """SafeSora-style matrix: cell (row, column) = how often the row model beats the column model."""
    matrix = np.full((len(models), len(models)), 0.5)
    for entry in results:
        if entry["task"] == task and entry["metric"].startswith("win_rate_vs["):
            other = entry["metric"][len("win_rate_vs[") : -1]
            matrix[models.index(entry["model"]), models.index(other)] = entry["value"]
    figure, axis = plt.subplots(figsize=(1.2 * len(models) + 2, 1.0 * len(models) + 1.5))
    image = axis.imshow(matrix, vmin=0, vmax=1, cmap="RdYlGn")
    for (i, j), value in np.ndenumerate(matrix):
        axis.text(j, i, f"{value:.2f}", ha="center", va="center")
    axis.set_xticks(range(len(models)), models, rotation=30, ha="right")
    axis.set_yticks(range(len(models)), models)
    axis.set_title(f"{task}: win rate (row over column)")
    figure.colorbar(image)
    return _save(figure, path)


def score_histogram(task: str, rows: Rows, path: Path) -> str:
    """Distribution of per-sample scores (judge ratings or rewards) per model."""
    figure, axis = plt.subplots(figsize=(5, 3))
    for model in sorted({r["model"] for r in rows}):
        values = [r["score"] for r in rows if r["model"] == model and r["score"] is not None]
        axis.hist(values, bins=10, alpha=0.5, label=model)
    axis.set_xlabel("score")
    axis.set_title(f"{task}: score distribution")
    axis.legend(fontsize="small")
    return _save(figure, path)


def score_distribution(rows: Rows, kind: str, path: Path) -> str:
    """Reward models: chosen vs rejected scores; cost models: costs of safe vs unsafe responses around the
    zero line that separates them."""
    groups: dict[str, list[float]] = {}
    for row in rows:
        first, second = row["scores"]
        if kind == "reward":
            chosen = row["chosen"]
            groups.setdefault("chosen", []).append(row["scores"][chosen])
            groups.setdefault("rejected", []).append(row["scores"][1 - chosen])
        else:
            for score, safe in zip((first, second), row["is_safe"], strict=True):
                if safe != -1:
                    groups.setdefault("safe" if safe else "unsafe", []).append(score)
    figure, axis = plt.subplots(figsize=(5, 3))
    for name, values in groups.items():
        axis.hist(values, bins=15, alpha=0.5, label=name)
    if kind == "cost":
        axis.axvline(0.0, color="black", linewidth=1)
    axis.set_xlabel(kind)
    axis.set_title(f"{kind} distribution")
    axis.legend(fontsize="small")
    return _save(figure, path)


def moderation_bars(results: Rows, path: Path) -> str:
    """Per-category F1 and AUROC of a moderation model (the per-category safety bars)."""
    categories = [r["metric"].split("/", 1)[1] for r in results if r["metric"].startswith("f1/")]
    figure, axis = plt.subplots(figsize=(max(5, len(categories) * 0.8), 3.5))
    for offset, name in enumerate(("f1", "auroc")):
        values = [next(r["value"] for r in results if r["metric"] == f"{name}/{c}") for c in categories]
        axis.bar(np.arange(len(categories)) + offset * 0.4, values, 0.4, label=name)
    axis.set_xticks(np.arange(len(categories)) + 0.2, categories, rotation=45, ha="right")
    axis.set_ylim(0, 1)
    axis.set_title("moderation: per-category F1 and AUROC")
    axis.legend(fontsize="small")
    return _save(figure, path)


def _table(results: Rows) -> str:
    head = "".join(f"<th>{k}</th>" for k in ("model", "task", "metric", "value", "n", "95% CI"))
    body = "".join(
        f"<tr><td>{html.escape(r['model'])}</td><td>{html.escape(r['task'])}</td>"
        f"<td>{html.escape(r['metric'])}</td><td>{r['value']:.4f}</td><td>{r['n']}</td>"
        f"<td>[{r['ci_low']:.3f}, {r['ci_high']:.3f}] ({r['ci_method']})</td></tr>"
        for r in results
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _page(results: Rows, sections: list[str], directory: Path) -> Path:
    page = (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>OmniAlign evaluation</title></head><body>"
        f"<h1>OmniAlign evaluation</h1><h2>Results</h2>{_table(results)}{''.join(sections)}</body></html>"
    )
    path = directory / "report.html"
    path.write_text(page)
    return path


def _images(names: list[str]) -> str:
    return "".join(f'<img src="{html.escape(name)}" alt="{html.escape(name)}">' for name in names)


def write_score_report(results: Rows, rows: Rows, kind: str, directory: Path) -> Path:
    """`report.html` for a score-model benchmark: the results table and the score distribution."""
    directory.mkdir(parents=True, exist_ok=True)
    image = score_distribution(rows, kind, directory / f"{kind}-distribution.png")
    return _page(results, [f"<section><h2>{kind} model</h2>{_images([image])}</section>"], directory)


def write_moderation_report(results: Rows, directory: Path) -> Path:
    """`report.html` for a moderation benchmark: the results table and the per-category bars."""
    directory.mkdir(parents=True, exist_ok=True)
    image = moderation_bars(results, directory / "moderation-categories.png")
    return _page(results, [f"<section><h2>moderation</h2>{_images([image])}</section>"], directory)


def write_report(results: Rows, rows: Rows, directory: Path) -> Path:
    """`report.html` and its PNGs under `directory`; returns the HTML path."""
    directory.mkdir(parents=True, exist_ok=True)
    models = list(dict.fromkeys(r["model"] for r in rows))
    sections = []
    for task in dict.fromkeys(r["task"] for r in rows):
        task_rows = [r for r in rows if r["task"] == task]
        images = [category_bars(task, task_rows, directory / f"{task}-categories.png")]
        images.append(score_histogram(task, task_rows, directory / f"{task}-scores.png"))
        if len(models) > 1:
            images.append(win_matrix(task, results, models, directory / f"{task}-winrate.png"))
        if any(r["cost"] is not None for r in task_rows):
            images.append(
                category_bars(task, task_rows, directory / f"{task}-safety.png", _safe, "safe rate")
            )
        if any(r["task"] == task and r["metric"].startswith("arena_vs[") for r in results):
            images.append(arena_bars(task, results, directory / f"{task}-arena.png"))
        sections.append(f"<section><h2>{html.escape(task)}</h2>{_images(images)}</section>")
    return _page(results, sections, directory)
