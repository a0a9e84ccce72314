"""apps/evaluate.py end to end on the shipped tiny config: every task family on two pretend models, judged by
tiny random LMs, writing the results JSON, the per-sample JSONL and an HTML report whose PNGs open."""

from __future__ import annotations

import io
import json
from contextlib import chdir, redirect_stdout
from html.parser import HTMLParser
from pathlib import Path

import pytest
from PIL import Image

from omnialign.eval.cli import main
from omnialign.eval.fixtures import write_eval_fixture

ROOT = Path(__file__).resolve().parents[2]
RESULT_KEYS = {"model", "task", "metric", "value", "n", "ci_low", "ci_high", "ci_method"}


class ReportParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.images: list[str] = []
        self.rows = 0

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.images.append(dict(attrs)["src"])
        self.rows += tag == "tr"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("eval")
    write_eval_fixture(work / "eval-data")
    config = ROOT / "configs/eval/tiny.yaml"
    args = ["tasks", "--config", str(config), "--registry", str(ROOT / "configs/eval/registry.yaml")]
    args += ["--data_root", str(work / "eval-data"), "--output_dir", str(work / "out")]
    with chdir(work), redirect_stdout(io.StringIO()) as printed:  # response files are relative to cwd
        main(args)
    (work / "printed.txt").write_text(printed.getvalue())
    return work / "out"


@pytest.mark.slow
def test_the_app_says_where_its_outputs_are(run_dir):
    """The app ends by printing where results.json, samples.jsonl and the report are, and they are there."""
    printed = (run_dir.parent / "printed.txt").read_text().splitlines()
    names = {"results": "results.json", "samples": "samples.jsonl", "report": "report/report.html"}
    lines = [line for line in printed if line.split(":")[0] in names]
    assert lines == [f"{key}: {run_dir / name}" for key, name in names.items()]
    assert all((run_dir / name).is_file() for name in names.values())


def _results(run_dir: Path) -> dict[tuple[str, str, str], dict]:
    entries = json.loads((run_dir / "results.json").read_text())
    assert all(set(entry) == RESULT_KEYS for entry in entries)
    return {(e["model"], e["task"], e["metric"]): e for e in entries}


@pytest.mark.slow
def test_selection_scores_by_hand(run_dir):
    """strong picks the top vote: s-1 text (6/10), s-2 image+text (3/4) → .675; weak picks the least voted:
    image (1/10), audio (1/4) → .175. strong beats weak on both items: win rate 1, Wilson [.3424, 1]."""
    results = _results(run_dir)
    assert results["strong", "selection", "score"]["value"] == pytest.approx(0.675)
    assert results["weak", "selection", "score"]["value"] == pytest.approx(0.175)
    assert results["strong", "selection", "top_choice"]["value"] == 1.0
    assert results["weak", "selection", "top_choice"]["value"] == 0.0
    win = results["strong", "selection", "win_rate_vs[weak]"]
    assert (win["value"], win["n"]) == (1.0, 2)
    assert (win["ci_low"], win["ci_high"]) == pytest.approx((0.3424, 1.0), abs=1e-4)


@pytest.mark.slow
def test_judged_families_score_every_item(run_dir):
    """Judged scores lie in [0, 1]; weak's text-only answers to image/audio/video instructions score 0."""
    results = _results(run_dir)
    for task in ("understanding", "generation", "synergy"):
        for model in ("strong", "weak"):
            entry = results[model, task, "score"]
            assert 0.0 <= entry["ci_low"] <= entry["value"] <= entry["ci_high"] <= 1.0
    assert results["strong", "understanding", "score"]["n"] == 4
    for modality in ("image", "audio", "video"):
        assert results["weak", "generation", f"score[{modality}]"]["value"] == 0.0
        assert results["strong", "generation", f"score[{modality}]"]["value"] > 0.0


@pytest.mark.slow
def test_per_sample_rows_trace_inputs_outputs_and_verdicts(run_dir):
    rows = [json.loads(line) for line in (run_dir / "samples.jsonl").read_text().splitlines()]
    assert len(rows) == 2 * (4 + 4 + 2 + 2 + 4)
    video = next(r for r in rows if r["model"] == "strong" and r["id"] == "u-video")
    expected_inputs = {"prompt": "Where does the bar move?", "video": "media/bar.mp4", "reference": "down"}
    assert video["inputs"] == expected_inputs
    assert video["output"] == "down" and video["verdict"].startswith("expected rating")
    generated = next(r for r in rows if r["model"] == "strong" and r["id"] == "g-image")
    assert generated["output"].startswith("[image: ")
    assert generated["output"].endswith("cat.png] Here you go.")


@pytest.mark.slow
def test_report_parses_and_its_pngs_open(run_dir):
    """The summary (model × task) comes before any plot; per task: score distribution, category bars and the
    win-rate matrix, each a PNG at least 600 px wide; every results entry is in a per-task table."""
    page = (run_dir / "report/report.html").read_text()
    parser = ReportParser()
    parser.feed(page)
    entries = json.loads((run_dir / "results.json").read_text())
    summary_rows, tasks = 1 + 2, 5  # header + one row per model; one header row per task's metrics table
    assert parser.rows == summary_rows + len(entries) + tasks
    assert page.index("<h2>Summary</h2>") < page.index("<table") < page.index("<img")
    plots = [name for name in parser.images if not name.startswith("media/")]
    assert len(plots) == 5 * 3
    for name in plots:
        with Image.open(run_dir / "report" / name) as image:
            assert image.format == "PNG" and image.size[0] >= 600


@pytest.mark.slow
def test_report_shows_prompt_and_answer_media_as_media(run_dir):
    """The sample outputs' media are tags on copies in report/media/: the prompts' image, audio and video
    (understanding, synergy) and strong's generated image, audio and video (generation, synergy,
    image_generation: 4 items shown per task); weak answers in text only. No placeholder text for a prompt."""
    page = (run_dir / "report/report.html").read_text()
    parser = ReportParser()
    parser.feed(page)
    media = [name for name in parser.images if name.startswith("media/")]
    prompt_images = [name for name in media if "-prompt-" in name]
    assert len(prompt_images) == 1 and len(media) == 1 + 1 + 2 + 4, media
    assert page.count('<audio controls preload="metadata" src="media/') == 3
    assert page.count('<video controls preload="metadata" src="media/') == 3
    assert "[image: media/" not in page and "[audio: media/" not in page and "[video: media/" not in page
    copies = {path.name: path for path in (run_dir / "report/media").iterdir()}
    assert len(copies) == 8 + 3 + 3
    data = run_dir.parent / "eval-data/media"
    assert copies["task-understanding-1-prompt-image.png"].read_bytes() == (data / "cat.png").read_bytes()
    assert copies["task-understanding-3-prompt-video.mp4"].read_bytes() == (data / "bar.mp4").read_bytes()


@pytest.mark.slow
def test_report_in_a_browser(run_dir, render):
    """Opened by file:// in chromium: every image (plots and sample media) decodes, every audio and video
    player reads its file's duration, nothing logs an error, `nan` appears nowhere, and the sample outputs
    show the prompts; the screenshot is kept under artifacts/."""
    shown = render(run_dir / "report/report.html", "eval-report.png")
    assert len(shown.images) == 15 + 8 and all(i["complete"] and i["width"] > 0 for i in shown.images), (
        shown.images
    )
    assert [p["tag"] for p in shown.players] == ["audio", "video"] * 3
    assert all(p["error"] is None and p["duration"] > 0 for p in shown.players), shown.players
    assert shown.errors == []
    assert "nan" not in shown.text.lower().split() and "Sample outputs" in shown.text
    assert "Where does the bar move?" in shown.text
    assert shown.screenshot.stat().st_size > 10_000


@pytest.mark.slow
def test_shipped_config_reports_image_metrics_offline(run_dir):
    """The tiny config's image_generation task loads the fixture's encoders by path: FID 1600 and IS 2 by
    hand (see omnialign.eval.fixtures); weak generated no image, so its metrics are null."""
    results = _results(run_dir)
    assert results["strong", "image_generation", "fid"]["value"] == pytest.approx(1600.0, rel=1e-4)
    assert results["strong", "image_generation", "inception_score"]["value"] == pytest.approx(2.0, rel=1e-5)
    assert results["strong", "image_generation", "clip_score"]["value"] > 0.0
    assert results["weak", "image_generation", "kid"]["value"] is None
