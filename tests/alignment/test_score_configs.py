"""The tiny score recipes run end to end through the train app from the committed fixtures, and their
export loads back as a score model."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from omnialign.models.score import ScoreModel


@pytest.mark.slow
@pytest.mark.parametrize("config", ["reward_text_tiny", "moderation_prompt_tiny"])
def test_tiny_score_recipe_runs_and_exports(repo_root, tmp_path, config):
    result = subprocess.run(
        [
            sys.executable,
            str(repo_root / "apps" / "train.py"),
            "fit",
            "--config",
            f"configs/score/{config}.yaml",
            "--trainer.max_epochs=1",
            "--trainer.limit_train_batches=2",
            "--trainer.limit_val_batches=1",
            f"--trainer.default_root_dir={tmp_path}",
            f"--trainer.logger.init_args.save_dir={tmp_path}",
        ],
        cwd=repo_root,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "WANDB_MODE": "offline", "WANDB_SILENT": "true"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    exports = list(tmp_path.rglob("export/score_config.json"))
    assert len(exports) == 1, (result.stdout + result.stderr)[-2000:]
    assert ScoreModel.from_pretrained(exports[0].parent).config.heads
