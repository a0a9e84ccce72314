"""The prompt-refinement pipeline end to end on tiny models, through the shipped configs and both apps:
best-of-N data (tiny:llama refiner, tiny text-to-video diffusion model at 16x16x4, SafeSora-style
preference and moderation judges) -> SFT of the refiner with apps/train.py -> apps/refine_prompt.py refine
with the export, scores before and after."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from omnialign.alignment.cli import main as train_main
from omnialign.data.datamodules.moderation import LABEL_NAMES
from omnialign.data.records import load_samples
from omnialign.models.backbone import BackboneOptions, load_processor
from omnialign.models.score import ScoreConfig, build_score_model
from omnialign.pipelines.prompt_refinement.before_after import RESULTS_FILE, SUMMARY_FILE
from omnialign.pipelines.prompt_refinement.best_of_n import PREFERENCE_FILE, SFT_FILE, SKIPPED_FILE
from omnialign.pipelines.prompt_refinement.cli import main as refine_main

REPO = Path(__file__).resolve().parents[2]
CONFIGS = REPO / "configs" / "prompt_refiner"
APP_CONFIGS = sorted((CONFIGS / "app").glob("*.yaml"))
PROMPTS, CANDIDATES = 4, 3


@pytest.mark.parametrize("config", APP_CONFIGS, ids=lambda p: p.name)
def test_app_config_parses_strictly(config, capsys):
    command = "best-of-n" if config.name.startswith("best_of_n") else "refine"
    with pytest.raises(SystemExit) as exit_info:
        refine_main([command, "--config", str(config), "--print_config"])
    assert exit_info.value.code in (None, 0), capsys.readouterr().err[-2000:]


def _judge_exports(root: Path) -> dict[str, Path]:
    """Untrained tiny Qwen2-VL score models with SafeSora's heads, saved like the score recipes export."""
    options = BackboneOptions(name="tiny:qwen2-vl")
    processor = load_processor(options)
    heads = {"preference": ["helpfulness", "harmlessness"], "moderation": list(LABEL_NAMES)}
    folders = {}
    for name, names in heads.items():
        folders[name] = root / name
        build_score_model(options, processor, ScoreConfig(names)).save_pretrained(folders[name])
        processor.save_pretrained(folders[name])
    return folders


def _limited(config: str, limit: int) -> dict:
    """The shipped config's prompt source, cut to its first `limit` prompts."""
    return {**yaml.safe_load((CONFIGS / "app" / config).read_text())["source"], "limit": limit}


def _overlay(path: Path, judges: dict[str, Path], **settings) -> Path:
    """The shipped config's judge with its model paths pointed at `judges`, plus `settings`."""
    judge = yaml.safe_load((CONFIGS / "app" / "best_of_n_tiny.yaml").read_text())["judge"]
    parts = judge["init_args"]["judges"]
    parts["helpfulness"]["init_args"]["path"] = str(judges["preference"])
    parts["harmlessness"]["init_args"]["path"] = str(judges["preference"])
    parts["not_flagged"]["init_args"]["path"] = str(judges["moderation"])
    path.write_text(yaml.safe_dump({"judge": judge, **settings}))
    return path


def _train_overlay(path: Path, run: Path, sft_file: Path) -> Path:
    settings = {
        "trainer": {
            "max_epochs": 1,
            "default_root_dir": str(run),
            "logger": False,
            "callbacks": [
                {
                    "class_path": "omnialign.alignment.callbacks.ExportPretrained",
                    "init_args": {"dirpath": str(run / "export")},
                }
            ],
        },
        "data": {"init_args": {"train_files": [str(sft_file)]}},
    }
    path.write_text(yaml.safe_dump(settings))
    return path


def _best_of_n(tmp_path: Path, judges: dict[str, Path]) -> Path:
    out = tmp_path / "best_of_n"
    overlay = _overlay(
        tmp_path / "best_of_n.yaml",
        judges,
        output_dir=str(out),
        source=_limited("best_of_n_tiny.yaml", PROMPTS),
        num_candidates=CANDIDATES,
    )
    refine_main(
        ["best-of-n", "--config", str(CONFIGS / "app" / "best_of_n_tiny.yaml"), "--config", str(overlay)]
    )
    return out


def _check_best_of_n(out: Path) -> None:
    pairs = load_samples(out / PREFERENCE_FILE, "preference").samples
    sft = load_samples(out / SFT_FILE, "sft").samples
    skipped = (out / SKIPPED_FILE).read_text().splitlines()
    assert len(pairs) == len(sft) and len(pairs) + len(skipped) == PROMPTS and pairs
    for pair in pairs:
        provenance = pair.meta["provenance"]
        scores = provenance["scores"]
        parts = np.array([scores[name] for name in ("helpfulness", "harmlessness", "not_flagged")])
        np.testing.assert_allclose(parts.sum(0), scores["score"], rtol=1e-5)
        assert all(0.0 < p < 1.0 for p in scores["not_flagged"])  # a probability
        assert len(provenance["videos"]) == CANDIDATES and provenance["diffusion"] == "tiny:text-to-video"
        assert all((out / video).is_file() for video in provenance["videos"])


@pytest.mark.slow
def test_best_of_n_then_sft_then_refine_end_to_end(tmp_path):
    judges = _judge_exports(tmp_path / "judges")
    out = _best_of_n(tmp_path, judges)
    _check_best_of_n(out)

    run = tmp_path / "sft"
    overlay = _train_overlay(tmp_path / "sft.yaml", run, out / SFT_FILE)
    train_main(["fit", "--config", str(CONFIGS / "sft_tiny.yaml"), "--config", str(overlay)])
    assert (run / "export" / "model.safetensors").is_file()

    refined = tmp_path / "refine"
    settings = {
        "output_dir": str(refined),
        "refiner": str(run / "export"),
        "source": _limited("refine_tiny.yaml", 2),
    }
    overlay = _overlay(tmp_path / "refine.yaml", judges, **settings)
    command = [sys.executable, str(REPO / "apps" / "refine_prompt.py"), "refine"]
    command += ["--config", str(CONFIGS / "app" / "refine_tiny.yaml"), "--config", str(overlay)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr[-3000:]

    rows = [json.loads(line) for line in (refined / RESULTS_FILE).read_text().splitlines()]
    assert [row["id"] for row in rows] == ["p000", "p001"]  # the first held-out SafeSora prompts
    for row in rows:
        assert (refined / row["video_before"]).is_file() and (refined / row["video_after"]).is_file()
        assert (
            set(row["scores_before"])
            == set(row["scores_after"])
            == {
                "score",
                "helpfulness",
                "harmlessness",
                "not_flagged",
            }
        )
    summary = json.loads((refined / SUMMARY_FILE).read_text())
    assert summary["prompts"] == 2
    assert summary["mean_before"] == pytest.approx(np.mean([r["scores_before"]["score"] for r in rows]))
    assert summary["mean_after"] == pytest.approx(np.mean([r["scores_after"]["score"] for r in rows]))
