"""SafeSora prompt augmentation: best-of-N refinement data for the prompt refiner, and prompt → refined prompt
→ video with judged scores before and after.

    uv run apps/refine_prompt.py best-of-n --config configs/prompt_refiner/app/best_of_n_tiny.yaml
    uv run apps/train.py fit --config configs/prompt_refiner/sft_tiny.yaml      # or dpo_tiny.yaml
    uv run apps/refine_prompt.py refine --config configs/prompt_refiner/app/refine_tiny.yaml

`--print_config` shows the resolved config. All logic lives in `omnialign.pipelines.prompt_refinement`; this
file only starts it.
"""

from omnialign.pipelines.prompt_refinement.cli import main

if __name__ == "__main__":
    print(f"outputs: {main()}")
