"""Every shipped YAML under configs/ (recursively) parses against the train app, strictly: a stale key in a
recipe fails here instead of in a user's run. Parsing resolves every class path and init argument but
instantiates nothing, so GPU recipes naming real hub ids are checked offline too."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from omnialign.alignment.cli import main

CONFIG_ROOT = Path(__file__).resolve().parents[1] / "configs"
# Overlays change a few keys of a full recipe (`--config BASE --config OVERLAY`); each folder of overlays is
# checked composed with one base recipe.
OVERLAY_BASES = {"dpo/loss": "dpo/tiny-text.yaml"}
# sweeps are W&B files; tests/scale/test_strategy_presets.py checks strategy overlays on each objective;
# eval configs belong to apps/evaluate.py (tests/eval/test_runner.py)
NOT_TRAIN_CONFIGS = {"sweeps", "strategies", "eval"}
# pipeline configs of other apps, in the folder itself (subfolders hold their train-app stage configs):
# apps/llf.py (tests/llf/test_llf_pipeline.py), apps/generate.py (tests/any_to_any/test_generate_app.py),
# apps/refine_prompt.py (tests/prompt_refiner/test_prompt_refiner_app.py), apps/evaluate.py
# (tests/eval/test_lookup_eval.py)
PIPELINE_DIRS = {"llf", "smollm2/llf", "any_to_any/generate", "prompt_refiner/app", "smollm2/eval"}


def _is_train_config(path: Path) -> bool:
    relative = path.relative_to(CONFIG_ROOT)
    return relative.parts[0] not in NOT_TRAIN_CONFIGS and str(relative.parent) not in PIPELINE_DIRS


def _is_overlay(path: Path) -> bool:
    return str(path.parent.relative_to(CONFIG_ROOT)) in OVERLAY_BASES


ALL_YAML = sorted(CONFIG_ROOT.rglob("*.yaml"))
TRAIN_CONFIGS = [p for p in ALL_YAML if _is_train_config(p) and not _is_overlay(p)]
OVERLAYS = [p for p in ALL_YAML if _is_overlay(p)]


def test_there_are_configs():
    assert CONFIG_ROOT / "quickstart.yaml" in TRAIN_CONFIGS


def _parses(configs: list[Path], capsys) -> str:
    args = ["fit"]
    for config in configs:
        args += ["--config", str(config)]
    with pytest.raises(SystemExit) as exit_info:
        main([*args, "--print_config"])
    assert exit_info.value.code in (None, 0), capsys.readouterr().err[-2000:]
    return capsys.readouterr().out


@pytest.mark.parametrize("config", TRAIN_CONFIGS, ids=lambda p: str(p.relative_to(CONFIG_ROOT)))
def test_config_parses_strictly(config, capsys):
    assert "class_path" in _parses([config], capsys)


@pytest.mark.parametrize("overlay", OVERLAYS, ids=lambda p: str(p.relative_to(CONFIG_ROOT)))
def test_overlay_parses_on_its_base(overlay, capsys):
    base = CONFIG_ROOT / OVERLAY_BASES[str(overlay.parent.relative_to(CONFIG_ROOT))]
    printed = _parses([base, overlay], capsys)

    expected = yaml.safe_load(overlay.read_text())["model"]["init_args"]
    resolved = yaml.safe_load(printed)["model"]["init_args"]
    assert {key: resolved[key] for key in expected} == expected
