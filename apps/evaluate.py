"""Evaluate models on eval-anything tasks: `uv run apps/evaluate.py tasks --config configs/eval/tiny.yaml`;
score-model benchmarks: `uv run apps/evaluate.py scores --config configs/eval/reward.yaml`; several processes:
`uv run torchrun --standalone --nproc-per-node 2 apps/evaluate.py tasks --config configs/eval/tiny.yaml`.

Writes results.json, samples.jsonl and report/report.html under `output_dir` and prints where they are.
`--print_config` shows the resolved config. All logic lives in `omnialign.eval.cli`; this file only starts it.
"""

from omnialign.eval.cli import main

if __name__ == "__main__":
    main()
