"""The HTML report on hand-made results: shared histogram bins, "n/a" with its reason instead of `nan`, the
summary first, sample outputs, and unparseable verdicts flagged."""

from __future__ import annotations

import math

import numpy as np

from omnialign.eval.plots import shared_bins
from omnialign.eval.report import write_report
from omnialign.eval.results import count, mean
from omnialign.eval.runner import unparsed_verdicts


def test_shared_bins_show_a_tightly_grouped_model():
    """Scores .50-.51 beside scores spread over [0, 1]: on the shared 20 bins of [0, 1] the tight model fills
    one bin; binned on its own range (what per-model bins did) it spread over 10 like the other one."""
    tight, spread = [0.50, 0.505, 0.51, 0.5025], [0.0, 0.25, 0.5, 0.75, 1.0]
    edges = shared_bins([tight, spread])
    assert edges[0] == 0.0 and edges[-1] == 1.0 and len(edges) == 21
    assert np.count_nonzero(np.histogram(tight, edges)[0]) == 1
    assert np.count_nonzero(np.histogram(tight, bins=10)[0]) >= 3
    rewards = shared_bins([[-2.0, 3.0], [5.0]])  # rewards off [0, 1]: the values' own range
    assert (rewards[0], rewards[-1]) == (-2.0, 5.0)


def _row(model: str, item: str, score: float | None, verdict: str) -> dict:
    return {
        "model": model,
        "task": "qa",
        "family": "understanding",
        "id": item,
        "category": "all",
        "inputs": {"prompt": f"What is <b>{item}</b>?", "image": "media/cat.png", "reference": "4"},
        "output": f"{model} says 4",
        "choice": None,
        "judge": "judge",
        "score": score,
        "verdict": verdict,
        "cost_judge": None,
        "cost": None,
        "cost_verdict": None,
    }


def test_report_says_why_a_number_is_missing_and_never_prints_nan(tmp_path):
    """`mute`'s judge gave no readable rating for its 2 items: its mean is NaN in the results, "n/a" with
    the reason in the report, and the unparseable count is flagged; `good` is the best model."""
    rows = [
        _row("good", "a", 0.75, "Rating: [[4]]"),
        _row("good", "b", 1.0, "Rating: [[5]]"),
        _row("mute", "a", None, "2 + 2 = 4"),
        _row("mute", "b", None, "I think it is fine."),
    ]
    results = []
    for model in ("good", "mute"):
        mine = [r for r in rows if r["model"] == model]
        results += [
            mean(model, "qa", "score", [r["score"] for r in mine if r["score"] is not None], 10),
            *unparsed_verdicts(mine),
        ]
    assert math.isnan(results[2]["value"]) and results[3] == count(
        "mute", "qa", "unparsed_verdicts[judge]", 2, 2
    )
    page = write_report(results, rows, tmp_path).read_text()
    assert "nan" not in page.lower().replace("nanosecond", "")
    assert "n/a" in page and "no readable verdict: 2 unparseable" in page
    assert "⚠ 2 of 2 verdicts of judge unparseable" in page
    summary, sections = page.split('<section id="task-qa">')
    assert "<img" not in summary and '<td class="num best"><span class="value">0.875</span>' in summary
    assert "What is &lt;b&gt;a&lt;/b&gt;?" in sections and "[image: media/cat.png]" in sections  # escaped
    assert sections.count('class="unparsed"') == 2 and "verdict: 2 + 2 = 4" in sections
    assert sorted(p.name for p in tmp_path.glob("*.png")) == [
        "qa-categories.png",
        "qa-scores.png",
        "qa-winrate.png",
    ]
