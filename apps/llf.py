"""Learning from language feedback: `uv run apps/llf.py --config configs/llf/tiny-text.yaml`.

Runs the configured stages in order (feedback data, feedback-model SFT, pair synthesis, training on the
pairs); `--stages=[synthesis]` runs one, and a rerun of synthesis resumes. `--print_config` shows the fully
resolved pipeline. All logic lives in `omnialign.pipelines.llf`.
"""

from omnialign.pipelines.llf.cli import main

if __name__ == "__main__":
    main()
