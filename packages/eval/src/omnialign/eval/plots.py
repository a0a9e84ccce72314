"""The report's figures, one PNG each: per-category bars, the score distribution on bins every model shares,
the win-rate matrix, the Safe RLHF arena, and the score-model and moderation plots. Sized to be read at the
report's width (about 840 px wide)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only; never a display
import matplotlib.pyplot as plt
import numpy as np

from omnialign.eval.metrics import QUADRANTS

Rows = list[dict[str, Any]]
DPI = 120
WIDE = (7.0, 3.8)


def _save(figure: plt.Figure, path: Path) -> str:
    figure.tight_layout()
    figure.savefig(path, dpi=DPI)
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
    per harm category. A category where a model has no value gets no bar and an `n/a` mark, not a zero."""
    models = list(dict.fromkeys(r["model"] for r in rows))
    categories = sorted({r["category"] for r in rows})
    figure, axis = plt.subplots(figsize=(max(WIDE[0], len(categories) * 1.4), WIDE[1]))
    width = 0.8 / len(models)
    for offset, model in enumerate(models):
        for position, category in enumerate(categories):
            values = [value(r) for r in rows if r["model"] == model and r["category"] == category]
            known = [v for v in values if v is not None]
            x = position + offset * width
            if known:
                axis.bar(
                    x,
                    float(np.mean(known)),
                    width,
                    color=f"C{offset}",
                    label=model if position == 0 else None,
                )
            else:
                axis.text(x, 0.01, "n/a", ha="center", va="bottom", fontsize="small", color=f"C{offset}")
    axis.set_xticks(np.arange(len(categories)) + 0.4 - width / 2, categories, rotation=30, ha="right")
    axis.margins(x=0.4 if len(categories) == 1 else 0.05)  # one category: no bars as wide as the plot
    axis.set_ylabel(label)
    axis.set_title(f"{task}: {label} per category")
    _legend(axis, models)
    return _save(figure, path)


def _legend(axis: plt.Axes, models: list[str]) -> None:
    """One legend entry per model, even for a model every bar of which is n/a."""
    handles = [plt.Rectangle((0, 0), 1, 1, color=f"C{i}") for i in range(len(models))]
    axis.legend(handles, models, fontsize="small", loc="upper left", bbox_to_anchor=(1.0, 1.0))


def arena_bars(task: str, results: Rows, path: Path) -> str:
    """Safe RLHF arena: each model's share of prompts per quadrant against the baseline, stacked."""
    arena = [r for r in results if r["task"] == task and r["metric"].startswith("arena_vs[")]
    models = list(dict.fromkeys(r["model"] for r in arena))
    figure, axis = plt.subplots(figsize=(WIDE[0], 1.5 + 0.7 * len(models)))
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
    matrix = np.full((len(models), len(models)), np.nan)  # the diagonal and pairs without common items
    for entry in results:
        if entry["task"] == task and entry["metric"].startswith("win_rate_vs["):
            other = entry["metric"][len("win_rate_vs[") : -1]
            matrix[models.index(entry["model"]), models.index(other)] = entry["value"]
    figure, axis = plt.subplots(figsize=(WIDE[0], max(WIDE[1], 0.7 * len(models) + 1.5)))
    image = axis.imshow(matrix, vmin=0, vmax=1, cmap="RdYlGn")
    for (i, j), value in np.ndenumerate(matrix):
        shown = "—" if i == j else ("n/a" if np.isnan(value) else f"{value:.2f}")
        axis.text(j, i, shown, ha="center", va="center")
    axis.set_xticks(range(len(models)), models, rotation=30, ha="right")
    axis.set_yticks(range(len(models)), models)
    axis.set_title(f"{task}: win rate (row over column)")
    figure.colorbar(image)
    return _save(figure, path)


def shared_bins(groups: list[list[float]], count: int = 20) -> np.ndarray:
    """Bin edges every model's histogram shares: `count` equal bins over [0, 1] when all values lie there
    (judge scores), else over the values' range. Per-model bins would stretch a tightly grouped model over
    as many bins as a spread-out one and hide the difference."""
    values = np.concatenate([np.asarray(group, dtype=np.float64) for group in groups if group] or [[0.0]])
    low, high = float(values.min()), float(values.max())
    if low >= 0.0 and high <= 1.0:
        low, high = 0.0, 1.0
    elif low == high:
        low, high = low - 0.5, high + 0.5
    return np.linspace(low, high, count + 1)


def score_histogram(task: str, rows: Rows, path: Path) -> str:
    """Distribution of per-sample scores (judge ratings or rewards) per model on shared bins, side by side,
    with each model's mean as a dashed line."""
    models = list(dict.fromkeys(r["model"] for r in rows))
    groups = [[r["score"] for r in rows if r["model"] == m and r["score"] is not None] for m in models]
    figure, axis = plt.subplots(figsize=WIDE)
    kept = [(i, model, group) for i, (model, group) in enumerate(zip(models, groups, strict=True)) if group]
    if kept:
        axis.hist(
            [group for _, _, group in kept],
            bins=shared_bins(groups),
            color=[f"C{i}" for i, _, _ in kept],
            label=[model for _, model, _ in kept],
        )
        for i, _, group in kept:
            axis.axvline(float(np.mean(group)), color=f"C{i}", linestyle="--", linewidth=1.5)
    axis.set_xlabel("score (dashed: mean)")
    axis.set_ylabel("items")
    axis.set_title(f"{task}: score distribution")
    _legend(axis, models)
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
    figure, axis = plt.subplots(figsize=WIDE)
    names = list(groups)
    axis.hist([groups[name] for name in names], bins=shared_bins(list(groups.values()), 15), label=names)
    if kind == "cost":
        axis.axvline(0.0, color="black", linewidth=1)
    axis.set_xlabel(kind)
    axis.set_title(f"{kind} distribution")
    axis.legend(fontsize="small")
    return _save(figure, path)


def moderation_bars(results: Rows, path: Path) -> str:
    """Per-category F1 and AUROC of a moderation model (the per-category safety bars)."""
    categories = [r["metric"].split("/", 1)[1] for r in results if r["metric"].startswith("f1/")]
    figure, axis = plt.subplots(figsize=(max(WIDE[0], len(categories) * 0.8), WIDE[1]))
    for offset, name in enumerate(("f1", "auroc")):
        values = [next(r["value"] for r in results if r["metric"] == f"{name}/{c}") for c in categories]
        axis.bar(np.arange(len(categories)) + offset * 0.4, values, 0.4, label=name)
    axis.set_xticks(np.arange(len(categories)) + 0.2, categories, rotation=45, ha="right")
    axis.set_ylim(0, 1)
    axis.set_title("moderation: per-category F1 and AUROC")
    axis.legend(fontsize="small")
    return _save(figure, path)
