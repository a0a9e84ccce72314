"""The strategy overlays under configs/strategies/ (DeepSpeed engine configs: configs/deepspeed/) compose
with every objective's tiny recipe, strictly, and their DeepSpeed configs agree with the trainer.

Lightning derives `train_micro_batch_size_per_gpu` from the data loader and `gradient_accumulation_steps`
from `accumulate_grad_batches` (and refuses the latter in the config), so a preset must leave both to it;
the config Lightning then hands the engine passes DeepSpeed's own validation (known keys, batch arithmetic)
when DeepSpeed is installed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from omnialign.alignment.cli import main

REPO = Path(__file__).resolve().parents[2]
CONFIGS = REPO / "configs"
PRESETS = sorted((CONFIGS / "strategies").glob("*.yaml"))
# One tiny recipe per objective family that has one; a recipe that is not there yet is not checked.
BASES = [CONFIGS / name for name in ("quickstart.yaml", "dpo/tiny-text.yaml", "score/reward_text_tiny.yaml")]
BASES = [base for base in BASES if base.exists()]


def resolved(capsys, *configs: Path, flags: tuple[str, ...] = ()) -> dict:
    args = ["fit"]
    for config in configs:
        args += ["--config", str(config)]
    with pytest.raises(SystemExit) as exit_info:
        main([*args, *flags, "--print_config"])
    assert exit_info.value.code in (None, 0), capsys.readouterr().err[-2000:]
    printed = capsys.readouterr().out
    # Resolving DeepSpeedStrategy's annotations imports deepspeed, whose logger prints a line to stdout.
    return yaml.safe_load(printed[printed.index("# lightning.pytorch==") :])


def engine_config(config: dict) -> dict:
    """The DeepSpeed config Lightning builds from a resolved run config (its `_format_config` rules)."""
    ds = json.loads((REPO / config["trainer"]["strategy"]["init_args"]["config"]).read_text())
    assert "gradient_accumulation_steps" not in ds, "Lightning refuses it (accumulate_grad_batches sets it)"
    batch_size = config["data"]["init_args"]["batch_size"]
    assert ds.setdefault("train_micro_batch_size_per_gpu", batch_size) == batch_size
    ds["gradient_accumulation_steps"] = config["trainer"]["accumulate_grad_batches"] or 1
    return ds


def test_there_are_presets_for_every_strategy():
    names = {p.stem for p in PRESETS}
    assert {"ddp", "fsdp", "deepspeed_zero2", "deepspeed_zero3"} <= names
    assert {"deepspeed_zero2_offload", "deepspeed_zero3_offload"} <= names


@pytest.mark.parametrize("base", BASES, ids=lambda p: str(p.relative_to(CONFIGS)))
@pytest.mark.parametrize("preset", PRESETS, ids=lambda p: p.stem)
def test_preset_composes_with_recipe(capsys, preset, base):
    config = resolved(capsys, base, preset)
    strategy = config["trainer"]["strategy"]
    assert strategy["class_path"] == yaml.safe_load(preset.read_text())["trainer"]["strategy"]["class_path"]
    assert config["model"] == resolved(capsys, base)["model"], "a strategy overlay must not change the model"
    if "DeepSpeed" in strategy["class_path"]:
        engine_config(config)


DEEPSPEED_PRESETS = [p for p in PRESETS if p.stem.startswith("deepspeed")]


@pytest.mark.parametrize("preset", DEEPSPEED_PRESETS, ids=lambda p: p.stem)
def test_deepspeed_accepts_the_engine_config(capsys, preset):
    pytest.importorskip("deepspeed", reason="deepspeed not installed (uv sync installs its default group)")
    from deepspeed.runtime.config import DeepSpeedConfig

    accumulate = ("--trainer.accumulate_grad_batches=4",)
    config = resolved(capsys, CONFIGS / "quickstart.yaml", preset, flags=accumulate)
    checked = DeepSpeedConfig(engine_config(config))
    batch_size = config["data"]["init_args"]["batch_size"]
    assert checked.train_micro_batch_size_per_gpu == batch_size
    assert checked.gradient_accumulation_steps == 4
    assert checked.train_batch_size == batch_size * 4  # one process here; DeepSpeed multiplies by the world
    stage = int(preset.stem.split("zero")[1][0])
    assert checked.zero_optimization_stage == stage
    assert checked.zero_config.offload_optimizer is not None or "offload" not in preset.stem
