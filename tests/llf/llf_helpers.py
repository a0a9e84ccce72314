"""Shared by the LLF tests: shipped pipeline configs cut down to a few rows and one quiet epoch."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
QUIET = {"trainer.max_epochs": 1, "trainer.enable_progress_bar": False, "trainer.logger": False}


def shipped_config_cut(path: Path, workdir: Path, *extra: str) -> list[str]:
    """A shipped pipeline config on a few rows, one epoch per training, absolute paths."""
    config = yaml.safe_load(path.read_text())
    args = ["--config", str(path), f"--workdir={workdir}", "--feedback_data.train.limit=4"]
    args += ["--synthesis.prompts.limit=4", "--synthesis.generation.max_new_tokens=8"]
    args += ["--synthesis.feedback_generation.max_new_tokens=8"]
    args += [f"--feedback_data.train.files=[{REPO / config['feedback_data']['train']['files'][0]}]"]
    args += [f"--synthesis.prompts.files=[{REPO / config['synthesis']['prompts']['files'][0]}]"]
    for key in ["feedback_sft", *(f"training.{name}" for name in config["training"])]:
        stage = config
        for part in key.split("."):
            stage = stage[part]
        args += [f"--{key}.config=[{', '.join(str(REPO / c) for c in stage['config'])}]"]
        args += [f"--{key}.overrides={json.dumps({**stage.get('overrides', {}), **QUIET})}"]
    return args + list(extra)
