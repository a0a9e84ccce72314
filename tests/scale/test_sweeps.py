"""Every W&B sweep under configs/sweeps/ drives apps/train.py with flags the app accepts: each parameter,
set to each of its listed values (or its range's ends), parses strictly on top of the sweep's recipe and
lands at that key of the resolved config. Parse only: no wandb, no network."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from omnialign.alignment.cli import main

REPO = Path(__file__).resolve().parents[2]
SWEEPS = sorted((REPO / "configs" / "sweeps").glob("*.yaml"))


def _values(spec: dict) -> list:
    if "values" in spec:
        return spec["values"]
    if "value" in spec:
        return [spec["value"]]
    return [spec["min"], spec["max"]]


def _lookup(config: dict, dotted: str):
    for key in dotted.split("."):
        config = config[key]
    return config


def test_there_are_sweeps():
    assert SWEEPS


@pytest.mark.parametrize("sweep_file", SWEEPS, ids=lambda p: p.stem)
def test_sweep_parameters_are_flags_of_the_train_app(sweep_file, capsys, monkeypatch):
    sweep = yaml.safe_load(sweep_file.read_text())
    assert sweep["program"] == "apps/train.py"
    command = sweep["command"]
    assert "${program}" in command and command[-1] == "${args}"
    app_args = command[command.index("${program}") + 1 : -1]  # e.g. fit --config <recipe>
    monkeypatch.chdir(REPO)
    for name, spec in sweep["parameters"].items():
        for value in _values(spec):
            with pytest.raises(SystemExit) as exit_info:
                main([*app_args, f"--{name}={value}", "--print_config"])  # wandb's ${args} form
            assert exit_info.value.code in (None, 0), f"--{name}={value}: {capsys.readouterr().err[-1500:]}"
            printed = capsys.readouterr().out
            resolved = yaml.safe_load(printed[printed.index("# lightning.pytorch==") :])
            assert _lookup(resolved, name) == value
