"""The HTML report on hand-made results: shared histogram bins, "n/a" with its reason instead of `nan`, the
summary first, sample outputs (prompt and answer media as media, copied into the report), and unparseable
verdicts flagged."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from omnialign.data.fixtures.media_files import write_image, write_wav
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
        "output_media": [],
        "choice": None,
        "judge": "judge",
        "score": score,
        "verdict": verdict,
        "cost_judge": None,
        "cost": None,
        "cost_verdict": None,
    }


def test_report_says_why_a_number_is_missing_and_never_prints_nan(tmp_path):
    write_image(tmp_path / "media/cat.png", 0.5, np.random.default_rng(0))
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
    page = write_report(results, rows, tmp_path, media_root=tmp_path).read_text()
    assert "nan" not in page.lower().replace("nanosecond", "")
    assert "n/a" in page and "no readable verdict: 2 unparseable" in page
    assert "⚠ 2 of 2 verdicts of judge unparseable" in page
    summary, sections = page.split('<section id="task-qa">')
    assert "<img" not in summary and '<td class="num best"><span class="value">0.875</span>' in summary
    assert "What is &lt;b&gt;a&lt;/b&gt;?" in sections  # escaped
    assert sections.count('class="unparsed"') == 2 and "verdict: 2 + 2 = 4" in sections
    assert sorted(p.name for p in tmp_path.glob("*.png")) == [
        "qa-categories.png",
        "qa-scores.png",
        "qa-winrate.png",
    ]


def test_sample_outputs_show_prompt_and_answer_media_as_media(tmp_path):
    """The prompt's image (relative to the data root) and an answer's audio (a path as the adapter gave it)
    become `<img>` and `<audio>` tags on copies inside the report folder; a missing file is named, in red."""
    data = tmp_path / "data"
    write_image(data / "media/cat.png", 0.5, np.random.default_rng(0))
    write_wav(tmp_path / "answers/tone.wav", 440.0)
    row = _row("good", "a", 0.75, "Rating: [[4]]") | {
        "output_media": [{"type": "audio", "path": str(tmp_path / "answers/tone.wav")}]
    }
    lost = _row("good", "b", 0.5, "Rating: [[3]]") | {"inputs": {"prompt": "Hm?", "video": "media/gone.mp4"}}
    results = [mean("good", "qa", "score", [0.75, 0.5], 10)]
    page = write_report(results, [row, lost], tmp_path / "report", media_root=data).read_text()
    assert '<img src="media/task-qa-0-prompt-image.png" alt="image">' in page
    assert '<audio controls preload="metadata" src="media/task-qa-0-answer0-0.wav"' in page
    copied = tmp_path / "report/media"
    assert (copied / "task-qa-0-prompt-image.png").read_bytes() == (data / "media/cat.png").read_bytes()
    assert (copied / "task-qa-0-answer0-0.wav").read_bytes() == (tmp_path / "answers/tone.wav").read_bytes()
    assert f'<span class="unparsed">[video: {Path(data / "media/gone.mp4")} not found]</span>' in page
    assert "<video" not in page
