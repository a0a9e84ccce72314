"""Entries of the results JSON. Every entry has exactly the keys model, task, metric, value, n, ci_low,
ci_high and ci_method, whatever the metric, so downstream tables and dashboards never special-case one.
A number that does not exist (no interval for F1, a mean over zero items) is written as null, never as the
non-standard `NaN` that strict JSON parsers reject."""

from __future__ import annotations

import math
from typing import Any

from omnialign.eval.stats import bootstrap_interval, wilson_interval


def entry(
    model: str, task: str, metric: str, value: float, n: int, ci: tuple[float, float], method: str
) -> dict[str, Any]:
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


def proportion(model: str, task: str, metric: str, share: float, n: int) -> dict[str, Any]:
    """A proportion `share` of `n` items (ties may make it a half-count), with its Wilson interval."""
    return entry(model, task, metric, share, n, wilson_interval(share * n, n), "wilson")


def mean(model: str, task: str, metric: str, values: list[float], resamples: int) -> dict[str, Any]:
    """The mean of `values` with a percentile-bootstrap interval (NaN when there are none)."""
    value = sum(values) / len(values) if values else float("nan")
    return entry(model, task, metric, value, len(values), bootstrap_interval(values, resamples), "bootstrap")


def count(model: str, task: str, metric: str, k: int, n: int) -> dict[str, Any]:
    """A count `k` out of `n` (e.g. unparseable verdicts), reported as is: no interval."""
    return entry(model, task, metric, float(k), n, (math.nan, math.nan), "none")


def as_json(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Entries with NaN replaced by None (JSON null)."""
    return [{k: None if isinstance(v, float) and math.isnan(v) else v for k, v in e.items()} for e in entries]
