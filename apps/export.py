"""Export a training checkpoint to an HF-format folder:
`uv run apps/export.py --checkpoint runs/x/checkpoints/last.ckpt --output runs/x/hf`.

Works for Lightning checkpoint files and DeepSpeed ZeRO-2/3 checkpoint folders (gathered on CPU). All logic
lives in `omnialign.alignment.export`; this file only starts the command line.
"""

from jsonargparse import CLI

from omnialign.alignment.export import export_checkpoint

if __name__ == "__main__":
    print(f"HF-format export: {CLI(export_checkpoint)}")
