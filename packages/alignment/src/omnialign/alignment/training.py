"""Training as a Python call: `fit(configs, overrides)` runs exactly what `apps/train.py fit --config ...`
runs, for pipelines and scripts that chain a training after other stages.

The recipe files and the overrides are both handed to jsonargparse as *config sources* (the overrides as one
more config layer on top of the files, in the same nested shape a YAML recipe has), so they go through the
same strict validation as the app's command line: an unknown key is an error, a `class_path` set by a recipe
keeps its `init_args` merged. Nothing here reads or rewrites the process command line, and no value is put
into a command-line string.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from omnialign.alignment.cli import OmniAlignCLI


def nest(overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Dotted keys (`trainer.max_epochs`) as the nested mapping a YAML recipe would hold.

    Why: callers name one setting at a time, as they would on the command line, while a config layer is a
    tree; two keys that disagree about whether a node is a value or a tree are a caller error.
    """
    tree: dict[str, Any] = {}
    for dotted, value in overrides.items():
        *parents, leaf = dotted.split(".")
        node = tree
        for part in parents:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ValueError(f"override {dotted!r}: {part!r} is already set to a value, not a section")
            node = child
        if isinstance(node.get(leaf), dict):
            raise ValueError(f"override {dotted!r} replaces the section set by other overrides")
        node[leaf] = _plain(value)
    return tree


def _plain(value: Any) -> Any:
    """Paths as strings, so the layer serialises the way a YAML recipe reads."""
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    return value


def fit(
    configs: Sequence[str | Path],
    overrides: Mapping[str, Any] | None = None,
    ckpt_path: str | None = None,
) -> OmniAlignCLI:
    """Train one recipe in this process and return the finished CLI (`.trainer`, `.model`, `.datamodule`).

    Args:
        configs: Recipe files, applied in order (a recipe, then overlays), as `--config` would apply them.
        overrides: Settings on top of the recipes, by dotted key (`{"trainer.max_epochs": 1,
            "data.init_args.train_files": [path]}`) or nested; validated like the recipe itself.
        ckpt_path: Resume from this checkpoint (`"last"` finds the run folder's last checkpoint).
    """
    layer = nest(overrides or {})
    if ckpt_path is not None:
        layer["ckpt_path"] = ckpt_path
    args: list[str] = ["fit"]
    for config in configs:
        args += ["--config", str(config)]
    if layer:
        args += ["--config", json.dumps(layer)]
    with warnings.catch_warnings():
        # LightningCLI warns when a process's own command line (a pipeline app's) is not empty; `args` is
        # the whole input here, by design, and that command line is never read.
        warnings.filterwarnings("ignore", message="LightningCLI's args parameter")
        return OmniAlignCLI(args=args)
