"""Train any OmniAlign objective: `uv run apps/train.py fit --config configs/quickstart.yaml`.

Subcommands: fit, validate, test, predict. `--print_config` shows the fully resolved config. All logic lives
in the packages; this file only starts the CLI.
"""

from omnialign.alignment.cli import main

if __name__ == "__main__":
    main()
