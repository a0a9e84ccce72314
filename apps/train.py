"""Train any OmniAlign objective: `uv run apps/train.py fit --config configs/quickstart.yaml`.

Subcommands: fit, validate. `--print_config` shows the resolved config, `fit --help` lists the objectives.
All logic lives in the packages; this file only starts the CLI (installed: `omnialign-train`).
"""

from omnialign.alignment.cli import main

if __name__ == "__main__":
    main()
