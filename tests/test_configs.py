"""Every shipped YAML under configs/ (recursively) parses against the train app, strictly: a stale key in a
recipe fails here instead of in a user's run. Parsing resolves every class path and init argument but
instantiates nothing, so GPU recipes naming real hub ids are checked offline too."""

from __future__ import annotations

from pathlib import Path

import pytest

from omnialign.alignment.cli import main

CONFIG_ROOT = Path(__file__).resolve().parents[1] / "configs"
TRAIN_CONFIGS = sorted(
    p for p in CONFIG_ROOT.rglob("*.yaml") if "sweeps" not in p.relative_to(CONFIG_ROOT).parts
)


def test_there_are_configs():
    assert CONFIG_ROOT / "quickstart.yaml" in TRAIN_CONFIGS


@pytest.mark.parametrize("config", TRAIN_CONFIGS, ids=lambda p: str(p.relative_to(CONFIG_ROOT)))
def test_config_parses_strictly(config, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["fit", "--config", str(config), "--print_config"])
    assert exit_info.value.code in (None, 0), capsys.readouterr().err[-2000:]
    printed = capsys.readouterr().out
    assert "class_path" in printed
