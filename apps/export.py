"""Export a training checkpoint to an HF-format folder:
`uv run apps/export.py --checkpoint runs/x/checkpoints/last.ckpt --output runs/x/hf`.

Works for Lightning checkpoint files and DeepSpeed ZeRO-2/3 checkpoint folders (gathered on CPU). All logic
lives in `omnialign.alignment.export`; this file only starts the command line (installed: `omnialign-export`).
"""

from omnialign.alignment.export import main

if __name__ == "__main__":
    main()
