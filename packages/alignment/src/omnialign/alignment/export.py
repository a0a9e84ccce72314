"""Turn a training checkpoint into an HF-format folder (`save_pretrained`: model + processor).

A Lightning checkpoint file loads as it is. A DeepSpeed checkpoint is a folder with one shard per rank
(ZeRO-2 shards the optimiser, ZeRO-3 the weights too): Lightning's
`convert_zero_checkpoint_to_fp32_state_dict` gathers it into one fp32 file first, on CPU, so export needs no
GPU and no process group. The FSDP overlay saves `full` checkpoints, which are plain files.
"""

from __future__ import annotations

import importlib
import tempfile
from pathlib import Path

import torch
from lightning.pytorch import LightningModule

from omnialign.alignment.checkpoint_io import own_option_classes


def consolidated(checkpoint: Path, workdir: Path) -> Path:
    """`checkpoint` itself if it is a file, else its DeepSpeed shards gathered into `workdir`."""
    if checkpoint.is_file():
        return checkpoint
    from lightning.pytorch.utilities.deepspeed import convert_zero_checkpoint_to_fp32_state_dict

    target = workdir / "consolidated.ckpt"
    convert_zero_checkpoint_to_fp32_state_dict(checkpoint, target)
    return target


def module_class_of(checkpoint: Path) -> type[LightningModule]:
    """The module class the train app recorded in the checkpoint's hyperparameters (`_class_path`)."""
    with torch.serialization.safe_globals(own_option_classes(checkpoint)):
        state = torch.load(checkpoint, map_location="cpu", mmap=True, weights_only=True)
    class_path = state.get("hyper_parameters", {}).get("_class_path")
    if class_path is None:
        raise ValueError(f"{checkpoint} names no module class (not from apps/train.py): give module_class")
    return _import(class_path)


def _import(class_path: str) -> type[LightningModule]:
    module, _, name = class_path.rpartition(".")
    return getattr(importlib.import_module(module), name)


def export_checkpoint(checkpoint: str, output: str, module_class: str | None = None) -> Path:
    """Write the policy of a training checkpoint as an HF-format folder.

    Args:
        checkpoint: A Lightning `.ckpt` file, or a DeepSpeed checkpoint folder.
        output: Folder to write (`config.json`, weights, processor files).
        module_class: Class path of the LightningModule, for checkpoints not written by apps/train.py.
    """
    with tempfile.TemporaryDirectory() as workdir:
        source = consolidated(Path(checkpoint), Path(workdir))
        cls = module_class_of(source) if module_class is None else _import(module_class)
        with torch.serialization.safe_globals(own_option_classes(source)):
            model = cls.load_from_checkpoint(source, map_location="cpu")
    return model.export_pretrained(output)


def main(args: list[str] | None = None) -> Path:
    """`omnialign-export` / `apps/export.py --checkpoint <ckpt file or folder> --output <folder>`: named flags
    (as the docs show them), not positionals; prints where the export went."""
    from jsonargparse import auto_cli

    output = auto_cli(export_checkpoint, args=args, as_positional=False)
    print(f"HF-format export: {Path(output).resolve()}")
    return output
